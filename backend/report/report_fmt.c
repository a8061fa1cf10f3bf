/* report_fmt: labels and the text, CSV and JSON writers of shuttle-report.
 * Text and CSV share one table builder so their rows cannot disagree; JSON
 * is built as a jansson tree and dumped once, so it is valid whatever the
 * strings hold. */
#include "report_fmt.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report_text.h"

/* {English, Korean} */
static const char *const labels[REPORT_FMT_L_N][2] = {
    [REPORT_FMT_L_TITLE_DAILY] = {"Geomdan commuter bus: daily report",
                                  "검단산단 무료통근버스 일일 운행 보고"},
    [REPORT_FMT_L_TITLE_RANGE] = {"Geomdan commuter bus: daily ridership trend",
                                  "검단산단 무료통근버스 일별 이용 추이"},
    [REPORT_FMT_L_BUILT_AT] = {"built at", "집계 시각"},
    [REPORT_FMT_L_RIDERS] = {"Riders (boardings)", "이용객(승차)"},
    [REPORT_FMT_L_TARGET] = {"target", "목표"},
    [REPORT_FMT_L_OF_TARGET] = {"of target", "목표 대비"},
    [REPORT_FMT_L_ALIGHTED] = {"alighted", "하차"},
    [REPORT_FMT_L_UNATTRIBUTED] = {"boardings at no known stop",
                                   "정류장 미확인 승차"},
    [REPORT_FMT_L_RUNS] = {"Runs", "운행"},
    [REPORT_FMT_L_SCHEDULED] = {"scheduled", "계획"},
    [REPORT_FMT_L_OPERATED] = {"operated", "운행"},
    [REPORT_FMT_L_PARTIAL] = {"partial", "일부 운행"},
    [REPORT_FMT_L_MISSED] = {"missed", "결행"},
    [REPORT_FMT_L_LATE] = {"late", "지연"},
    [REPORT_FMT_L_CROWDED] = {"crowded", "혼잡"},
    [REPORT_FMT_L_SUSPECT] = {"counter suspect", "계수 의심"},
    [REPORT_FMT_L_SEC_ROUTES] = {"By route and direction", "노선·방향별"},
    [REPORT_FMT_L_SEC_RUNS] = {"Runs", "회차별 운행"},
    [REPORT_FMT_L_SEC_STOPS] = {"By stop", "정류장별"},
    [REPORT_FMT_L_SEC_HOURLY] = {"Boardings by hour", "시간대별 승차"},
    [REPORT_FMT_L_SEC_COUNTERS] = {"Counter quality", "승하차 계수 품질"},
    [REPORT_FMT_L_SEC_LOAD] = {"Peak load per run", "회차별 최대 재차 인원"},
    [REPORT_FMT_L_SEC_TREND] = {"Riders per day", "일별 이용객"},
    [REPORT_FMT_L_SEC_BELOW] = {"Days below target", "목표 미달일"},
    [REPORT_FMT_L_ROUTE] = {"route", "노선"},
    [REPORT_FMT_L_DIRECTION] = {"dir.", "방향"},
    [REPORT_FMT_L_DIR_IN] = {"in", "출근"},
    [REPORT_FMT_L_DIR_OUT] = {"out", "퇴근"},
    [REPORT_FMT_L_TRIP] = {"trip", "회차"},
    [REPORT_FMT_L_SCHED_START] = {"sched.", "계획 출발"},
    [REPORT_FMT_L_ACTUAL_START] = {"actual", "실제 출발"},
    [REPORT_FMT_L_DELAY] = {"delay", "지연"},
    [REPORT_FMT_L_VEHICLE] = {"vehicle", "차량"},
    [REPORT_FMT_L_BOARDED] = {"boarded", "승차"},
    [REPORT_FMT_L_PEAK] = {"peak load", "최대 재차"},
    [REPORT_FMT_L_SEATS] = {"seats", "좌석"},
    [REPORT_FMT_L_STATUS] = {"status", "상태"},
    [REPORT_FMT_L_NOTES] = {"notes", "비고"},
    [REPORT_FMT_L_STOP_ID] = {"stop id", "정류장 ID"},
    [REPORT_FMT_L_STOP] = {"stop", "정류장"},
    [REPORT_FMT_L_VISITS] = {"stops made", "정차"},
    [REPORT_FMT_L_HOUR] = {"hour", "시"},
    [REPORT_FMT_L_DATE] = {"date", "날짜"},
    [REPORT_FMT_L_WEEKDAY] = {"day", "요일"},
    [REPORT_FMT_L_DIFF] = {"difference", "차이"},
    [REPORT_FMT_L_NONE] = {"none", "없음"},
    [REPORT_FMT_L_NOT_BUILT] = {"not built", "미집계"},
    [REPORT_FMT_L_DAYS] = {"days", "일"},
    [REPORT_FMT_L_DAYS_BUILT] = {"days built", "집계된 날"},
    [REPORT_FMT_L_MEAN] = {"mean per day", "일평균"},
    [REPORT_FMT_L_TOTAL] = {"total", "합계"},
    [REPORT_FMT_L_BAR] = {"", ""},
    [REPORT_FMT_L_SEC_ETA] = {"Prediction accuracy", "도착 예측 정확도"},
    [REPORT_FMT_L_HORIZON] = {"before arrival", "도착 전"},
    [REPORT_FMT_L_SAMPLES] = {"samples", "표본"},
    [REPORT_FMT_L_MAE] = {"MAE (s)", "평균 오차(초)"},
    [REPORT_FMT_L_P90] = {"p90 (s)", "90% 오차(초)"},
    [REPORT_FMT_L_BIAS] = {"bias (s)", "편향(초)"},
    [REPORT_FMT_L_ACCURATE] = {"accurate", "정확"},
    [REPORT_FMT_L_COVERED] = {"in 80 % interval", "80% 구간 내"},
    [REPORT_FMT_L_NO_ETA] = {"no predictions recorded", "기록된 예측 없음"},
    [REPORT_FMT_L_ETA_MAE] = {"ETA MAE (s)", "예측 오차(초)"},
    [REPORT_FMT_L_ETA_ACCURATE] = {"ETA accurate", "예측 정확"},
};

const char *report_fmt_label(int english, enum report_fmt_label id)
{
    if ((int)id < 0 || id >= REPORT_FMT_L_N || labels[id][0] == NULL)
        return "?";
    return labels[id][english ? 0 : 1];
}

const char *report_fmt_weekday(int english, long days)
{
    static const char *const en[] = {"Mon", "Tue", "Wed", "Thu",
                                     "Fri", "Sat", "Sun"};
    static const char *const ko[] = {"월", "화", "수", "목", "금", "토", "일"};
    int w = report_text_weekday(days);

    return english ? en[w] : ko[w];
}

