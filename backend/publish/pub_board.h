/* pub_board: the next buses at one stop, as a rider reads them — the one
 * computation behind the JSON API's arrivals, the workers' page and the
 * stop displays, so that all three always say the same. Pure. */
#ifndef SHUTTLE_PUB_BOARD_H
#define SHUTTLE_PUB_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "pub_view.h"

/* How far ahead a board looks, and how long "departed N min ago" stays. */
#define PUB_BOARD_AHEAD_MS (90 * 60 * 1000LL)
#define PUB_BOARD_DEPARTED_MS (10 * 60 * 1000LL)
#define PUB_BOARD_ROWS_MAX 8
/* Seats free are published in steps of this many (floored): a count exact
 * to the person would tell who is on board. */
#define PUB_BOARD_SEAT_STEP 5

enum pub_board_status {
    PUB_BOARD_PREDICTED = 0, /* live: from the bus's position */
    PUB_BOARD_SCHEDULED,     /* no live data: the timetable */
    PUB_BOARD_DEPARTED,      /* left this stop minutes ago */
    PUB_BOARD_CANCELED,      /* the trip will not run */
};

struct pub_board_row {
    int trip, pos, stop; /* feed indices; pos in the trip */
    int route;           /* index in names->routes; -1 */
    int vehicle;         /* tracker index; -1 (none, or not in the view) */
    enum pub_board_status status;
    int64_t sched_ms;     /* the timetable's arrival (departure: DEPARTED) */
    int64_t when_ms;      /* expected arrival (departure when DEPARTED) */
    int64_t lo_ms, hi_ms; /* 80 % interval of when_ms; -1 none */
    int minutes;    /* until when_ms, floored, >= 0; DEPARTED: minutes ago */
    int seats_free; /* in PUB_BOARD_SEAT_STEP steps; -1 unknown */
    int delay_s;    /* when_ms - sched_ms, in seconds */
};

struct pub_board {
    int stop;
    struct pub_board_row rows[PUB_BOARD_ROWS_MAX];
    size_t nrows;
};

enum pub_board_err {
    PUB_BOARD_OK = 0,
    PUB_BOARD_ERR_INVALID, /* stop outside the feed, or a bad view */
};

/*
 * The board of stop index STOP at V->now_ms into *OUT: the last departure
 * within PUB_BOARD_DEPARTED_MS (at most one), then the arrivals ahead
 * within PUB_BOARD_AHEAD_MS in time order, cancelled trips included,
 * PUB_BOARD_ROWS_MAX rows at most. A trip's last stop is not a boarding
 * and is left out. Trips without a prediction come from the timetable.
 */
enum pub_board_err pub_board_stop(const struct pub_view *v, int stop,
                                  struct pub_board *out);

/* "predicted", "scheduled", "departed", "canceled". */
const char *pub_board_status_name(enum pub_board_status s);

#endif
