/* shuttle-sim: a simulated service day of the Geomdan shuttle. Reads the
 * timetable from the database, moves the buses along their blocks, and
 * sends each bus's NMEA to its gpsd and its passenger-counter sentences to
 * its shuttle-onboard over UDP, writing what really happened to a CSV. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nmea.h"
#include "sim_bus.h"
#include "sim_demand.h"
#include "sim_feed.h"
#include "sim_geo.h"
#include "sim_rng.h"

#define MAX_BUSES 64
#define HEARTBEAT_S 5

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
    quit = sig;
}

struct options {
    const char *database, *date, *truth, *host;
    uint64_t seed;
    double riders, speed, gps_noise, counter_error;
    int start, end; /* seconds after midnight; -1: from the plan */
    int gps_ports[MAX_BUSES], ngps;
    int counter_ports[MAX_BUSES], ncounter;
    char *late[32];
    int nlate;
    char *miss[32];
    int nmiss;
    /* bus is still 1-based here: the number of blocks is not known yet */
    struct sim_event dropout[SIM_MAX_EVENTS], idle[SIM_MAX_EVENTS];
    int ndropout, nidle;
    int quiet;
    int fixed_seed; /* the day's randomness from --seed alone */
    int traffic;    /* enum sim_traffic_level */
    int traffic_given;
    struct sim_traffic_incident incident[SIM_TRAFFIC_MAX_INCIDENTS];
    int nincident;
};

/* What one bus's onboard equipment has sent, for numbering and noise. */
struct bus_io {
    struct sim_rng rng;      /* GPS noise */
    double noise_n, noise_e; /* slowly wandering part of the GPS error */
    int on;
    double on_since;
    unsigned seq; /* counter sentence number */
    int cl_next, drop_next;
    double next_hb;
    double lat, lon; /* last true position, for the summary */
};

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: shuttle-sim --database CONNINFO [options]\n"
        "  --database CONNINFO  PostgreSQL with the GTFS feed loaded\n"
        "                       (shuttle-backend --load-gtfs DIR)\n"
        "  --date YYYY-MM-DD    service day, in the feed's time zone "
        "(default today in the feed's zone)\n"
        "  --seed N             random seed; same seed and date, same day "
        "(default 1)\n"
        "  --fixed-seed         the same day from the same seed on any date\n"
        "                       (tests that simulate a recent day pin it)\n"
        "  --riders N           expected boardings on the day (default "
        "1500)\n"
        "  --speed N            simulated seconds per real second; 0 as fast "
        "as possible\n"
        "                       (default 1)\n"
        "  --start HH:MM --end HH:MM  simulate part of the day (default: "
        "all of it)\n"
        "  --gpsd-ports P1,P2,...     UDP port of each bus's gpsd "
        "(bus-1 first)\n"
        "  --counter-ports C1,C2,...  UDP port of each bus's counter input\n"
        "  --host ADDR          where those ports are (default 127.0.0.1)\n"
        "  --truth FILE         write every stop visit as it really happened\n"
        "  --late TRIP:MIN      start TRIP MIN minutes late (repeatable)\n"
        "  --miss TRIP          TRIP is not run (repeatable)\n"
        "  --gps-noise M        GPS error, metres (default 3)\n"
        "  --counter-error PCT  people the counter misses, percent "
        "(default 3)\n"
        "  --dropout BUS:HH:MM:MIN  bus BUS (1 = bus-1) has no GPS fix for "
        "MIN\n"
        "                       minutes from HH:MM; it keeps to its schedule\n"
        "                       and its receiver keeps sending no-fix "
        "sentences\n"
        "  --idle BUS:HH:MM:MIN  bus BUS stands at a terminal, engine on, for "
        "MIN\n"
        "                       minutes from HH:MM (or from its next "
        "terminal\n"
        "                       stand after HH:MM); a run due meanwhile "
        "leaves late\n"
        "  --traffic off|normal|heavy  per-segment traffic: a character "
        "per road\n"
        "                       segment, day-to-day variation, congestion "
        "shared by\n"
        "                       every bus in the same half-hour, signals, "
        "bunching\n"
        "                       (default off: one city-wide rush-hour "
        "curve)\n"
        "  --incident FROM-TO@HH:MM+MIN  the segment from stop FROM to stop "
        "TO is\n"
        "                       3 times slower for MIN minutes (repeatable; "
        "needs\n"
        "                       --traffic, normal when not given)\n"
        "  --incident random    one incident on a random segment, 30 to 60 "
        "min\n"
        "                       between 07:00 and 19:00\n"
        "  --quiet              no progress line\n");
}

