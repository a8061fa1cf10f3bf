/* ingest_stubs: link-time stand-ins for the writer_stage_* functions ingest.c
 * calls, recording what was staged (for test_ingest). */
#ifndef SHUTTLE_INGEST_STUBS_H
#define SHUTTLE_INGEST_STUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "writer.h"
#include "wire.h"

#define STUB_BATCH_MAX 16
#define STUB_RECORD_MAX 64
#define STUB_DEAD_MAX 64
#define STUB_STATUS_MAX 16

/* One writer_stage_batch call: the batch as handed over, records copied. */
struct stub_batch {
    char vehicle_id[WIRE_VID_MAX + 1];
    uint64_t oldest_held_seq;
    size_t n;
    struct wire_record records[STUB_RECORD_MAX];
};

/* One writer_stage_dead (seq 0, is_record false) or writer_stage_dead_record
 * call. */
struct stub_dead {
    bool is_record;
    char topic[128];
    bool has_vid; /* vid was not NULL */
    char vid[WIRE_VID_MAX + 1];
    uint64_t seq;
    char reason[320];
    size_t len;
};

struct ingest_stubs {
    int batch_rc; /* what writer_stage_batch answers: DB_OK or DB_ERR_FULL */
    int dead_rc;  /* what the writer_stage_dead* functions answer */
    size_t nbatch, ndead, nstatus;
    struct stub_batch batch[STUB_BATCH_MAX];
    struct stub_dead dead[STUB_DEAD_MAX];
    struct wire_status status[STUB_STATUS_MAX];
};

/* What the stubs saw since the last ingest_stubs_reset. */
extern struct ingest_stubs ingest_stubs;

/* Forget everything staged; every stub answers DB_OK again. */
void ingest_stubs_reset(void);

#endif