const char *report_fmt_direction(int english, int direction)
{
    if (direction == 0)
        return report_fmt_label(english, REPORT_FMT_L_DIR_IN);
    if (direction == 1)
        return report_fmt_label(english, REPORT_FMT_L_DIR_OUT);
    return "-";
}

const char *report_fmt_status(int english, enum report_query_status s)
{
    return report_fmt_label(english,
                            s == REPORT_QUERY_OPERATED  ? REPORT_FMT_L_OPERATED
                            : s == REPORT_QUERY_PARTIAL ? REPORT_FMT_L_PARTIAL
                                                        : REPORT_FMT_L_MISSED);
}

const char *report_fmt_status_key(enum report_query_status s)
{
    return s == REPORT_QUERY_OPERATED  ? "operated"
           : s == REPORT_QUERY_PARTIAL ? "partial"
                                       : "missed";
}

void report_fmt_suspect_rule(int english, int pct, int slack, char *out,
                             size_t outlen)
{
    if (english)
        snprintf(out, outlen,
                 "Counter suspect: a run's boardings and alightings differ "
                 "by more than %d %% of the larger + %d",
                 pct, slack);
    else
        snprintf(out, outlen,
                 "계수 의심 기준: 회차의 승차·하차 차이가 큰 쪽의 %d %% + "
                 "%d명 초과",
                 pct, slack);
}

void report_fmt_eta_rule(int english, char *out, size_t outlen)
{
    if (english)
        snprintf(out, outlen,
                 "Error = actual - predicted arrival (bias + : buses later "
                 "than predicted); accurate: inside the Transit app "
                 "ETA-benchmark window of the horizon");
    else
        snprintf(out, outlen,
                 "오차 = 실제 - 예측 도착 시각 (편향 + : 예측보다 늦게 도착); "
                 "정확: 예측 시점별 Transit 앱 ETA 기준 범위 이내");
}

void report_fmt_horizon(int english, int horizon_s, char *out, size_t outlen)
{
    int min = horizon_s % 60 == 0;
    int n = min ? horizon_s / 60 : horizon_s;

    if (english)
        snprintf(out, outlen, "%d %s", n, min ? "min" : "s");
    else
        snprintf(out, outlen, "%d%s 전", n, min ? "분" : "초");
}

void report_fmt_delay(int delay_s, char *out, size_t outlen)
{
    int a = delay_s < 0 ? -delay_s : delay_s;

    snprintf(out, outlen, "%c%d:%02d", delay_s < 0 ? '-' : '+', a / 60, a % 60);
}

int report_fmt_table_parse(const char *name, enum report_fmt_table *t)
{
    static const char *const names[] = {"summary", "routes", "runs",    "stops",
                                        "hourly",  "days",   "accuracy"};

    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(name, names[i]) == 0) {
            *t = (enum report_fmt_table)i;
            return 0;
        }
    return -1;
}

/* ---- tables shared by text and CSV ---------------------------------- */

#define CELL 160 /* bytes; the longest English stop name is ~50 */

struct col {
    const char *key;           /* CSV header */
    enum report_fmt_label lab; /* text header */
    int right;                 /* numbers align right */
};

struct table {
    const struct col *cols;
    int ncols;
    size_t nrows, cap;
    char *cells; /* nrows * ncols cells of CELL bytes */
};

static int report_fmt__table_init(struct table *t, const struct col *cols,
                                  int ncols)
{
    memset(t, 0, sizeof *t);
    t->cols = cols;
    t->ncols = ncols;
    return 0;
}

/* Append a row whose cells are the printf-formatted strings, one format
 * per column, separated by '|' in FMT ("%s|%d|%d"). -1 on no memory. */
static int report_fmt__table_row(struct table *t, const char *fmt, ...)
{
    char spec[32];
    const char *f = fmt;
    va_list ap;
    char *row;

    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char *c = realloc(t->cells, cap * (size_t)t->ncols * CELL);

        if (c == NULL)
            return -1;
        t->cells = c;
        t->cap = cap;
    }
    row = t->cells + t->nrows * (size_t)t->ncols * CELL;
    va_start(ap, fmt);
    for (int i = 0; i < t->ncols; i++) {
        size_t n = strcspn(f, "|");
        char *cell = row + (size_t)i * CELL;

        /* Each cell's spec is one conversion: %s, %d, %lld or %.1f. */
        snprintf(spec, sizeof spec, "%.*s", (int)n, f);
        if (strcmp(spec, "%s") == 0)
            snprintf(cell, CELL, "%s", va_arg(ap, const char *));
        else if (strcmp(spec, "%d") == 0)
            snprintf(cell, CELL, "%d", va_arg(ap, int));
        else if (strcmp(spec, "%lld") == 0)
            snprintf(cell, CELL, "%lld", va_arg(ap, long long));
        else if (strcmp(spec, "%.1f") == 0)
            snprintf(cell, CELL, "%.1f", va_arg(ap, double));
        else
            snprintf(cell, CELL, "?");
        f += n + (f[n] == '|');
    }
    va_end(ap);
    t->nrows++;
    return 0;
}

static const char *report_fmt__table_cell(const struct table *t, size_t row,
                                          int col)
{
    return t->cells + (row * (size_t)t->ncols + (size_t)col) * CELL;
}

static void report_fmt__table_free(struct table *t)
{
    free(t->cells);
    t->cells = NULL;
}

static void report_fmt__table_text(FILE *fp, const struct table *t, int english)
{
    size_t w[16];
    int last;

    for (int c = 0; c < t->ncols && c < 16; c++) {
        w[c] = report_text_width(report_fmt_label(english, t->cols[c].lab));
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = report_text_width(report_fmt__table_cell(t, r, c));

            if (cw > w[c])
                w[c] = cw;
        }
    }
    last = t->ncols < 16 ? t->ncols - 1 : 15;
    while (last > 0 && report_fmt_label(english, t->cols[last].lab)[0] == '\0')
        last--;
    for (int c = 0; c <= last; c++) {
        if (c)
            fputs("  ", fp);
        /* The last column is not padded: no trailing blanks. */
        report_text_pad(fp, report_fmt_label(english, t->cols[c].lab),
                        c == last && !t->cols[c].right ? 0 : w[c],
                        t->cols[c].right);
    }
    fputc('\n', fp);
    for (int c = 0; c < t->ncols && c < 16; c++) {
        if (c)
            fputs("  ", fp);
        for (size_t i = 0; i < w[c]; i++)
            fputc('-', fp);
    }
    fputc('\n', fp);
    for (size_t r = 0; r < t->nrows; r++) {
        last = t->ncols < 16 ? t->ncols - 1 : 15;
        /* Empty trailing cells are not padded: no blanks at line ends. */
        while (last > 0 && report_fmt__table_cell(t, r, last)[0] == '\0')
            last--;
        for (int c = 0; c <= last; c++) {
            if (c)
                fputs("  ", fp);
            report_text_pad(fp, report_fmt__table_cell(t, r, c),
                            c == last && !t->cols[c].right ? 0 : w[c],
                            t->cols[c].right);
        }
        fputc('\n', fp);
    }
}

