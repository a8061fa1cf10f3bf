/* stats: the shuttle-backend daemon's own figures and its /metrics. */
#include "stats.h"

#include <string.h>

#include "ackq.h"
#include "db.h"
#include "fleet.h"
#include "ingest.h"
#include "mqtt.h"
#include "writer.h"

int stats_init(struct stats *s)
{
    static const double secs[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25,  0.5,    1,     2.5,  5,     10};
    static const double recs[] = {1,    10,   50,    100,   500,
                                  1000, 5000, 10000, 50000, 100000};
    static const double stalls[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                    0.05,   0.1,   0.25,  0.5,   1,    5};

    memset(s, 0, sizeof *s);
    if (metrics_hist_init(&s->stall_seconds, stalls,
                          sizeof stalls / sizeof *stalls) != METRICS_OK ||
        metrics_hist_init(&s->commit_seconds, secs,
                          sizeof secs / sizeof *secs) != METRICS_OK ||
        metrics_hist_init(&s->commit_records, recs,
                          sizeof recs / sizeof *recs) != METRICS_OK)
        return -1;
    return 0;
}

void stats_stall(struct stats *s, int64_t busy_us, int64_t commit_us)
{
    double sec = (double)busy_us / 1e6;
    double other = (double)(busy_us - commit_us) / 1e6;

    metrics_hist_observe(&s->stall_seconds, sec);
    if (sec > s->stall_max_s)
        s->stall_max_s = sec;
    if (other > s->stall_other_max_s)
        s->stall_other_max_s = other;
}

/* Per vehicle: when last heard from, and the last seq acknowledged. */
static void stats__vehicles(const struct fleet *f, struct metrics_buf *m)
{
    struct metrics_label l[2] = {{"vehicle", NULL}, {NULL, NULL}};
    size_t i, n = fleet_count(f);

    for (i = 0; i < n; i++) {
        const struct fleet_vehicle *v = fleet_at(f, i);

        l[0].value = v->vid;
        metrics_gauge(m, "shuttle_backend_vehicle_last_seen_seconds",
                      "Unix time of the vehicle's last accepted batch", l,
                      (double)v->seen_ms / 1000.0);
    }
    for (i = 0; i < n; i++) {
        const struct fleet_vehicle *v = fleet_at(f, i);

        if (!v->acked)
            continue;
        l[0].value = v->vid;
        metrics_gauge(m, "shuttle_backend_vehicle_acked_seq",
                      "last seq acknowledged to the vehicle", l,
                      (double)v->acked_seq);
    }
}

void stats_render(struct stats *s, const struct stats_sources *src,
                  struct metrics_buf *m)
{
    const struct ingest_stats *st = src->ingest;
    struct metrics_label l[2] = {{"version", SHUTTLE_VERSION}, {NULL, NULL}};

    metrics_gauge(m, "shuttle_backend_build_info",
                  "the running version, as a label", l, 1);
    metrics_counter(m, "shuttle_backend_messages_total",
                    "MQTT messages received", NULL, st->messages);
    metrics_counter(m, "shuttle_backend_records_received_total",
                    "telemetry records accepted and staged", NULL, st->records);
    metrics_counter(m, "shuttle_backend_statuses_total",
                    "status reports accepted", NULL, st->statuses);
    l[0].name = "reason";
    for (int r = 0; r < INGEST_R_COUNT; r++) {
        l[0].value = ingest_reason_name(r);
        metrics_counter(m, "shuttle_backend_rejected_total",
                        "messages refused: dead letters, and overload "
                        "(dropped for the bus to re-send)",
                        l, st->rejected[r]);
    }
    metrics_counter(m, "shuttle_backend_records_refused_total",
                    "records refused alone (dead letters, seqs settled)", NULL,
                    st->dead_records);
    metrics_counter(m, "shuttle_backend_commit_narrowed_total",
                    "rows, statuses and dead letters a commit refused for "
                    "their content and set aside",
                    NULL, writer_narrowed(src->writer));
    metrics_counter(m, "shuttle_backend_records_committed_total",
                    "new rows committed (re-sent duplicates not counted)", NULL,
                    s->committed);
    metrics_counter(m, "shuttle_backend_commits_total",
                    "transactions committed", NULL,
                    writer_commits(src->writer));
    metrics_counter(m, "shuttle_backend_commit_failures_total",
                    "commits that failed (staged rows kept for a retry)", NULL,
                    s->commit_failures);
    metrics_histogram(m, "shuttle_backend_commit_records",
                      "records staged per successful commit", NULL,
                      &s->commit_records);
    metrics_histogram(m, "shuttle_backend_commit_duration_seconds",
                      "time a successful commit took from its first "
                      "statement to its acks (the loop runs meanwhile)",
                      NULL, &s->commit_seconds);
    metrics_gauge(m, "shuttle_backend_commit_in_flight",
                  "1 while a commit is under way (a new batch fills beside "
                  "it)",
                  NULL, writer_busy(src->writer) ? 1 : 0);
    metrics_gauge(m, "shuttle_backend_loop_stall_seconds_max",
                  "longest busy stretch of the ingest loop (poll return to "
                  "next poll) since the last scrape",
                  NULL, s->stall_max_s);
    s->stall_max_s = 0;
    metrics_gauge(m, "shuttle_backend_loop_stall_other_seconds_max",
                  "the same, less the time spent in the commit's steps", NULL,
                  s->stall_other_max_s);
    s->stall_other_max_s = 0;
    metrics_histogram(m, "shuttle_backend_loop_stall_seconds",
                      "busy time of each ingest loop iteration", NULL,
                      &s->stall_seconds);
    metrics_gauge(m, "shuttle_backend_staged_records",
                  "records staged and not yet committed (the batch filling "
                  "and the one in flight)",
                  NULL, (double)writer_staged_records(src->writer));
    metrics_gauge(m, "shuttle_backend_acks_waiting",
                  "acks committed and not yet handed to the broker (at most "
                  "one per vehicle)",
                  NULL, (double)ackq_len(src->ackq));
    metrics_counter(m, "shuttle_backend_acks_replaced_total",
                    "waiting acks replaced by the vehicle's newer watermark",
                    NULL, ackq_replaced(src->ackq));
    metrics_gauge(m, "shuttle_backend_database_connected",
                  "1 while connected to PostgreSQL", NULL,
                  db_connected(src->db) ? 1 : 0);
    metrics_gauge(m, "shuttle_backend_mqtt_connected",
                  "1 while connected to the MQTT broker", NULL,
                  mqtt_connected(src->mqtt) ? 1 : 0);
    metrics_gauge(m, "shuttle_backend_vehicles",
                  "vehicles heard from since start", NULL,
                  (double)fleet_count(src->fleet));
    metrics_counter(m, "shuttle_backend_vehicles_untracked_total",
                    "new vehicles not tracked: the table was full", NULL,
                    fleet_refused(src->fleet));
    stats__vehicles(src->fleet, m);
}
