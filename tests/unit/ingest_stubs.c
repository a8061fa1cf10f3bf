/* ingest_stubs: link-time stand-ins for the writer_stage_* functions ingest.c
 * calls, recording what was staged (for test_ingest). */
#include "ingest_stubs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

struct ingest_stubs ingest_stubs;

void ingest_stubs_reset(void)
{
    memset(&ingest_stubs, 0, sizeof ingest_stubs);
    ingest_stubs.batch_rc = DB_OK;
    ingest_stubs.dead_rc = DB_OK;
}

int writer_stage_batch(struct writer *d, const struct wire_batch *b)
{
    struct stub_batch *sb;

    (void)d;
    if (ingest_stubs.batch_rc != DB_OK)
        return ingest_stubs.batch_rc;
    assert_true(ingest_stubs.nbatch < STUB_BATCH_MAX);
    assert_true(b->n <= STUB_RECORD_MAX);
    sb = &ingest_stubs.batch[ingest_stubs.nbatch++];
    snprintf(sb->vehicle_id, sizeof sb->vehicle_id, "%s", b->vehicle_id);
    sb->oldest_held_seq = b->oldest_held_seq;
    sb->n = b->n;
    if (b->n > 0)
        memcpy(sb->records, b->records, b->n * sizeof *b->records);
    return DB_OK;
}

static int stub__dead(bool is_record, const char *topic, const char *vid,
                      uint64_t seq, const char *reason, size_t len)
{
    struct stub_dead *x;

    if (ingest_stubs.dead_rc != DB_OK)
        return ingest_stubs.dead_rc;
    assert_true(ingest_stubs.ndead < STUB_DEAD_MAX);
    x = &ingest_stubs.dead[ingest_stubs.ndead++];
    x->is_record = is_record;
    snprintf(x->topic, sizeof x->topic, "%s", topic);
    x->has_vid = vid != NULL;
    snprintf(x->vid, sizeof x->vid, "%s", vid ? vid : "");
    x->seq = seq;
    snprintf(x->reason, sizeof x->reason, "%s", reason);
    x->len = len;
    return DB_OK;
}

int writer_stage_dead(struct writer *d, const char *topic, const char *vid,
                      const char *reason, const void *payload, size_t len)
{
    (void)d;
    (void)payload;
    return stub__dead(false, topic, vid, 0, reason, len);
}

int writer_stage_dead_record(struct writer *d, const char *topic,
                             const char *vid, uint64_t seq, const char *reason,
                             const void *payload, size_t len)
{
    (void)d;
    (void)payload;
    return stub__dead(true, topic, vid, seq, reason, len);
}

int writer_stage_status(struct writer *d, const struct wire_status *s)
{
    (void)d;
    assert_true(ingest_stubs.nstatus < STUB_STATUS_MAX);
    ingest_stubs.status[ingest_stubs.nstatus++] = *s;
    return DB_OK;
}