static void report_fmt__table_csv(FILE *fp, const struct table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            fputc(',', fp);
        report_text_csv_field(fp, t->cols[c].key);
    }
    fputs("\r\n", fp); /* RFC 4180 line ends */
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            if (c)
                fputc(',', fp);
            report_text_csv_field(fp, report_fmt__table_cell(t, r, c));
        }
        fputs("\r\n", fp);
    }
}

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct col summary_cols[] = {
    {"date", REPORT_FMT_L_DATE, 0},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"target", REPORT_FMT_L_TARGET, 1},
    {"pct_of_target", REPORT_FMT_L_OF_TARGET, 1},
    {"alighted", REPORT_FMT_L_ALIGHTED, 1},
    {"unattributed_boarded", REPORT_FMT_L_UNATTRIBUTED, 1},
    {"runs_scheduled", REPORT_FMT_L_SCHEDULED, 1},
    {"runs_operated", REPORT_FMT_L_OPERATED, 1},
    {"runs_partial", REPORT_FMT_L_PARTIAL, 1},
    {"runs_missed", REPORT_FMT_L_MISSED, 1},
    {"runs_late", REPORT_FMT_L_LATE, 1},
    {"runs_crowded", REPORT_FMT_L_CROWDED, 1},
    {"runs_counter_suspect", REPORT_FMT_L_SUSPECT, 1},
    {"built_at", REPORT_FMT_L_BUILT_AT, 0},
};

static int report_fmt__build_summary(struct table *t,
                                     const struct report_query_daily *d)
{
    report_fmt__table_init(t, summary_cols, NCOLS(summary_cols));
    return report_fmt__table_row(
        t, "%s|%d|%d|%.1f|%d|%d|%d|%d|%d|%d|%d|%d|%d|%s", d->date, d->boarded,
        d->p.target, d->pct_of_target, d->alighted, d->unattributed,
        d->runs_scheduled, d->runs_operated, d->runs_partial, d->runs_missed,
        d->runs_late, d->runs_crowded, d->runs_counter_suspect, d->built_at);
}

static const struct col route_cols[] = {
    {"route_id", REPORT_FMT_L_ROUTE, 0},
    {"direction", REPORT_FMT_L_DIRECTION, 0},
    {"runs", REPORT_FMT_L_SCHEDULED, 1},
    {"operated", REPORT_FMT_L_OPERATED, 1},
    {"partial", REPORT_FMT_L_PARTIAL, 1},
    {"missed", REPORT_FMT_L_MISSED, 1},
    {"late", REPORT_FMT_L_LATE, 1},
    {"crowded", REPORT_FMT_L_CROWDED, 1},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"alighted", REPORT_FMT_L_ALIGHTED, 1},
};

static int report_fmt__build_routes(struct table *t,
                                    const struct report_query_daily *d,
                                    int english, int machine)
{
    report_fmt__table_init(t, route_cols, NCOLS(route_cols));
    for (size_t i = 0; i < d->nroutes; i++) {
        const struct report_query_route *g = &d->routes[i];
        char dir[8];

        snprintf(dir, sizeof dir, "%d", g->direction);
        if (report_fmt__table_row(
                t, "%s|%s|%d|%d|%d|%d|%d|%d|%d|%d",
                machine ? g->route_id : g->route_name,
                machine ? dir : report_fmt_direction(english, g->direction),
                g->runs, g->operated, g->partial, g->missed, g->late,
                g->crowded, g->boarded, g->alighted) != 0)
            return -1;
    }
    return 0;
}

static const struct col run_cols[] = {
    {"trip_id", REPORT_FMT_L_TRIP, 0},
    {"route_id", REPORT_FMT_L_ROUTE, 0},
    {"direction", REPORT_FMT_L_DIRECTION, 0},
    {"scheduled_start", REPORT_FMT_L_SCHED_START, 0},
    {"actual_start", REPORT_FMT_L_ACTUAL_START, 0},
    {"delay_s", REPORT_FMT_L_DELAY, 1},
    {"vehicle_id", REPORT_FMT_L_VEHICLE, 0},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"alighted", REPORT_FMT_L_ALIGHTED, 1},
    {"peak_load", REPORT_FMT_L_PEAK, 1},
    {"seats", REPORT_FMT_L_SEATS, 1},
    {"status", REPORT_FMT_L_STATUS, 0},
    {"crowded", REPORT_FMT_L_CROWDED, 1},
    {"late", REPORT_FMT_L_LATE, 1},
    {"counter_suspect", REPORT_FMT_L_SUSPECT, 1},
};

/* The text form folds the three flags into one notes column. */
static const struct col run_cols_text[] = {
    {"trip_id", REPORT_FMT_L_TRIP, 0},
    {"route_id", REPORT_FMT_L_ROUTE, 0},
    {"direction", REPORT_FMT_L_DIRECTION, 0},
    {"scheduled_start", REPORT_FMT_L_SCHED_START, 0},
    {"actual_start", REPORT_FMT_L_ACTUAL_START, 0},
    {"delay_s", REPORT_FMT_L_DELAY, 1},
    {"vehicle_id", REPORT_FMT_L_VEHICLE, 0},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"alighted", REPORT_FMT_L_ALIGHTED, 1},
    {"peak_load", REPORT_FMT_L_PEAK, 1},
    {"status", REPORT_FMT_L_STATUS, 0},
    {"notes", REPORT_FMT_L_NOTES, 0},
};

