/* hash: FNV-1a, 64 bits, for both daemons (config hashes, cache slots). */
#include "hash.h"

#include <string.h>

#define HASH_FNV1A_PRIME 0x100000001b3ULL

uint64_t hash_fnv1a(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * HASH_FNV1A_PRIME;
    return h;
}

uint64_t hash_fnv1a_str(const char *s)
{
    return hash_fnv1a(HASH_FNV1A_INIT, s, strlen(s));
}