static int parse_hhmm(const char *s, int *out)
{
    int h, m;
    char c;

    if (sscanf(s, "%d:%d%c", &h, &m, &c) != 2 || h < 0 || h > 47 || m < 0 ||
        m > 59)
        return -1;
    *out = h * 3600 + m * 60;
    return 0;
}

static int parse_ports(const char *s, int *ports, int *n)
{
    char *copy = strdup(s), *save = NULL, *tok;

    *n = 0;
    if (!copy)
        return -1;
    for (tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(tok, &end, 10);

        if (*end || v < 1 || v > 65535 || *n == MAX_BUSES) {
            free(copy);
            return -1;
        }
        ports[(*n)++] = (int)v;
    }
    free(copy);
    return *n > 0 ? 0 : -1;
}

/* "FROM-TO@HH:MM+MIN" or "random" into E; -1 when malformed. */
static int parse_incident(const char *s, struct sim_traffic_incident *e)
{
    const char *at = strrchr(s, '@'), *dash;
    int h, m, n = 0;
    double min;

    memset(e, 0, sizeof *e);
    e->slow = 3.0;
    if (strcmp(s, "random") == 0) {
        e->t = -1;
        return 0;
    }
    dash = at ? memchr(s, '-', (size_t)(at - s)) : NULL;
    if (!at || !dash || dash == s || dash + 1 == at ||
        (size_t)(dash - s) >= sizeof e->from ||
        (size_t)(at - dash - 1) >= sizeof e->to ||
        sscanf(at + 1, "%d:%d+%lf%n", &h, &m, &min, &n) != 3 ||
        at[1 + n] != '\0' || h < 0 || h > 47 || m < 0 || m > 59 ||
        !(min > 0 && min <= 600))
        return -1;
    memcpy(e->from, s, (size_t)(dash - s));
    memcpy(e->to, dash + 1, (size_t)(at - dash - 1));
    e->t = h * 3600 + m * 60;
    e->dur = min * 60;
    return 0;
}