static int report_fmt__build_runs(struct table *t,
                                  const struct report_query_daily *d,
                                  int english, int machine)
{
    report_fmt__table_init(t, machine ? run_cols : run_cols_text,
                           machine ? NCOLS(run_cols) : NCOLS(run_cols_text));
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_query_run *r = &d->runs[i];
        char delay[16] = "", peak[24] = "", dir[8], notes[CELL];
        int rc;

        if (r->has_delay) {
            if (machine)
                snprintf(delay, sizeof delay, "%d", r->delay_s);
            else
                report_fmt_delay(r->delay_s, delay, sizeof delay);
        }
        if (r->has_peak && machine)
            snprintf(peak, sizeof peak, "%d", r->peak_load);
        else if (r->has_peak)
            snprintf(peak, sizeof peak, "%d/%d", r->peak_load, d->p.seats);
        if (machine) {
            snprintf(dir, sizeof dir, "%d", r->direction);
            rc = report_fmt__table_row(
                t, "%s|%s|%s|%s|%s|%s|%s|%d|%d|%s|%d|%s|%d|%d|%d", r->trip_id,
                r->route_id, dir, r->sched_start, r->actual_start, delay,
                r->vehicle_id, r->boarded, r->alighted, peak, d->p.seats,
                report_fmt_status_key(r->status), r->crowded, r->late,
                r->counter_suspect);
        } else {
            snprintf(
                notes, sizeof notes, "%s%s%s%s%s",
                r->crowded ? report_fmt_label(english, REPORT_FMT_L_CROWDED)
                           : "",
                r->crowded && (r->late || r->counter_suspect) ? ", " : "",
                r->late ? report_fmt_label(english, REPORT_FMT_L_LATE) : "",
                r->late && r->counter_suspect ? ", " : "",
                r->counter_suspect
                    ? report_fmt_label(english, REPORT_FMT_L_SUSPECT)
                    : "");
            rc = report_fmt__table_row(
                t, "%s|%s|%s|%s|%s|%s|%s|%d|%d|%s|%s|%s", r->trip_id,
                r->route_id, report_fmt_direction(english, r->direction),
                r->sched_start, r->actual_start, delay, r->vehicle_id,
                r->boarded, r->alighted, peak,
                report_fmt_status(english, r->status), notes);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

static const struct col stop_cols[] = {
    {"stop_id", REPORT_FMT_L_STOP_ID, 0},
    {"stop_name", REPORT_FMT_L_STOP, 0},
    {"stops_made", REPORT_FMT_L_VISITS, 1},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"alighted", REPORT_FMT_L_ALIGHTED, 1},
};

static int report_fmt__build_stops(struct table *t,
                                   const struct report_query_daily *d)
{
    report_fmt__table_init(t, stop_cols, NCOLS(stop_cols));
    for (size_t i = 0; i < d->nstops; i++) {
        const struct report_query_stop *s = &d->stops[i];

        if (report_fmt__table_row(t, "%s|%s|%d|%d|%d", s->stop_id, s->name,
                                  s->visits, s->boarded, s->alighted) != 0)
            return -1;
    }
    return 0;
}

static const struct col hour_cols[] = {
    {"hour", REPORT_FMT_L_HOUR, 1},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"alighted", REPORT_FMT_L_ALIGHTED, 1},
    {"bar", REPORT_FMT_L_BAR, 0},
};

/* Text shows only hours with passengers and a bar; CSV all 24 hours. */
static int report_fmt__build_hourly(struct table *t,
                                    const struct report_query_daily *d,
                                    int machine)
{
    int max = 1;

    report_fmt__table_init(t, hour_cols, NCOLS(hour_cols) - machine);
    for (int h = 0; h < 24; h++)
        if (d->hour_boarded[h] > max)
            max = d->hour_boarded[h];
    for (int h = 0; h < 24; h++) {
        char bar[48];
        int n = (int)((long long)d->hour_boarded[h] * 40 / max);

        if (!machine && d->hour_boarded[h] == 0 && d->hour_alighted[h] == 0)
            continue;
        memset(bar, '#', (size_t)n);
        bar[n] = '\0';
        if (report_fmt__table_row(t, "%d|%d|%d|%s", h, d->hour_boarded[h],
                                  d->hour_alighted[h], bar) != 0)
            return -1;
    }
    return 0;
}

static const struct col day_cols[] = {
    {"date", REPORT_FMT_L_DATE, 0},
    {"weekday", REPORT_FMT_L_WEEKDAY, 0},
    {"built", REPORT_FMT_L_NOTES, 0},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"pct_of_target", REPORT_FMT_L_OF_TARGET, 1},
    {"below_target", REPORT_FMT_L_SEC_BELOW, 1},
    {"runs_scheduled", REPORT_FMT_L_SCHEDULED, 1},
    {"runs_operated", REPORT_FMT_L_OPERATED, 1},
    {"runs_partial", REPORT_FMT_L_PARTIAL, 1},
    {"runs_missed", REPORT_FMT_L_MISSED, 1},
    {"runs_late", REPORT_FMT_L_LATE, 1},
    {"eta_samples", REPORT_FMT_L_SAMPLES, 1},
    {"eta_mae_s", REPORT_FMT_L_ETA_MAE, 1},
    {"eta_accuracy_pct", REPORT_FMT_L_ETA_ACCURATE, 1},
};

static const struct col day_cols_text[] = {
    {"date", REPORT_FMT_L_DATE, 0},
    {"weekday", REPORT_FMT_L_WEEKDAY, 0},
    {"boarded", REPORT_FMT_L_BOARDED, 1},
    {"pct_of_target", REPORT_FMT_L_OF_TARGET, 1},
    {"runs_operated", REPORT_FMT_L_OPERATED, 1},
    {"runs_partial", REPORT_FMT_L_PARTIAL, 1},
    {"runs_missed", REPORT_FMT_L_MISSED, 1},
    {"runs_late", REPORT_FMT_L_LATE, 1},
    {"eta_mae_s", REPORT_FMT_L_ETA_MAE, 1},
    {"eta_accuracy_pct", REPORT_FMT_L_ETA_ACCURATE, 1},
    {"notes", REPORT_FMT_L_NOTES, 0},
};

