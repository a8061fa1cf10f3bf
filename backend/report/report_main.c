/* shuttle-report: the operator's ridership report (daily, or a range of
 * days) from the derived tables, as text, CSV, JSON or HTML. */
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "report_fmt.h"
#include "report_html.h"
#include "report_query.h"
#include "report_text.h"
#include "schema.h"
#include "svcday.h"

/* Exit codes, documented in the usage text. */
enum {
    EXIT_OK = 0,
    EXIT_DB = 1,
    EXIT_USAGE = 2,
    EXIT_EMPTY = 3,
    EXIT_OTHER = 4,
    EXIT_SCHEMA = SCHEMA_EXIT, /* the schema is newer than this binary */
};

/* Ten years: a longer range is a typing mistake, not a report. */
#define MAX_RANGE_DAYS 3660

struct report_conf {
    char *database;
    long long target_riders;
    long long seats;
    long long crowded_pct;
    long long late_s;
    long long counter_pct;
    long long counter_slack;
};

#define OPT(name, type, field, def, lo, hi, help)                              \
    {                                                                          \
        name, type, offsetof(struct report_conf, field), def, lo, hi, 0, help  \
    }

static const struct conf_option report_options[] = {
    OPT("database", CONF_STRING, database, "dbname=shuttle", 0, 0,
        "libpq connection string of the telemetry database (read access to "
        "the derived tables is enough)"),
    OPT("target_riders", CONF_INT, target_riders, "1500", 1, 1000000,
        "riders a day the district reports against"),
    OPT("seats", CONF_INT, seats, "45", 1, 500, "seats per bus"),
    OPT("crowded_pct", CONF_INT, crowded_pct, "90", 1, 1000,
        "a run whose peak load reaches this % of the seats is crowded"),
    OPT("late_s", CONF_INT, late_s, "300", 0, 86400,
        "a run that started more than this many seconds late is late"),
    OPT("counter_pct", CONF_INT, counter_pct, "10", 0, 100,
        "a run's boardings and alightings may differ by this % of the "
        "larger..."),
    OPT("counter_slack", CONF_INT, counter_slack, "2", 0, 1000,
        "...plus this many riders before its counter is suspect"),
    {NULL, 0, 0, NULL, 0, 0, 0, NULL},
};

enum format { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_HTML };

static void usage(FILE *fp)
{
    fprintf(fp, "usage: shuttle-report [-hn] [-f file] [-o key=value] "
                "[--lang ko|en]\n"
                "                      [--format text|csv|json|html] "
                "[--table NAME]\n"
                "                      daily [--date YYYY-MM-DD]\n"
                "       shuttle-report [options] range --from YYYY-MM-DD --to "
                "YYYY-MM-DD\n"
                "  -f file        configuration (default "
                "/etc/shuttle/report.conf, if present)\n"
                "  -o key=value   set one option, after the file "
                "(e.g. -o database='host=db dbname=shuttle')\n"
                "  -n             check the configuration and exit (no "
                "command needed)\n"
                "  --lang ko|en   labels and stop names (default ko)\n"
                "  --format F     text (default), csv, json or html (one "
                "self-contained page)\n"
                "  --table NAME   which table a daily CSV holds: summary, "
                "routes, runs (default),\n"
                "                 stops, hourly or accuracy (predictions); a "
                "range's CSV is its days\n"
                "  --date D       the service day of a daily report (default: "
                "yesterday, in the feed's time zone)\n"
                "  --example-config  print every option with its default\n"
                "exit: 0 ok, 1 database unreachable, 2 usage or bad date, "
                "3 day not built or empty, 4 other errors,\n"
                "      5 the database schema is newer than this binary\n");
}