/* "BUS:HH:MM:MIN" (BUS 1-based, MIN 1..600) into E; -1 when malformed. */
static int parse_event(const char *s, struct sim_event *e)
{
    int bus, h, m, n = 0;
    double min;

    if (sscanf(s, "%d:%d:%d:%lf%n", &bus, &h, &m, &min, &n) != 4 ||
        s[n] != '\0' || bus < 1 || bus > MAX_BUSES || h < 0 || h > 47 ||
        m < 0 || m > 59 || !(min > 0 && min <= 600))
        return -1;
    e->bus = bus;
    e->t = h * 3600 + m * 60;
    e->dur = min * 60;
    return 0;
}

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);

    if (*end || !(v >= lo && v <= hi)) {
        fprintf(stderr,
                "shuttle-sim: %s %s: expected a number in "
                "[%g, %g]\n",
                opt, s, lo, hi);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    enum {
        O_DB = 256,
        O_DATE,
        O_SEED,
        O_RIDERS,
        O_SPEED,
        O_START,
        O_END,
        O_GPS,
        O_CNT,
        O_HOST,
        O_TRUTH,
        O_LATE,
        O_MISS,
        O_NOISE,
        O_CERR,
        O_DROPOUT,
        O_IDLE,
        O_QUIET,
        O_FIXED_SEED,
        O_TRAFFIC,
        O_INCIDENT
    };
    static const struct option longopts[] = {
        {"database", required_argument, NULL, O_DB},
        {"date", required_argument, NULL, O_DATE},
        {"seed", required_argument, NULL, O_SEED},
        {"riders", required_argument, NULL, O_RIDERS},
        {"speed", required_argument, NULL, O_SPEED},
        {"start", required_argument, NULL, O_START},
        {"end", required_argument, NULL, O_END},
        {"gpsd-ports", required_argument, NULL, O_GPS},
        {"counter-ports", required_argument, NULL, O_CNT},
        {"host", required_argument, NULL, O_HOST},
        {"truth", required_argument, NULL, O_TRUTH},
        {"late", required_argument, NULL, O_LATE},
        {"miss", required_argument, NULL, O_MISS},
        {"gps-noise", required_argument, NULL, O_NOISE},
        {"counter-error", required_argument, NULL, O_CERR},
        {"dropout", required_argument, NULL, O_DROPOUT},
        {"idle", required_argument, NULL, O_IDLE},
        {"quiet", no_argument, NULL, O_QUIET},
        {"fixed-seed", no_argument, NULL, O_FIXED_SEED},
        {"traffic", required_argument, NULL, O_TRAFFIC},
        {"incident", required_argument, NULL, O_INCIDENT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->riders = 1500;
    o->speed = 1;
    o->gps_noise = 3;
    o->counter_error = 0.03;
    o->start = o->end = -1;
    o->host = "127.0.0.1";
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_DB:
            o->database = optarg;
            break;
        case O_DATE:
            o->date = optarg;
            break;
        case O_SEED:
            o->seed = (uint64_t)parse_num("--seed", optarg, 0, 1e15);
            break;
        case O_RIDERS:
            o->riders = parse_num("--riders", optarg, 0, 1e6);
            break;
        case O_SPEED:
            o->speed = parse_num("--speed", optarg, 0, 1e6);
            break;
        case O_NOISE:
            o->gps_noise = parse_num("--gps-noise", optarg, 0, 1000);
            break;
        case O_CERR:
            o->counter_error =
                parse_num("--counter-error", optarg, 0, 50) / 100;
            break;
        case O_START:
        case O_END:
            if (parse_hhmm(optarg, ch == O_START ? &o->start : &o->end)) {
                fprintf(stderr, "shuttle-sim: %s: expected HH:MM\n", optarg);
                exit(2);
            }
            break;
        case O_GPS:
        case O_CNT:
            if (parse_ports(optarg,
                            ch == O_GPS ? o->gps_ports : o->counter_ports,
                            ch == O_GPS ? &o->ngps : &o->ncounter)) {
                fprintf(stderr, "shuttle-sim: %s: expected ports P1,P2,...\n",
                        optarg);
                exit(2);
            }
            break;
        case O_HOST:
            o->host = optarg;
            break;
        case O_TRUTH:
            o->truth = optarg;
            break;
        case O_LATE:
            if (o->nlate == 32 || !strchr(optarg, ':')) {
                fprintf(stderr, "shuttle-sim: --late %s: expected TRIP:MIN\n",
                        optarg);
                exit(2);
            }
            o->late[o->nlate++] = optarg;
            break;
        case O_MISS:
            if (o->nmiss == 32) {
                fprintf(stderr, "shuttle-sim: too many --miss\n");
                exit(2);
            }
            o->miss[o->nmiss++] = optarg;
            break;
        case O_DROPOUT:
        case O_IDLE: {
            int *n = ch == O_IDLE ? &o->nidle : &o->ndropout;
            struct sim_event *e = ch == O_IDLE ? o->idle : o->dropout;

            if (*n == SIM_MAX_EVENTS || parse_event(optarg, &e[*n]) != 0) {
                fprintf(stderr,
                        "shuttle-sim: --%s %s: expected BUS:HH:MM:MIN "
                        "(at most %d)\n",
                        ch == O_IDLE ? "idle" : "dropout", optarg,
                        SIM_MAX_EVENTS);
                exit(2);
            }
            (*n)++;
            break;
        }
        case O_QUIET:
            o->quiet = 1;
            break;
        case O_FIXED_SEED:
            o->fixed_seed = 1;
            break;
        case O_TRAFFIC:
            if (strcmp(optarg, "off") == 0)
                o->traffic = SIM_TRAFFIC_OFF;
            else if (strcmp(optarg, "normal") == 0)
                o->traffic = SIM_TRAFFIC_NORMAL;
            else if (strcmp(optarg, "heavy") == 0)
                o->traffic = SIM_TRAFFIC_HEAVY;
            else {
                fprintf(stderr,
                        "shuttle-sim: --traffic %s: expected off, normal or "
                        "heavy\n",
                        optarg);
                exit(2);
            }
            o->traffic_given = 1;
            break;
        case O_INCIDENT:
            if (o->nincident == SIM_TRAFFIC_MAX_INCIDENTS ||
                parse_incident(optarg, &o->incident[o->nincident]) != 0) {
                fprintf(
                    stderr,
                    "shuttle-sim: --incident %s: expected FROM-TO@HH:MM+MIN "
                    "or random (at most %d)\n",
                    optarg, SIM_TRAFFIC_MAX_INCIDENTS);
                exit(2);
            }
            o->nincident++;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (o->nincident && !o->traffic_given)
        o->traffic = SIM_TRAFFIC_NORMAL; /* an incident needs the model */
    if (o->nincident && o->traffic == SIM_TRAFFIC_OFF) {
        fprintf(stderr, "shuttle-sim: --incident needs --traffic normal or "
                        "heavy\n");
        exit(2);
    }
    if (!o->database || optind != argc) {
        usage(stderr);
        exit(2);
    }
}

static int find_trip(const struct sim_feed *f, const char *id, size_t len)
{
    for (int k = 0; k < f->ntrips; k++)
        if (strlen(f->trips[k].trip_id) == len &&
            strncmp(f->trips[k].trip_id, id, len) == 0)
            return k;
    return -1;
}

/* "2025-06-02T21:30:05.250Z" for service-day seconds T. */
static void iso_utc(char *buf, size_t len, const struct sim_feed *f, double t)
{
    double whole = floor(t);
    time_t s = f->day0 + (time_t)whole;
    int ms = (int)((t - whole) * 1000);
    struct tm tm;

    size_t n;

    gmtime_r(&s, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03uZ",
             (unsigned)(ms > 999 ? 999 : ms) % 1000u);
}

static int write_truth(const char *path, const struct sim_feed *f,
                       const struct sim_plan *p, int start, int end)
{
    FILE *fp = fopen(path, "w");

    if (!fp) {
        fprintf(stderr, "shuttle-sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(fp, "vehicle,trip_id,route_id,direction_id,block_id,stop_id,"
                "stop_sequence,arrival,departure,boarded,alighted,load,"
                "boarded_counted,alighted_counted\n");
    for (int i = 0; i < p->nvisits; i++) {
        const struct sim_visit *v = &p->visits[i];
        const struct sim_trip *t = &f->trips[v->trip];
        const struct sim_stop_time *st = sim_feed_st(f, t, v->j);
        char a[96], d[96];

        if (v->arr < start || v->arr >= end)
            continue;
        iso_utc(a, sizeof a, f, v->arr);
        iso_utc(d, sizeof d, f, v->dep);
        /* GTFS ids are plain here, but quote them as CSV demands. */
        fprintf(fp,
                "bus-%d,\"%s\",\"%s\",%d,\"%s\",\"%s\",%d,%s,%s,%d,%d,%d,"
                "%d,%d\n",
                v->bus + 1, t->trip_id, t->route_id, t->direction, t->block_id,
                f->stops[st->stop].stop_id, st->seq, a, d, v->board, v->alight,
                v->load, v->board_counted, v->alight_counted);
    }
    if (fclose(fp) != 0) {
        fprintf(stderr, "shuttle-sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

struct sender {
    int fd;
    struct sockaddr_in addr;
    long long sent, failed;
};

static void send_to(struct sender *s, int port, const char *buf, int len)
{
    s->addr.sin_port = htons((uint16_t)port);
    if (sendto(s->fd, buf, (size_t)len, 0, (struct sockaddr *)&s->addr,
               sizeof s->addr) == len)
        s->sent++;
    else
        s->failed++;
}

/* One counter sentence: "$PC<TYPE>,<seq>,<ctime>,<fields>*HH\r\n". */
static void send_counter(struct sender *s, int port, struct bus_io *io,
                         double t, const char *type, const char *fields)
{
    char body[96], line[112];
    unsigned long ctime = (unsigned long)((t - io->on_since) * 1000.0);
    int n;

    snprintf(body, sizeof body, "PC%s,%u,%lu,%s", type, io->seq, ctime, fields);
    n = snprintf(line, sizeof line, "$%s*%02X\r\n", body, nmea_checksum(body));
    /* After 65535 comes 1: 0 only ever means "I just started". */
    io->seq = io->seq == 65535 ? 1 : io->seq + 1;
    if (port > 0 && n > 0 && (size_t)n < sizeof line)
        send_to(s, port, line, n);
}

static void send_fix(struct sender *s, int port, const struct sim_feed *f,
                     struct bus_io *io, double t, double lat, double lon,
                     double speed, double track, int valid, double noise)
{
    char buf[256];
    time_t ts = f->day0 + (time_t)t;
    double nlat = lat, nlon = lon;
    int n, m;

    /* Receiver error: a slowly wandering offset plus jitter. */
    io->noise_n = 0.95 * io->noise_n + 0.31 * noise * sim_rng_normal(&io->rng);
    io->noise_e = 0.95 * io->noise_e + 0.31 * noise * sim_rng_normal(&io->rng);
    sim_geo_offset(&nlat, &nlon,
                   io->noise_n + 0.3 * noise * sim_rng_normal(&io->rng),
                   io->noise_e + 0.3 * noise * sim_rng_normal(&io->rng));
    speed += speed > 0.5 ? 0.1 * sim_rng_normal(&io->rng) : 0;
    n = nmea_rmc(buf, sizeof buf, ts, 0, nlat, nlon,
                 (speed < 0 ? 0 : speed) * 3600.0 / 1852.0, track, valid);
    m = n > 0 ? nmea_gga(buf + n, sizeof buf - (size_t)n, ts, 0, nlat, nlon,
                         valid ? 1 : 0, valid ? 8 + (int)(t / 97) % 4 : 0,
                         valid ? 0.9 + 0.1 * ((int)(t / 61) % 5) : 99.9,
                         12.0 + 0.5 * sim_rng_normal(&io->rng))
              : -1;
    if (n <= 0 || m <= 0 || port <= 0)
        return;
    /* One sentence per datagram, as a UDP NMEA source sends them. */
    send_to(s, port, buf, n);
    send_to(s, port, buf + n, m);
}

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct options o;
    struct sim_feed *f = NULL;
    struct sim_demand dem;
    struct sim_plan plan;
    struct sim_plan_opts po;
    struct sim_rng rng_dem, rng_plan;
    struct sim_traffic_conf tconf;
    struct sim_traffic *traffic = NULL;
    struct bus_io io[MAX_BUSES];
    struct sender snd;
    unsigned char *missed;
    int *late_s;
    char err[512];
    long long real0, last_progress = 0;
    uint64_t seed;
    int y = 0, mo = 0, d = 0, start, end, t, riders_win = 0, counted_win = 0;
    int ops = 0, miss = 0, sched_win = 0, max_load = 0;
    long long fixes = 0, clines = 0;

    parse_args(argc, argv, &o);
    if (sim_feed_load(o.database, o.date, &f, err, sizeof err) != 0) {
        fprintf(stderr, "shuttle-sim: %s\n", err);
        return 1;
    }
    o.date = f->date; /* today in the feed's zone when not given */
    for (int i = 0; i < o.ndropout + o.nidle; i++) {
        struct sim_event *e =
            i < o.ndropout ? &o.dropout[i] : &o.idle[i - o.ndropout];

        if (e->bus > f->nblocks) {
            fprintf(stderr, "shuttle-sim: bus %d: %s has only %d buses\n",
                    e->bus, o.date, f->nblocks);
            return 2;
        }
        e->bus--; /* from now on an index */
    }
    if (f->nblocks > MAX_BUSES || (o.ngps && o.ngps < f->nblocks) ||
        (o.ncounter && o.ncounter < f->nblocks)) {
        fprintf(stderr,
                "shuttle-sim: %s has %d blocks (buses) but %d gpsd "
                "and %d counter ports were given\n",
                o.date, f->nblocks, o.ngps, o.ncounter);
        return 2;
    }
    missed = calloc((size_t)f->ntrips, 1);
    late_s = calloc((size_t)f->ntrips, sizeof *late_s);
    if (!missed || !late_s) {
        fprintf(stderr, "shuttle-sim: out of memory\n");
        return 1;
    }
    for (int i = 0; i < o.nmiss; i++) {
        int k = find_trip(f, o.miss[i], strlen(o.miss[i]));

        if (k < 0) {
            fprintf(stderr, "shuttle-sim: --miss %s: no such trip on %s\n",
                    o.miss[i], o.date);
            return 2;
        }
        missed[k] = 1;
    }
    for (int i = 0; i < o.nlate; i++) {
        const char *colon = strrchr(o.late[i], ':');
        int k = find_trip(f, o.late[i], (size_t)(colon - o.late[i]));

        if (k < 0) {
            fprintf(stderr, "shuttle-sim: --late %s: no such trip on %s\n",
                    o.late[i], o.date);
            return 2;
        }
        late_s[k] = (int)(60 * parse_num("--late", colon + 1, 0, 600));
    }

    /* A different day from the same seed is a different day, unless the
     * caller pins it. */
    sscanf(o.date, "%d-%d-%d", &y, &mo, &d);
    seed = o.seed * 1000003ULL +
           (o.fixed_seed ? 0 : (uint64_t)(y * 10000 + mo * 100 + d));
    sim_rng_init(&rng_dem, seed, 1);
    sim_rng_init(&rng_plan, seed, 2);
    if (sim_demand_make(f, missed, o.riders, 45, &rng_dem, &dem) != 0) {
        fprintf(stderr, "shuttle-sim: out of memory\n");
        return 1;
    }
    memset(&po, 0, sizeof po);
    po.seats = 45;
    po.counter_error = o.counter_error;
    po.missed = missed;
    po.late_s = late_s;
    po.dropouts = o.dropout;
    po.ndropouts = o.ndropout;
    po.idles = o.idle;
    po.nidles = o.nidle;
    /* The traffic model's personalities come from --seed alone, its day
     * from the date (or nothing with --fixed-seed), like the rest. */
    sim_traffic_conf_init(&tconf, o.traffic, o.seed,
                          o.fixed_seed ? 0
                                       : (uint64_t)(y * 10000 + mo * 100 + d));
    memcpy(tconf.incidents, o.incident, sizeof o.incident);
    tconf.nincidents = o.nincident;
    if (sim_traffic_make(&tconf, f, &traffic, err, sizeof err) != 0) {
        fprintf(stderr, "shuttle-sim: %s\n", err);
        return 2;
    }
    po.traffic = traffic;
    if (sim_plan_make(f, &dem, &po, &rng_plan, &plan) != 0) {
        fprintf(stderr, "shuttle-sim: out of memory\n");
        return 1;
    }

    /* The window: by default from the first bus switched on to the last
     * switched off. */
    start = o.start;
    end = o.end;
    if (start < 0 || end < 0) {
        double lo = 1e9, hi = 0;

        for (int i = 0; i < f->ntrips; i++) {
            const struct sim_trip *tr = &f->trips[i];

            lo = fmin(lo, sim_feed_st(f, tr, 0)->dep - 900.0);
            hi = fmax(hi, sim_feed_st(f, tr, tr->nst - 1)->arr + 3600.0);
        }
        for (int i = 0; i < plan.nvisits; i++)
            hi = fmax(hi, plan.visits[i].dep + 600);
        if (start < 0)
            start = (int)floor(lo / 60) * 60;
        if (end < 0)
            end = (int)ceil(hi / 60) * 60;
    }
    if (end <= start) {
        fprintf(stderr, "shuttle-sim: --end must be after --start\n");
        return 2;
    }
    if (o.truth && write_truth(o.truth, f, &plan, start, end) != 0)
        return 1;

    memset(&snd, 0, sizeof snd);
    snd.fd = socket(AF_INET, SOCK_DGRAM, 0);
    snd.addr.sin_family = AF_INET;
    if (snd.fd < 0 || inet_pton(AF_INET, o.host, &snd.addr.sin_addr) != 1) {
        fprintf(stderr, "shuttle-sim: bad --host %s or no socket\n", o.host);
        return 1;
    }
    memset(io, 0, sizeof io);
    for (int b = 0; b < plan.nbus; b++)
        sim_rng_init(&io[b].rng, seed, 100 + (uint64_t)b);

    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction sa;

        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    if (!o.quiet)
        fprintf(stderr,
                "shuttle-sim: %s, %d buses, %d runs, %d riders "
                "planned, %02d:%02d-%02d:%02d at %gx\n",
                o.date, plan.nbus, f->ntrips, dem.total, start / 3600,
                start / 60 % 60, end / 3600, end / 60 % 60, o.speed);

    /* One step per simulated second: fixes, then that second's counter
     * sentences; paced against the monotonic clock. */
    real0 = mono_ms();
    for (t = start; t < end && !quit; t++) {
        long long now = mono_ms();
        int on_count = 0;

        if (o.speed > 0) {
            long long due = real0 + (long long)((t - start) * 1000.0 / o.speed);

            if (due > now) {
                poll(NULL, 0, (int)(due - now));
                now = mono_ms();
            }
        }
        for (int b = 0; b < plan.nbus; b++) {
            struct bus_io *s = &io[b];
            double lat, lon, speed, track;
            int ncl, ndrop, gport = o.ngps ? o.gps_ports[b] : 0;
            int cport = o.ncounter ? o.counter_ports[b] : 0;
            const struct sim_cline *cl = sim_bus_clines(&plan, b, &ncl);
            const struct sim_span *dr = sim_bus_dropouts(&plan, b, &ndrop);
            int on = sim_bus_at(&plan, b, t, &lat, &lon, &speed, &track);
            int valid = 1;

            if (on && !s->on) { /* switched on: the counter boots */
                s->on_since = t;
                s->seq = 0;
                s->next_hb = t;
            }
            s->on = on;
            /* Sentences of a door episode that began before the window
             * are skipped with it. */
            while (s->cl_next < ncl && cl[s->cl_next].t < (on ? t : t + 1) &&
                   cl[s->cl_next].t < start)
                s->cl_next++;
            if (!on)
                continue;
            on_count++;
            while (s->drop_next < ndrop && dr[s->drop_next].t1 <= t)
                s->drop_next++;
            if (s->drop_next < ndrop && dr[s->drop_next].t0 <= t)
                valid = 0;
            send_fix(&snd, gport, f, s, t, lat, lon, speed, track, valid,
                     o.gps_noise);
            fixes++;
            if (t >= s->next_hb) {
                send_counter(&snd, cport, s, t, "HB", "APC-SIM,OK");
                clines++;
                s->next_hb = t + HEARTBEAT_S;
            }
            for (; s->cl_next < ncl && cl[s->cl_next].t < t + 1; s->cl_next++) {
                const struct sim_cline *c = &cl[s->cl_next];
                char fields[32];

                if (c->type == SIM_CL_OPEN) {
                    send_counter(&snd, cport, s, c->t, "DO", "1");
                } else if (c->type == SIM_CL_CLOSE) {
                    send_counter(&snd, cport, s, c->t, "DC", "1");
                } else {
                    snprintf(fields, sizeof fields, "1,%d,%d", c->in, c->out);
                    send_counter(&snd, cport, s, c->t, "IO", fields);
                }
                clines++;
            }
        }
        if (!o.quiet && now - last_progress >= 1000) {
            last_progress = now;
            fprintf(stderr,
                    "%sshuttle-sim: %02d:%02d:%02d  %3d%%  %d of %d "
                    "buses on the road%s",
                    isatty(2) ? "\r" : "", t / 3600, t / 60 % 60, t % 60,
                    (int)(100.0 * (t - start) / (end - start)), on_count,
                    plan.nbus, isatty(2) ? "   " : "\n");
        }
    }
    if (!o.quiet && isatty(2))
        fputc('\n', stderr);

    /* The summary covers the window that was simulated. */
    for (int k = 0; k < f->ntrips; k++) {
        int dep = sim_feed_st(f, &f->trips[k], 0)->dep;

        if (dep < start || dep >= t)
            continue;
        sched_win++;
        if (missed[k])
            miss++;
        else
            ops++;
    }
    for (int i = 0; i < plan.nvisits; i++) {
        const struct sim_visit *v = &plan.visits[i];

        if (v->arr < start || v->arr >= t)
            continue;
        riders_win += v->board;
        counted_win += v->board_counted;
        if (v->load > max_load)
            max_load = v->load;
    }
    printf("date=%s\ntimezone=%s\nwindow=%02d:%02d-%02d:%02d%s\nseed=%llu\n"
           "buses=%d\nruns_scheduled=%d\nruns_operated=%d\nruns_missed=%d\n"
           "riders=%d\nriders_counted=%d\nriders_day=%d\nleft_behind_day=%d\n"
           "max_load=%d\ngps_fixes=%lld\ncounter_sentences=%lld\n"
           "datagrams_sent=%lld\ndatagrams_failed=%lld\n",
           o.date, f->tz, start / 3600, start / 60 % 60, t / 3600, t / 60 % 60,
           quit ? " (interrupted)" : "", (unsigned long long)o.seed, plan.nbus,
           sched_win, ops, miss, riders_win, counted_win, dem.total,
           dem.left_behind, max_load, fixes, clines, snd.sent, snd.failed);
    /* Where the disturbances asked for ended up, for whoever checks. */
    for (int i = 0; i < o.ndropout; i++) {
        const struct sim_event *e = &o.dropout[i];
        int a = (int)e->t, z = (int)(e->t + e->dur);

        printf("dropout=bus-%d %02d:%02d:%02d-%02d:%02d:%02d\n", e->bus + 1,
               a / 3600, a / 60 % 60, a % 60, z / 3600, z / 60 % 60, z % 60);
    }
    for (int b = 0; b < plan.nbus; b++) {
        int n;
        const struct sim_span *s = sim_bus_idles(&plan, b, &n);

        for (int i = 0; i < n; i++) {
            int a = (int)s[i].t0, z = (int)s[i].t1;

            printf("idle=bus-%d %02d:%02d:%02d-%02d:%02d:%02d\n", b + 1,
                   a / 3600, a / 60 % 60, a % 60, z / 3600, z / 60 % 60,
                   z % 60);
        }
    }
    /* Only with the model on, so the summary without it is as before. */
    if (traffic)
        printf("traffic=%s\n",
               o.traffic == SIM_TRAFFIC_HEAVY ? "heavy" : "normal");
    for (int i = 0, seg; traffic && i < o.nincident; i++) {
        double t0, t1;
        int a, z;

        if (sim_traffic_incidents(traffic, i, &seg, &t0, &t1) != 0)
            continue;
        a = (int)t0;
        z = (int)t1;
        printf("incident=%s-%s %02d:%02d:%02d-%02d:%02d:%02d\n",
               sim_traffic_segment_stop(traffic, seg, 0, f),
               sim_traffic_segment_stop(traffic, seg, 1, f), a / 3600,
               a / 60 % 60, a % 60, z / 3600, z / 60 % 60, z % 60);
    }
    close(snd.fd);
    sim_traffic_free(traffic);
    sim_plan_free(&plan);
    sim_demand_free(&dem);
    free(missed);
    free(late_s);
    sim_feed_free(f);
    return quit ? 1 : 0;
}