static int report_fmt__build_days(struct table *t,
                                  const struct report_query_range *r,
                                  int english, int machine)
{
    report_fmt__table_init(t, machine ? day_cols : day_cols_text,
                           machine ? NCOLS(day_cols) : NCOLS(day_cols_text));
    for (size_t i = 0; i < r->ndays; i++) {
        const struct report_query_day *d = &r->days[i];
        long days = 0;
        char err[64], pct[16], b[16], o[16], p[16], m[16], l[16];
        char mae[16] = "", acc[16] = "";
        int rc;

        report_text_parse_date(d->date, &days, err, sizeof err);
        /* Empty, not 0, on a day without scored predictions. */
        if (d->eta_samples > 0) {
            snprintf(mae, sizeof mae, "%.1f", d->eta_mae_s);
            snprintf(acc, sizeof acc, machine ? "%.1f" : "%.1f %%",
                     d->eta_accuracy_pct);
        }
        if (machine) {
            rc = report_fmt__table_row(
                t, "%s|%s|%d|%d|%.1f|%d|%d|%d|%d|%d|%d|%d|%s|%s", d->date,
                report_fmt_weekday(1, days), d->built, d->boarded,
                d->pct_of_target, d->below_target, d->runs_scheduled,
                d->runs_operated, d->runs_partial, d->runs_missed, d->runs_late,
                d->eta_samples, mae, acc);
        } else if (!d->built) {
            rc = report_fmt__table_row(
                t, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", d->date,
                report_fmt_weekday(english, days), "", "", "", "", "", "", mae,
                acc, report_fmt_label(english, REPORT_FMT_L_NOT_BUILT));
        } else {
            report_text_thousands(d->boarded, b, sizeof b);
            snprintf(pct, sizeof pct, "%.1f %%", d->pct_of_target);
            snprintf(o, sizeof o, "%d", d->runs_operated);
            snprintf(p, sizeof p, "%d", d->runs_partial);
            snprintf(m, sizeof m, "%d", d->runs_missed);
            snprintf(l, sizeof l, "%d", d->runs_late);
            rc = report_fmt__table_row(
                t, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", d->date,
                report_fmt_weekday(english, days), b, pct, o, p, m, l, mae, acc,
                d->below_target
                    ? report_fmt_label(english, REPORT_FMT_L_SEC_BELOW)
                    : "");
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

static const struct col eta_cols[] = {
    {"horizon_s", REPORT_FMT_L_HORIZON, 1},
    {"samples", REPORT_FMT_L_SAMPLES, 1},
    {"mae_s", REPORT_FMT_L_MAE, 1},
    {"p90_s", REPORT_FMT_L_P90, 1},
    {"bias_s", REPORT_FMT_L_BIAS, 1},
    {"accurate", REPORT_FMT_L_ACCURATE, 1},
    {"accuracy_pct", REPORT_FMT_L_ACCURATE, 1},
    {"covered", REPORT_FMT_L_COVERED, 1},
    {"coverage_pct", REPORT_FMT_L_COVERED, 1},
};

/* The text form shows shares only, as "75.0 %". */
static const struct col eta_cols_text[] = {
    {"horizon_s", REPORT_FMT_L_HORIZON, 1},
    {"samples", REPORT_FMT_L_SAMPLES, 1},
    {"mae_s", REPORT_FMT_L_MAE, 1},
    {"p90_s", REPORT_FMT_L_P90, 1},
    {"bias_s", REPORT_FMT_L_BIAS, 1},
    {"accuracy_pct", REPORT_FMT_L_ACCURATE, 1},
    {"coverage_pct", REPORT_FMT_L_COVERED, 1},
};

static int report_fmt__build_eta(struct table *t,
                                 const struct report_query_daily *d,
                                 int english, int machine)
{
    report_fmt__table_init(t, machine ? eta_cols : eta_cols_text,
                           machine ? NCOLS(eta_cols) : NCOLS(eta_cols_text));
    for (size_t i = 0; i < d->neta; i++) {
        const struct report_query_eta *e = &d->eta[i];
        char h[32], bias[16], acc[16], cov[16];
        int rc;

        if (machine) {
            rc = report_fmt__table_row(
                t, "%d|%d|%.1f|%.1f|%.1f|%d|%.1f|%d|%.1f", e->horizon_s,
                e->samples, e->mae_s, e->p90_s, e->bias_s, e->accurate,
                e->accuracy_pct, e->covered, e->coverage_pct);
        } else {
            report_fmt_horizon(english, e->horizon_s, h, sizeof h);
            snprintf(bias, sizeof bias, "%+.1f", e->bias_s);
            snprintf(acc, sizeof acc, "%.1f %%", e->accuracy_pct);
            snprintf(cov, sizeof cov, "%.1f %%", e->coverage_pct);
            rc = report_fmt__table_row(t, "%s|%d|%.1f|%.1f|%s|%s|%s", h,
                                       e->samples, e->mae_s, e->p90_s, bias,
                                       acc, cov);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- text ----------------------------------------------------------- */

static void report_fmt__heading(FILE *fp, const char *title)
{
    size_t w = report_text_width(title);

    fprintf(fp, "\n%s\n", title);
    for (size_t i = 0; i < w; i++)
        fputc('=', fp);
    fputc('\n', fp);
}

static int report_fmt__print_table(FILE *fp, struct table *t, int built,
                                   int english)
{
    if (built != 0) {
        report_fmt__table_free(t);
        errno = ENOMEM;
        return -1;
    }
    report_fmt__table_text(fp, t, english);
    report_fmt__table_free(t);
    return 0;
}

static int report_fmt__finish(FILE *fp)
{
    return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

int report_fmt_daily_text(FILE *fp, const struct report_query_daily *d,
                          int english)
{
    struct table t;
    char a[160], b[32], c[32], rule[320];
    long days = 0;
    int suspects = 0, rc;

    report_text_parse_date(d->date, &days, a, sizeof a);
    fprintf(fp, "%s  %s (%s)\n",
            report_fmt_label(english, REPORT_FMT_L_TITLE_DAILY), d->date,
            report_fmt_weekday(english, days));
    fprintf(fp, "%s %s\n\n", report_fmt_label(english, REPORT_FMT_L_BUILT_AT),
            d->built_at);
    fprintf(fp, "%s: %s / %s %s (%.1f %%)\n",
            report_fmt_label(english, REPORT_FMT_L_RIDERS),
            report_text_thousands(d->boarded, a, sizeof a),
            report_fmt_label(english, REPORT_FMT_L_TARGET),
            report_text_thousands(d->p.target, b, sizeof b), d->pct_of_target);
    fprintf(fp, "%s %s, %s %s\n",
            report_fmt_label(english, REPORT_FMT_L_ALIGHTED),
            report_text_thousands(d->alighted, a, sizeof a),
            report_fmt_label(english, REPORT_FMT_L_UNATTRIBUTED),
            report_text_thousands(d->unattributed, c, sizeof c));
    fprintf(fp, "%s: %s %d, %s %d, %s %d, %s %d, %s %d, %s %d, %s %d\n",
            report_fmt_label(english, REPORT_FMT_L_RUNS),
            report_fmt_label(english, REPORT_FMT_L_SCHEDULED),
            d->runs_scheduled, report_fmt_label(english, REPORT_FMT_L_OPERATED),
            d->runs_operated, report_fmt_label(english, REPORT_FMT_L_PARTIAL),
            d->runs_partial, report_fmt_label(english, REPORT_FMT_L_MISSED),
            d->runs_missed, report_fmt_label(english, REPORT_FMT_L_LATE),
            d->runs_late, report_fmt_label(english, REPORT_FMT_L_CROWDED),
            d->runs_crowded, report_fmt_label(english, REPORT_FMT_L_SUSPECT),
            d->runs_counter_suspect);

    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_ROUTES));
    rc = report_fmt__build_routes(&t, d, english, 0);
    if (report_fmt__print_table(fp, &t, rc, english) != 0)
        return -1;
    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_RUNS));
    rc = report_fmt__build_runs(&t, d, english, 0);
    if (report_fmt__print_table(fp, &t, rc, english) != 0)
        return -1;
    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_STOPS));
    rc = report_fmt__build_stops(&t, d);
    if (report_fmt__print_table(fp, &t, rc, english) != 0)
        return -1;
    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_HOURLY));
    rc = report_fmt__build_hourly(&t, d, 0);
    if (report_fmt__print_table(fp, &t, rc, english) != 0)
        return -1;

    report_fmt__heading(fp,
                        report_fmt_label(english, REPORT_FMT_L_SEC_COUNTERS));
    fprintf(fp, "%s %s, %s %s (%s %+d)\n",
            report_fmt_label(english, REPORT_FMT_L_BOARDED),
            report_text_thousands(d->boarded, a, sizeof a),
            report_fmt_label(english, REPORT_FMT_L_ALIGHTED),
            report_text_thousands(d->alighted, b, sizeof b),
            report_fmt_label(english, REPORT_FMT_L_DIFF),
            d->boarded - d->alighted);
    report_fmt_suspect_rule(english, d->p.counter_pct, d->p.counter_slack, a,
                            sizeof a);
    fprintf(fp, "%s\n", a);
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_query_run *r = &d->runs[i];

        if (!r->counter_suspect)
            continue;
        fprintf(fp, "  %s  %s %s: %s %d, %s %d (%+d)\n", r->trip_id,
                r->sched_start, r->vehicle_id,
                report_fmt_label(english, REPORT_FMT_L_BOARDED), r->boarded,
                report_fmt_label(english, REPORT_FMT_L_ALIGHTED), r->alighted,
                r->boarded - r->alighted);
        suspects++;
    }
    if (suspects == 0)
        fprintf(fp, "  (%s)\n", report_fmt_label(english, REPORT_FMT_L_NONE));

    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_ETA));
    if (d->neta == 0) {
        /* e.g. shuttle-live was not running that day */
        fprintf(fp, "  (%s)\n", report_fmt_label(english, REPORT_FMT_L_NO_ETA));
        return report_fmt__finish(fp);
    }
    rc = report_fmt__build_eta(&t, d, english, 0);
    if (report_fmt__print_table(fp, &t, rc, english) != 0)
        return -1;
    report_fmt_eta_rule(english, rule, sizeof rule);
    fprintf(fp, "%s\n", rule);
    return report_fmt__finish(fp);
}

