/* fuzz_apc: bytes from the passenger counter's serial line through the
 * line parser and the stream reader that cuts them into lines. */
#include <stdint.h>
#include <stdlib.h>

#include "apc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_apc__check(const struct apc_msg *m)
{
    /* What the parser accepts is in the ranges its header promises. */
    if (m->seq > APC_SEQ_MAX || m->door > APC_DOOR_MAX ||
        m->in > APC_COUNT_MAX || m->out > APC_COUNT_MAX ||
        m->code > APC_CODE_MAX || m->counter_id[APC_ID_MAX] != '\0' ||
        m->text[APC_TEXT_MAX] != '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct apc_msg m;
    struct apc_reader *r;
    size_t pos = 0, used;
    int rc;

    rc = apc_parse_line((const char *)data, size, &m);
    if (rc == APC_OK)
        fuzz_apc__check(&m);
    (void)apc_strerror(rc);

    /* The same bytes as a stream, fed in chunks whose size the first byte
     * picks, so that lines split across reads are tried too. */
    if (size < 1 || (r = apc_reader_new(1 + data[0] % APC_DOOR_MAX)) == NULL)
        return 0;
    while (pos < size) {
        size_t chunk = 1 + data[pos] % 37;

        if (chunk > size - pos)
            chunk = size - pos;
        for (size_t off = 0;;) {
            rc = apc_reader_next(r, data + pos + off, chunk - off, &used, &m);
            if (used > chunk - off)
                abort();
            off += used;
            if (rc == 1)
                fuzz_apc__check(&m);
            if (rc == 0)
                break;
        }
        pos += chunk;
    }
    (void)apc_stats_rejected(apc_reader_stats(r));
    apc_reader_free(r);
    return 0;
}
