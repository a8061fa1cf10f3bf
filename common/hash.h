/* hash: FNV-1a, 64 bits, for both daemons (config hashes, cache slots). */
#ifndef SHUTTLE_HASH_H
#define SHUTTLE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The FNV-1a offset basis: the value to start a hash with. */
#define HASH_FNV1A_INIT 0xcbf29ce484222325ULL

/* Continue the FNV-1a hash h over len bytes at p; returns the new hash.
 * Start with HASH_FNV1A_INIT; feeding a buffer in pieces gives the same
 * hash as feeding it whole. */
uint64_t hash_fnv1a(uint64_t h, const void *p, size_t len);

/* The FNV-1a hash of the NUL-terminated string s (its bytes, not the
 * NUL). */
uint64_t hash_fnv1a_str(const char *s);

#endif