int report_fmt_daily_csv(FILE *fp, const struct report_query_daily *d,
                         int english, enum report_fmt_table which)
{
    struct table t;
    int rc;

    switch (which) {
    case REPORT_FMT_T_SUMMARY:
        rc = report_fmt__build_summary(&t, d);
        break;
    case REPORT_FMT_T_ROUTES:
        rc = report_fmt__build_routes(&t, d, english, 1);
        break;
    case REPORT_FMT_T_STOPS:
        rc = report_fmt__build_stops(&t, d);
        break;
    case REPORT_FMT_T_HOURLY:
        rc = report_fmt__build_hourly(&t, d, 1);
        break;
    case REPORT_FMT_T_ACCURACY:
        rc = report_fmt__build_eta(&t, d, english, 1);
        break;
    case REPORT_FMT_T_RUNS:
    default:
        rc = report_fmt__build_runs(&t, d, english, 1);
        break;
    }
    if (rc != 0) {
        report_fmt__table_free(&t);
        errno = ENOMEM;
        return -1;
    }
    report_fmt__table_csv(fp, &t);
    report_fmt__table_free(&t);
    return report_fmt__finish(fp);
}

int report_fmt_range_text(FILE *fp, const struct report_query_range *r,
                          int english)
{
    struct table t;
    char a[32], b[32];
    int shown = 0, rc;

    fprintf(fp, "%s  %s .. %s\n\n",
            report_fmt_label(english, REPORT_FMT_L_TITLE_RANGE), r->from,
            r->to);
    fprintf(fp, "%s %zu, %s %d, %s %d\n",
            report_fmt_label(english, REPORT_FMT_L_DAYS), r->ndays,
            report_fmt_label(english, REPORT_FMT_L_DAYS_BUILT), r->days_built,
            report_fmt_label(english, REPORT_FMT_L_SEC_BELOW), r->days_below);
    fprintf(fp, "%s %s, %s %.1f / %s %s\n",
            report_fmt_label(english, REPORT_FMT_L_TOTAL),
            report_text_thousands(r->boarded_total, a, sizeof a),
            report_fmt_label(english, REPORT_FMT_L_MEAN), r->boarded_mean,
            report_fmt_label(english, REPORT_FMT_L_TARGET),
            report_text_thousands(r->p.target, b, sizeof b));

    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_TREND));
    rc = report_fmt__build_days(&t, r, english, 0);
    if (report_fmt__print_table(fp, &t, rc, english) != 0)
        return -1;
    report_fmt_horizon(english, REPORT_QUERY_RANGE_HORIZON_S, a, sizeof a);
    fprintf(fp,
            english ? "ETA: arrival predictions made %s before arrival\n"
                    : "예측: 도착 %s 예측 기준\n",
            a);
    report_fmt__heading(fp, report_fmt_label(english, REPORT_FMT_L_SEC_BELOW));
    for (size_t i = 0; i < r->ndays; i++) {
        const struct report_query_day *d = &r->days[i];

        if (!d->built || !d->below_target)
            continue;
        fprintf(fp, "  %s  %s (%.1f %%)\n", d->date,
                report_text_thousands(d->boarded, a, sizeof a),
                d->pct_of_target);
        shown++;
    }
    if (shown == 0)
        fprintf(fp, "  (%s)\n", report_fmt_label(english, REPORT_FMT_L_NONE));
    return report_fmt__finish(fp);
}

int report_fmt_range_csv(FILE *fp, const struct report_query_range *r,
                         int english)
{
    struct table t;

    if (report_fmt__build_days(&t, r, english, 1) != 0) {
        report_fmt__table_free(&t);
        errno = ENOMEM;
        return -1;
    }
    report_fmt__table_csv(fp, &t);
    report_fmt__table_free(&t);
    return report_fmt__finish(fp);
}

/* ---- JSON (jansson) ------------------------------------------------ */

/* One line without blanks, keys in the order they are set (jansson keeps
 * it), then a newline. Reals print with up to 15 significant digits, so a
 * figure rounded to 0.1 is "97.8", not 97.799999999999997. */
#define JFLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* A string value; bytes that are not UTF-8 (which jansson refuses) become
 * U+FFFD, as the text and HTML outputs show them, so one bad stop name in
 * the feed does not cost the operator the day's report. NULL: no memory. */
static json_t *report_fmt__jstr(const char *s)
{
    json_t *j = json_string(s);
    char *fixed;

    if (j != NULL)
        return j;
    fixed = report_text_utf8_repair(s);
    if (fixed == NULL)
        return NULL;
    j = json_string(fixed);
    free(fixed);
    return j;
}

/* S, or null when S is "" (a run that did not start has no start time). */
static json_t *report_fmt__jstr_or_null(const char *s)
{
    return s[0] ? report_fmt__jstr(s) : json_null();
}

/* X with one decimal, the figure the text and CSV print ("%.1f", digit
 * for digit); null if X is not finite (JSON has no NaN; the queries guard
 * their divisions, so it would be a bug upstream, not a zero). */