static void report_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void report_err(const char *fmt, ...)
{
    va_list ap;

    fputs("shuttle-report: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Yesterday's service day in the feed's zone, into out. Returns 0, or -1
 * with the reason reported. */
static int report_yesterday(struct report_query *q, char out[11])
{
    char zone[SVCDAY_ZONE_MAX], err[512];
    struct svcday svc;
    int32_t today;

    if (report_query_service_zone(q, zone, sizeof zone, err, sizeof err) !=
        REPORT_QUERY_OK) {
        report_err("%s", err);
        return -1;
    }
    if (svcday_init(&svc, zone) != SVCDAY_OK ||
        svcday_day(&svc, (int64_t)time(NULL) * 1000, &today) != SVCDAY_OK) {
        report_err("service time zone '%s' is not in the tz database", zone);
        return -1;
    }
    report_text_format_date((long)today - 1, out);
    return 0;
}

static int load_conf(struct report_conf *c, const char *file, int explicit,
                     const char **ov, int nov)
{
    char err[512];

    if (explicit || access(file, F_OK) == 0) {
        if (conf_load(report_options, c, file, err, sizeof err) != CONF_OK) {
            report_err("%s", err);
            return -1;
        }
    } else if (conf_defaults(report_options, c, err, sizeof err) != CONF_OK) {
        report_err("%s", err);
        return -1;
    }
    if (conf_set_pairs(report_options, c, ov, nov, err, sizeof err) !=
        CONF_OK) {
        report_err("%s", err);
        return -1;
    }
    return 0;
}

/* Validate an option's date; the message names the option. */
static int date_arg(const char *opt, const char *s, long *days)
{
    char err[128];

    if (report_text_parse_date(s, days, err, sizeof err) !=
        REPORT_TEXT_DATE_OK) {
        report_err("%s: %s", opt, err);
        return -1;
    }
    return 0;
}

static int map_err(int rc)
{
    switch (rc) {
    case REPORT_QUERY_OK:
        return EXIT_OK;
    case REPORT_QUERY_ERR_CONNECT:
        return EXIT_DB;
    case REPORT_QUERY_ERR_EMPTY:
        return EXIT_EMPTY;
    default:
        return EXIT_OTHER;
    }
}

static int run_daily(struct report_query *q,
                     const struct report_query_params *p, const char *date,
                     enum format f, enum report_fmt_table t)
{
    struct report_query_daily d;
    char err[512], n[32];
    int rc = report_query_daily(q, p, date, &d, err, sizeof err);

    if (rc == REPORT_QUERY_ERR_EMPTY && d.raw_counts > 0)
        report_err("the day %s has not been built (%s passenger counts are "
                   "stored for it): run shuttle-backend --rebuild %s",
                   date, report_text_thousands(d.raw_counts, n, sizeof n),
                   date);
    else if (rc == REPORT_QUERY_ERR_EMPTY)
        report_err("no data for %s: the day has not been built and no "
                   "passenger counts are stored for it; try another --date "
                   "(or shuttle-backend --rebuild %s once data is in)",
                   date, date);
    else if (rc != REPORT_QUERY_OK)
        report_err("%s: %s", date, err);
    if (rc == REPORT_QUERY_OK) {
        switch (f) {
        case FMT_CSV:
            rc = report_fmt_daily_csv(stdout, &d, p->english, t);
            break;
        case FMT_JSON:
            rc = report_fmt_daily_json(stdout, &d, p->english);
            break;
        case FMT_HTML:
            rc = report_html_daily(stdout, &d, p->english);
            break;
        default:
            rc = report_fmt_daily_text(stdout, &d, p->english);
        }
        if (rc != 0) {
            report_err("writing the report: %m");
            rc = REPORT_QUERY_ERR_QUERY;
        }
    }
    report_query_daily_free(&d);
    return map_err(rc);
}

static int run_range(struct report_query *q,
                     const struct report_query_params *p, const char *from,
                     const char *to, enum format f)
{
    struct report_query_range r;
    char err[512];
    int rc = report_query_range(q, p, from, to, &r, err, sizeof err);

    if (rc == REPORT_QUERY_ERR_EMPTY)
        report_err("no day from %s to %s has been built: run "
                   "shuttle-backend --rebuild DATE, or choose other dates",
                   from, to);
    else if (rc != REPORT_QUERY_OK)
        report_err("%s", err);
    if (rc == REPORT_QUERY_OK) {
        switch (f) {
        case FMT_CSV:
            rc = report_fmt_range_csv(stdout, &r, p->english);
            break;
        case FMT_JSON:
            rc = report_fmt_range_json(stdout, &r, p->english);
            break;
        case FMT_HTML:
            rc = report_html_range(stdout, &r, p->english);
            break;
        default:
            rc = report_fmt_range_text(stdout, &r, p->english);
        }
        if (rc != 0) {
            report_err("writing the report: %m");
            rc = REPORT_QUERY_ERR_QUERY;
        }
    }
    report_query_range_free(&r);
    return map_err(rc);
}

int main(int argc, char **argv)
{
    enum { O_LANG = 256, O_FORMAT, O_TABLE, O_DATE, O_FROM, O_TO, O_EX };
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"lang", required_argument, NULL, O_LANG},
        {"format", required_argument, NULL, O_FORMAT},
        {"table", required_argument, NULL, O_TABLE},
        {"date", required_argument, NULL, O_DATE},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"example-config", no_argument, NULL, O_EX},
        {NULL, 0, NULL, 0},
    };
    const char *conffile = "/etc/shuttle/report.conf";
    const char *overrides[32];
    const char *date = NULL, *from = NULL, *to = NULL, *cmd;
    const char *table_name = NULL;
    int noverrides = 0, explicit_file = 0, english = 0, check = 0, ch, rc;
    enum format f = FMT_TEXT;
    enum report_fmt_table table = REPORT_FMT_T_RUNS;
    struct report_conf c;
    struct report_query_params p;
    struct report_query *q;
    char err[512], yesterday[11];
    long d0, d1;

    while ((ch = getopt_long(argc, argv, "f:hno:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            conffile = optarg;
            explicit_file = 1;
            break;
        case 'n':
            check = 1;
            break;
        case 'o':
            if (noverrides == 32) {
                report_err("too many -o options");
                return EXIT_USAGE;
            }
            overrides[noverrides++] = optarg;
            break;
        case O_LANG:
            if (strcmp(optarg, "ko") != 0 && strcmp(optarg, "en") != 0) {
                report_err("--lang %s: expected ko or en", optarg);
                return EXIT_USAGE;
            }
            english = strcmp(optarg, "en") == 0;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "text") == 0)
                f = FMT_TEXT;
            else if (strcmp(optarg, "csv") == 0)
                f = FMT_CSV;
            else if (strcmp(optarg, "json") == 0)
                f = FMT_JSON;
            else if (strcmp(optarg, "html") == 0)
                f = FMT_HTML;
            else {
                report_err("--format %s: expected text, csv, json or html",
                           optarg);
                return EXIT_USAGE;
            }
            break;
        case O_TABLE:
            table_name = optarg;
            if (report_fmt_table_parse(optarg, &table) != 0 ||
                table == REPORT_FMT_T_DAYS) {
                report_err("--table %s: expected summary, routes, runs, "
                           "stops, hourly or accuracy",
                           optarg);
                return EXIT_USAGE;
            }
            break;
        case O_DATE:
            date = optarg;
            break;
        case O_FROM:
            from = optarg;
            break;
        case O_TO:
            to = optarg;
            break;
        case O_EX:
            conf_print_example(report_options, stdout);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    /* -n as the daemons have it: the file (and -o) parse and are in
     * bounds; nothing is connected, so an installed package's conffile can
     * be checked before the database is set up. */
    if (check) {
        if (optind != argc) {
            report_err("-n takes no command");
            return EXIT_USAGE;
        }
        memset(&c, 0, sizeof c);
        if (load_conf(&c, conffile, explicit_file, overrides, noverrides) != 0)
            return EXIT_USAGE;
        conf_free(report_options, &c);
        printf("configuration OK\n");
        return EXIT_OK;
    }
    if (optind != argc - 1) {
        report_err(optind == argc ? "no command: daily or range"
                                  : "one command only: daily or range");
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    if (strcmp(cmd, "daily") == 0) {
        if (from || to) {
            report_err("--from and --to belong to range, not daily");
            return EXIT_USAGE;
        }
        if (date != NULL && date_arg("--date", date, &d0) != 0)
            return EXIT_USAGE;
    } else if (strcmp(cmd, "range") == 0) {
        if (date || table_name) {
            report_err("%s belongs to daily, not range",
                       date ? "--date" : "--table");
            return EXIT_USAGE;
        }
        if (from == NULL || to == NULL) {
            report_err("range needs --from and --to");
            return EXIT_USAGE;
        }
        if (date_arg("--from", from, &d0) != 0 ||
            date_arg("--to", to, &d1) != 0)
            return EXIT_USAGE;
        if (d1 < d0) {
            report_err("--to %s is before --from %s", to, from);
            return EXIT_USAGE;
        }
        if (d1 - d0 + 1 > MAX_RANGE_DAYS) {
            report_err("%s .. %s is %ld days; at most %d", from, to,
                       d1 - d0 + 1, MAX_RANGE_DAYS);
            return EXIT_USAGE;
        }
    } else {
        report_err("unknown command '%s': daily or range", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }

    memset(&c, 0, sizeof c);
    if (load_conf(&c, conffile, explicit_file, overrides, noverrides) != 0)
        return EXIT_USAGE;
    p = (struct report_query_params){
        .target = (int)c.target_riders,
        .seats = (int)c.seats,
        .crowded_pct = (int)c.crowded_pct,
        .late_s = (int)c.late_s,
        .counter_pct = (int)c.counter_pct,
        .counter_slack = (int)c.counter_slack,
        .english = english,
    };

    rc = report_query_open(c.database, &q, err, sizeof err);
    if (rc != REPORT_QUERY_OK) {
        report_err("%s", err);
        conf_free(report_options, &c);
        return map_err(rc);
    }
    /* Reached: a schema newer than us would give numbers from tables whose
     * meaning we do not know. A failed check is left to the query, which
     * says why with its own exit code. */
    if (report_query_schema_newer(q, err, sizeof err)) {
        report_err("%s", err);
        report_query_close(q);
        conf_free(report_options, &c);
        return EXIT_SCHEMA;
    }
    if (strcmp(cmd, "daily") == 0 && date == NULL) {
        if (report_yesterday(q, yesterday) != 0) {
            report_query_close(q);
            conf_free(report_options, &c);
            return EXIT_OTHER;
        }
        date = yesterday;
    }
    if (strcmp(cmd, "daily") == 0)
        rc = run_daily(q, &p, date, f, table);
    else
        rc = run_range(q, &p, from, to, f);
    report_query_close(q);
    conf_free(report_options, &c);
    return rc;
}
