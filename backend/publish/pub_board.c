/* pub_board: the next buses at one stop from the view's predictions, and
 * from the timetable where a trip has none. Pure: no I/O, no allocation. */
#include "pub_board.h"

#include <string.h>

/* Rows ahead are kept sorted by (when_ms, trip, pos) so the board does not
 * depend on the feed's trip order when two buses are due together. */
static int pub_board__cmp(const struct pub_board_row *a,
                          const struct pub_board_row *b)
{
    if (a->when_ms != b->when_ms)
        return a->when_ms < b->when_ms ? -1 : 1;
    if (a->trip != b->trip)
        return a->trip < b->trip ? -1 : 1;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

/* Insert R into the sorted ROWS of at most CAP, dropping the latest. */
static void pub_board__keep(struct pub_board_row *rows, size_t *n, size_t cap,
                            const struct pub_board_row *r)
{
    size_t i = *n;

    if (cap == 0)
        return;
    if (*n == cap) {
        if (pub_board__cmp(r, &rows[cap - 1]) >= 0)
            return;
        i = cap - 1;
    } else {
        (*n)++;
    }
    while (i > 0 && pub_board__cmp(r, &rows[i - 1]) < 0) {
        rows[i] = rows[i - 1];
        i--;
    }
    rows[i] = *r;
}

/* Floored, never negative: a bus due in 59 s is "0 min", as displays do. */
static int pub_board__minutes(int64_t ms)
{
    if (ms <= 0)
        return 0;
    return (int)(ms / 60000);
}

static int pub_board__seats(const struct pub_view *v, int vehicle, int load)
{
    int seats = PUB_SEATS_DEFAULT;
    int free_;

    if (vehicle < 0 || load < 0)
        return -1;
    if (v->seats && (size_t)vehicle < v->nvehicles && v->seats[vehicle] > 0)
        seats = v->seats[vehicle];
    free_ = seats - load;
    if (free_ < 0)
        free_ = 0;
    return free_ / PUB_BOARD_SEAT_STEP * PUB_BOARD_SEAT_STEP;
}

/* The prediction of position POS, or NULL: predictions normally hold every
 * position in order, but a short one must not be read past its end. */
static const struct live_stop_pred *
pub_board__stop_pred(const struct live_trip_pred *tp, int pos)
{
    if (!tp->stops)
        return NULL;
    if ((size_t)pos < tp->nstops && tp->stops[pos].pos == pos)
        return &tp->stops[pos];
    for (size_t i = 0; i < tp->nstops; i++)
        if (tp->stops[i].pos == pos)
            return &tp->stops[i];
    return NULL;
}

static void pub_board__row_init(const struct pub_view *v, int t, int pos,
                                int stop, struct pub_board_row *r)
{
    memset(r, 0, sizeof *r);
    r->trip = t;
    r->pos = pos;
    r->stop = stop;
    r->route = -1;
    if (v->names && v->names->trip_route && (size_t)t < v->feed->ntrips)
        r->route = v->names->trip_route[t];
    r->vehicle = -1;
    r->lo_ms = r->hi_ms = -1;
    r->seats_free = -1;
}

static void pub_board__finish(const struct pub_view *v, struct pub_board_row *r)
{
    int64_t d = r->when_ms - r->sched_ms;

    r->delay_s = (int)(d >= 0 ? d / 1000 : -((-d) / 1000));
    if (r->status == PUB_BOARD_DEPARTED)
        r->minutes = pub_board__minutes(v->now_ms - r->when_ms);
    else
        r->minutes = pub_board__minutes(r->when_ms - v->now_ms);
}

enum pub_board_err pub_board_stop(const struct pub_view *v, int stop,
                                  struct pub_board *out)
{
    struct pub_board_row ahead[PUB_BOARD_ROWS_MAX];
    struct pub_board_row dep;
    size_t nahead = 0;
    bool have_dep = false;
    int64_t now;

    if (!out)
        return PUB_BOARD_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->stop = stop;
    if (!v || !v->feed || stop < 0 || (size_t)stop >= v->feed->nstops)
        return PUB_BOARD_ERR_INVALID;
    if (v->trips && v->ntrips != v->feed->ntrips)
        return PUB_BOARD_ERR_INVALID;
    now = v->now_ms;

    for (size_t t = 0; t < v->feed->ntrips; t++) {
        const struct trips_trip *tr = &v->feed->trips[t];
        const struct live_trip_pred *tp = v->trips ? v->trips[t] : NULL;

        if (tr->first + tr->n > v->feed->nst)
            return PUB_BOARD_ERR_INVALID;
        /* The last stop is where riders get off, not on. */
        for (size_t pos = 0; pos + 1 < tr->n; pos++) {
            const struct trips_stop_time *st = &v->feed->st[tr->first + pos];
            const struct live_stop_pred *sp =
                tp ? pub_board__stop_pred(tp, (int)pos) : NULL;
            struct pub_board_row r;

            if (st->stop != stop)
                continue;
            pub_board__row_init(v, (int)t, (int)pos, stop, &r);
            r.sched_ms = trips_sched_ms(v->feed, st->arr_s);
            /* A vehicle outside the view is no vehicle: its seats and id
             * would be read out of bounds. */
            if (tp && tp->vehicle >= 0 && (size_t)tp->vehicle < v->nvehicles)
                r.vehicle = tp->vehicle;

            if (!sp) {
                r.status = tp && tp->state == LIVE_TRIP_CANCELED
                               ? PUB_BOARD_CANCELED
                               : PUB_BOARD_SCHEDULED;
                r.when_ms = r.sched_ms;
                if (r.status == PUB_BOARD_CANCELED)
                    r.vehicle = -1;
            } else if (sp->kind == LIVE_KIND_SKIPPED) {
                continue;
            } else if (sp->kind == LIVE_KIND_DEPARTED) {
                r.status = PUB_BOARD_DEPARTED;
                r.sched_ms = sp->sched_dep_ms;
                r.when_ms = sp->dep_ms;
                if (r.when_ms < 0 || r.when_ms > now ||
                    now - r.when_ms > PUB_BOARD_DEPARTED_MS)
                    continue;
                pub_board__finish(v, &r);
                /* The latest departure only: the bus riders just missed. */
                if (!have_dep || r.when_ms > dep.when_ms ||
                    (r.when_ms == dep.when_ms && r.trip < dep.trip)) {
                    dep = r;
                    have_dep = true;
                }
                continue;
            } else if (sp->kind == LIVE_KIND_CANCELED ||
                       tp->state == LIVE_TRIP_CANCELED) {
                r.status = PUB_BOARD_CANCELED;
                r.sched_ms = sp->sched_arr_ms;
                r.when_ms = r.sched_ms;
                r.vehicle = -1;
            } else {
                r.status = sp->kind == LIVE_KIND_PREDICTED
                               ? PUB_BOARD_PREDICTED
                               : PUB_BOARD_SCHEDULED;
                r.sched_ms = sp->sched_arr_ms;
                r.when_ms = sp->arr_ms >= 0 ? sp->arr_ms : sp->sched_arr_ms;
                if (sp->arr_lo_ms >= 0 && sp->arr_hi_ms >= 0) {
                    r.lo_ms = sp->arr_lo_ms;
                    r.hi_ms = sp->arr_hi_ms;
                }
                r.seats_free = pub_board__seats(v, r.vehicle, sp->load);
                /* A bus standing at the stop now is still boardable. */
                if (r.when_ms < now && !(sp->dep_ms >= now))
                    continue;
            }
            if (r.status != PUB_BOARD_PREDICTED && r.when_ms < now)
                continue;
            if (r.when_ms > now + PUB_BOARD_AHEAD_MS)
                continue;
            pub_board__finish(v, &r);
            pub_board__keep(ahead, &nahead, PUB_BOARD_ROWS_MAX, &r);
        }
    }

    if (have_dep)
        out->rows[out->nrows++] = dep;
    for (size_t i = 0; i < nahead && out->nrows < PUB_BOARD_ROWS_MAX; i++)
        out->rows[out->nrows++] = ahead[i];
    return PUB_BOARD_OK;
}

const char *pub_board_status_name(enum pub_board_status s)
{
    switch (s) {
    case PUB_BOARD_PREDICTED:
        return "predicted";
    case PUB_BOARD_SCHEDULED:
        return "scheduled";
    case PUB_BOARD_DEPARTED:
        return "departed";
    case PUB_BOARD_CANCELED:
        return "canceled";
    }
    return "unknown";
}