static json_t *report_fmt__jreal1(double x)
{
    char b[64];

    if (!isfinite(x))
        return json_null();
    snprintf(b, sizeof b, "%.1f", x);
    return json_real(strtod(b, NULL));
}

/* Set KEY of O; json_object_set_new releases V on failure and fails on a
 * NULL V (an allocation that failed), so the results can be or-ed. */
static int report_fmt__set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) != 0;
}

static int report_fmt__set_int(json_t *o, const char *key, long long v)
{
    return report_fmt__set(o, key, json_integer((json_int_t)v));
}

/* Append V (NULL: failed) to array A; V is released on failure. */
static int report_fmt__append(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) != 0;
}

/* O when BAD is 0, else NULL with O released: ends each builder. */
static json_t *report_fmt__done(json_t *o, int bad)
{
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *report_fmt__jparams(const struct report_query_params *p)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "target_riders", p->target,
                     "seats", p->seats, "crowded_pct", p->crowded_pct, "late_s",
                     p->late_s, "counter_pct", p->counter_pct, "counter_slack",
                     p->counter_slack);
}

/* A document's first member: which report it is. */
static json_t *report_fmt__jhead(const char *kind)
{
    return json_pack("{s:s}", "report", kind);
}

static int report_fmt__jlang_params(json_t *o, int english,
                                    const struct report_query_params *p)
{
    int bad = report_fmt__set(o, "lang", json_string(english ? "en" : "ko"));

    bad |= report_fmt__set(o, "params", report_fmt__jparams(p));
    return bad;
}

static json_t *report_fmt__jsummary(const struct report_query_daily *d)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set_int(o, "boarded", d->boarded);
    bad |= report_fmt__set_int(o, "target", d->p.target);
    bad |= report_fmt__set(o, "pct_of_target",
                           report_fmt__jreal1(d->pct_of_target));
    bad |= report_fmt__set_int(o, "alighted", d->alighted);
    bad |= report_fmt__set_int(o, "unattributed_boarded", d->unattributed);
    bad |= report_fmt__set_int(o, "runs_scheduled", d->runs_scheduled);
    bad |= report_fmt__set_int(o, "runs_operated", d->runs_operated);
    bad |= report_fmt__set_int(o, "runs_partial", d->runs_partial);
    bad |= report_fmt__set_int(o, "runs_missed", d->runs_missed);
    bad |= report_fmt__set_int(o, "runs_late", d->runs_late);
    bad |= report_fmt__set_int(o, "runs_crowded", d->runs_crowded);
    bad |=
        report_fmt__set_int(o, "runs_counter_suspect", d->runs_counter_suspect);
    return report_fmt__done(o, bad);
}

static json_t *report_fmt__jroute(const struct report_query_route *g)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set(o, "route_id", report_fmt__jstr(g->route_id));
    bad |= report_fmt__set(o, "route_name", report_fmt__jstr(g->route_name));
    bad |= report_fmt__set_int(o, "direction", g->direction);
    bad |= report_fmt__set_int(o, "runs", g->runs);
    bad |= report_fmt__set_int(o, "operated", g->operated);
    bad |= report_fmt__set_int(o, "partial", g->partial);
    bad |= report_fmt__set_int(o, "missed", g->missed);
    bad |= report_fmt__set_int(o, "late", g->late);
    bad |= report_fmt__set_int(o, "crowded", g->crowded);
    bad |= report_fmt__set_int(o, "boarded", g->boarded);
    bad |= report_fmt__set_int(o, "alighted", g->alighted);
    return report_fmt__done(o, bad);
}

/* A run that did not start has null start, delay, vehicle and load: not
 * zeros, which would read as a bus that left on time empty. */
static json_t *report_fmt__jrun(const struct report_query_run *r)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set(o, "trip_id", report_fmt__jstr(r->trip_id));
    bad |= report_fmt__set(o, "route_id", report_fmt__jstr(r->route_id));
    bad |= report_fmt__set_int(o, "direction", r->direction);
    bad |= report_fmt__set(o, "status",
                           json_string(report_fmt_status_key(r->status)));
    bad |=
        report_fmt__set(o, "scheduled_start", report_fmt__jstr(r->sched_start));
    bad |= report_fmt__set(o, "actual_start",
                           report_fmt__jstr_or_null(r->actual_start));
    bad |= report_fmt__set(
        o, "delay_s", r->has_delay ? json_integer(r->delay_s) : json_null());
    bad |= report_fmt__set(o, "vehicle_id",
                           report_fmt__jstr_or_null(r->vehicle_id));
    bad |= report_fmt__set_int(o, "boarded", r->boarded);
    bad |= report_fmt__set_int(o, "alighted", r->alighted);
    bad |= report_fmt__set(
        o, "peak_load", r->has_peak ? json_integer(r->peak_load) : json_null());
    bad |= report_fmt__set(o, "load_pct",
                           r->has_peak ? report_fmt__jreal1(r->load_pct)
                                       : json_null());
    bad |= report_fmt__set(o, "crowded", json_boolean(r->crowded));
    bad |= report_fmt__set(o, "late", json_boolean(r->late));
    bad |=
        report_fmt__set(o, "counter_suspect", json_boolean(r->counter_suspect));
    return report_fmt__done(o, bad);
}

static json_t *report_fmt__jstop(const struct report_query_stop *s)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set(o, "stop_id", report_fmt__jstr(s->stop_id));
    bad |= report_fmt__set(o, "stop_name", report_fmt__jstr(s->name));
    bad |= report_fmt__set_int(o, "stops_made", s->visits);
    bad |= report_fmt__set_int(o, "boarded", s->boarded);
    bad |= report_fmt__set_int(o, "alighted", s->alighted);
    return report_fmt__done(o, bad);
}

static json_t *report_fmt__jeta(const struct report_query_eta *e)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set_int(o, "horizon_s", e->horizon_s);
    bad |= report_fmt__set_int(o, "samples", e->samples);
    bad |= report_fmt__set(o, "mae_s", report_fmt__jreal1(e->mae_s));
    bad |= report_fmt__set(o, "p90_s", report_fmt__jreal1(e->p90_s));
    bad |= report_fmt__set(o, "bias_s", report_fmt__jreal1(e->bias_s));
    bad |= report_fmt__set_int(o, "accurate", e->accurate);
    bad |=
        report_fmt__set(o, "accuracy_pct", report_fmt__jreal1(e->accuracy_pct));
    bad |= report_fmt__set_int(o, "covered", e->covered);
    bad |=
        report_fmt__set(o, "coverage_pct", report_fmt__jreal1(e->coverage_pct));
    return report_fmt__done(o, bad);
}

