/* fuzz_gtfsrt: untrusted bytes through the GTFS-Realtime checker and the
 * text printer (both decode a FeedMessage), against a small fixed day. */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "fuzz_world.h"
#include "live_gtfsrt_check.h"
#include "live_gtfsrt_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_world w;
    struct live_gtfsrt_check_ctx c;
    struct buf out = {0};
    char err[256];
    size_t half = size / 2;

    if (fuzz_world_init(&w) != 0)
        abort();
    c.feed = &w.feed;
    c.shapes = NULL;
    c.now_ms = w.view.now_ms;
    /* Alone, then against its own first half as the fetch before (E017,
     * E018 compare two feeds). */
    c.prev = NULL;
    c.prevlen = 0;
    (void)live_gtfsrt_check(&c, data, size, err, sizeof err);
    c.prev = data;
    c.prevlen = half;
    (void)live_gtfsrt_check(&c, data + half, size - half, err, sizeof err);
    if (live_gtfsrt_text(data, size, &out, err, sizeof err) == LIVE_GTFSRT_OK) {
        if (out.len > 0 && out.p == NULL)
            abort();
    } else if (out.len != 0) {
        abort(); /* on error OUT keeps what it had: nothing */
    }
    buf_free(&out);
    fuzz_world_free(&w);
    return 0;
}