/* The daily document; NULL when memory ran out. The caller releases it. */
static json_t *report_fmt__jdaily(const struct report_query_daily *d,
                                  int english)
{
    json_t *o = report_fmt__jhead("daily");
    json_t *routes = json_array(), *runs = json_array();
    json_t *stops = json_array(), *hourly = json_array();
    json_t *eta = json_array();
    int bad;

    /* Set first, so that O owns every array whatever fails next. */
    bad = report_fmt__set(o, "date", report_fmt__jstr(d->date));
    bad |= report_fmt__set(o, "built_at", report_fmt__jstr(d->built_at));
    bad |= report_fmt__jlang_params(o, english, &d->p);
    bad |= report_fmt__set(o, "summary", report_fmt__jsummary(d));
    bad |= report_fmt__set(o, "routes", routes);
    bad |= report_fmt__set(o, "runs", runs);
    bad |= report_fmt__set(o, "stops", stops);
    bad |= report_fmt__set(o, "hourly", hourly);
    /* Empty before shuttle-live scored any prediction of the day. */
    bad |= report_fmt__set(o, "prediction_accuracy", eta);
    if (bad)
        return report_fmt__done(o, bad);
    for (size_t i = 0; i < d->nroutes && !bad; i++)
        bad = report_fmt__append(routes, report_fmt__jroute(&d->routes[i]));
    for (size_t i = 0; i < d->nruns && !bad; i++)
        bad = report_fmt__append(runs, report_fmt__jrun(&d->runs[i]));
    for (size_t i = 0; i < d->nstops && !bad; i++)
        bad = report_fmt__append(stops, report_fmt__jstop(&d->stops[i]));
    for (int h = 0; h < 24 && !bad; h++)
        bad = report_fmt__append(hourly,
                                 json_pack("{s:i,s:i,s:i}", "hour", h,
                                           "boarded", d->hour_boarded[h],
                                           "alighted", d->hour_alighted[h]));
    for (size_t i = 0; i < d->neta && !bad; i++)
        bad = report_fmt__append(eta, report_fmt__jeta(&d->eta[i]));
    return report_fmt__done(o, bad);
}

static json_t *report_fmt__jday(const struct report_query_day *d)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set(o, "date", report_fmt__jstr(d->date));
    bad |= report_fmt__set(o, "built", json_boolean(d->built));
    /* A day never built has no figures at all: absent, not zero. */
    if (d->built) {
        bad |= report_fmt__set_int(o, "boarded", d->boarded);
        bad |= report_fmt__set(o, "pct_of_target",
                               report_fmt__jreal1(d->pct_of_target));
        bad |=
            report_fmt__set(o, "below_target", json_boolean(d->below_target));
        bad |= report_fmt__set_int(o, "runs_scheduled", d->runs_scheduled);
        bad |= report_fmt__set_int(o, "runs_operated", d->runs_operated);
        bad |= report_fmt__set_int(o, "runs_partial", d->runs_partial);
        bad |= report_fmt__set_int(o, "runs_missed", d->runs_missed);
        bad |= report_fmt__set_int(o, "runs_late", d->runs_late);
    }
    bad |= report_fmt__set_int(o, "eta_samples", d->eta_samples);
    bad |= report_fmt__set(o, "eta_mae_s",
                           d->eta_samples > 0 ? report_fmt__jreal1(d->eta_mae_s)
                                              : json_null());
    bad |= report_fmt__set(o, "eta_accuracy_pct",
                           d->eta_samples > 0
                               ? report_fmt__jreal1(d->eta_accuracy_pct)
                               : json_null());
    return report_fmt__done(o, bad);
}

static json_t *report_fmt__jrange_summary(const struct report_query_range *r)
{
    json_t *o = json_object();
    int bad;

    if (o == NULL)
        return NULL;
    bad = report_fmt__set_int(o, "days", (long long)r->ndays);
    bad |= report_fmt__set_int(o, "days_built", r->days_built);
    bad |= report_fmt__set_int(o, "days_below_target", r->days_below);
    bad |= report_fmt__set_int(o, "boarded_total", r->boarded_total);
    bad |=
        report_fmt__set(o, "boarded_mean", report_fmt__jreal1(r->boarded_mean));
    bad |= report_fmt__set_int(o, "target", r->p.target);
    bad |=
        report_fmt__set_int(o, "eta_horizon_s", REPORT_QUERY_RANGE_HORIZON_S);
    return report_fmt__done(o, bad);
}

/* The range document; NULL when memory ran out. The caller releases it. */
static json_t *report_fmt__jrange(const struct report_query_range *r,
                                  int english)
{
    json_t *o = report_fmt__jhead("range");
    json_t *days = json_array(), *below = json_array();
    int bad;

    bad = report_fmt__set(o, "from", report_fmt__jstr(r->from));
    bad |= report_fmt__set(o, "to", report_fmt__jstr(r->to));
    bad |= report_fmt__jlang_params(o, english, &r->p);
    bad |= report_fmt__set(o, "summary", report_fmt__jrange_summary(r));
    bad |= report_fmt__set(o, "days", days);
    bad |= report_fmt__set(o, "below_target", below);
    if (bad)
        return report_fmt__done(o, bad);
    for (size_t i = 0; i < r->ndays && !bad; i++) {
        const struct report_query_day *d = &r->days[i];

        bad = report_fmt__append(days, report_fmt__jday(d));
        if (!bad && d->built && d->below_target)
            bad = report_fmt__append(below, report_fmt__jstr(d->date));
    }
    return report_fmt__done(o, bad);
}

/* Write DOC (released here) and a newline to FP. The text is made in
 * memory first, so that memory running out half way writes nothing rather
 * than half a document a script could take for the report. json_dumpb
 * into a buffer of the measured size, not json_dumps: jansson's dumper
 * ignores a failed write of an object key, so json_dumps, whose buffer
 * grows, can return a document with a key missing when an allocation
 * fails (test_json_no_memory saw it); writing into a buffer cannot fail. */
static int report_fmt__jwrite(FILE *fp, json_t *doc)
{
    size_t n = doc ? json_dumpb(doc, NULL, 0, JFLAGS) : 0;
    char *text = n ? malloc(n + 1) : NULL;
    int ok = text != NULL && json_dumpb(doc, text, n, JFLAGS) == n;

    json_decref(doc);
    if (!ok) {
        free(text);
        errno = ENOMEM; /* jansson's allocations do not all set it */
        return -1;
    }
    text[n] = '\n';
    ok = fwrite(text, 1, n + 1, fp) == n + 1;
    free(text);
    return ok ? report_fmt__finish(fp) : -1;
}

int report_fmt_daily_json(FILE *fp, const struct report_query_daily *d,
                          int english)
{
    return report_fmt__jwrite(fp, report_fmt__jdaily(d, english));
}

int report_fmt_range_json(FILE *fp, const struct report_query_range *r,
                          int english)
{
    return report_fmt__jwrite(fp, report_fmt__jrange(r, english));
}
