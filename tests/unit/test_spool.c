/* Unit tests of onboard/spool: the on-disk journal awaiting the backend's ack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#define OVH SPOOL_RECORD_OVERHEAD

/* A record as the test appended it, to compare with what comes back. */
struct want {
    uint64_t seq;
    enum spool_class cls;
    int64_t t_ms;
    size_t len;
    uint32_t tag;
};

/* Payload bytes derived from a tag, so any mix-up shows. */
static void fill(unsigned char *p, size_t len, uint32_t tag)
{
    for (size_t j = 0; j < len; j++)
        p[j] = (unsigned char)(tag * 131u + j * 7u + (tag >> 8));
}

static void check_item(const struct spool_item *it, const struct want *w)
{
    unsigned char buf[4096];

    assert_int_equal(it->seq, w->seq);
    assert_int_equal(it->cls, w->cls);
    assert_int_equal(it->t_ms, w->t_ms);
    assert_int_equal(it->len, w->len);
    fill(buf, w->len, w->tag);
    assert_memory_equal(it->payload, buf, w->len);
}

static uint64_t add(struct spool *s, struct want *w, enum spool_class cls,
                    size_t len, uint32_t tag)
{
    unsigned char buf[4096];

    fill(buf, len, tag);
    w->cls = cls;
    w->len = len;
    w->tag = tag;
    w->t_ms = 1700000000000 + tag;
    assert_int_equal(spool_append(s, cls, w->t_ms, buf, len, &w->seq),
                     SPOOL_OK);
    return w->seq;
}

static char *make_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(256);

    snprintf(p, 256, "%s/test_spool_XXXXXX", base ? base : "/tmp");
    assert_non_null(mkdtemp(p));
    return p;
}

/* Removes the files in dir (flat), and dir itself if rmself. */
static void clear_dir(const char *dir, int rmself)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    if (rmself)
        rmdir(dir);
}

/* Path of the only (or first by name) segment file, "" if none. */
static void seg_path(const char *dir, char *out, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char best[256] = "";

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l > 4 && strcmp(de->d_name + l - 4, ".seg") == 0 &&
            (!best[0] || strcmp(de->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", de->d_name);
    }
    closedir(d);
    if (best[0])
        snprintf(out, size, "%s/%s", dir, best);
    else
        out[0] = '\0';
}

static unsigned char *slurp(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *b;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    b = malloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, b, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return -1;
    return st.st_size;
}

/* Peeks everything held and compares it with want[0..n). */
static void expect_held(struct spool *s, const struct want *want, size_t n)
{
    struct spool_item *it = calloc(n + 1, sizeof *it);
    size_t got;

    assert_int_equal(spool_peek(s, 0, n + 1, SIZE_MAX, it, &got), SPOOL_OK);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        check_item(&it[i], &want[i]);
    free(it);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct spool *s;
    struct spool_item it[32];
    struct want w[10];
    struct spool_stats st;
    size_t n;
    unsigned char big[5000] = {0};
    uint64_t seq, fsyncs;

    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    for (uint32_t i = 0; i < 10; i++)
        add(s, &w[i], i % 3 ? SPOOL_POSITION : SPOOL_COUNT, 100, i);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(w[i].seq, i + 1);
    /* Positions still in the write buffer are returned too. */
    expect_held(s, w, 10);

    assert_int_equal(spool_peek(s, 5, 32, SIZE_MAX, it, &n), SPOOL_OK);
    assert_int_equal(n, 5);
    check_item(&it[0], &w[5]);
    assert_int_equal(spool_peek(s, 0, 3, SIZE_MAX, it, &n), SPOOL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(spool_peek(s, 0, 32, 250, it, &n), SPOOL_OK);
    assert_int_equal(n, 2);
    /* The first record comes even when it alone is over max_bytes. */
    assert_int_equal(spool_peek(s, 0, 32, 10, it, &n), SPOOL_OK);
    assert_int_equal(n, 1);
    check_item(&it[0], &w[0]);

    assert_int_equal(spool_ack(s, 4), SPOOL_OK);
    assert_int_equal(spool_oldest_held(s), 5);
    assert_int_equal(spool_peek(s, 0, 32, SIZE_MAX, it, &n), SPOOL_OK);
    assert_int_equal(n, 6);
    check_item(&it[0], &w[4]);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.records, 6);
    assert_int_equal(st.counts, 2); /* seqs 7 and 10 */
    assert_int_equal(st.positions, 4);
    assert_int_equal(st.acked_seq, 4);
    assert_int_equal(st.oldest_t_ms, w[4].t_ms);

    assert_int_equal(spool_ack(s, 10), SPOOL_OK);
    assert_int_equal(spool_oldest_held(s), 11);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.records, 0);
    /* All acked, but the file being appended to stays: a new file (and a
     * directory sync) per record would wear an SD card at 1 Hz. */
    assert_int_equal(st.segments, 1);
    assert_int_equal(spool_peek(s, 0, 32, SIZE_MAX, it, &n), SPOOL_OK);
    assert_int_equal(n, 0);

    fsyncs = st.fsyncs;
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "x", 1, &seq),
                     SPOOL_OK);
    assert_int_equal(seq, 11);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.fsyncs, fsyncs); /* no new file, no sync yet */
    assert_int_equal(spool_append(s, 7, 1, "x", 1, &seq), SPOOL_ERR_INVAL);
    assert_int_equal(spool_append(s, SPOOL_COUNT, 1, big, sizeof big, &seq),
                     SPOOL_ERR_TOOBIG);
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, NULL, 0, &seq),
                     SPOOL_OK);
    assert_int_equal(seq, 12); /* rejected appends take no seq */
    assert_string_equal(spool_strerror(SPOOL_ERR_BUSY),
                        "spool in use by another process");
    assert_int_equal(spool_close(s), SPOOL_OK);
    clear_dir(dir, 1);
    free(dir);
}

static void test_reopen_keeps_records(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct spool *s, *s2;
    struct spool_stats st;
    struct want w[50];
    struct spool_options o = {.segment_bytes = 1024};
    uint64_t seq;

    assert_int_equal(spool_open(dir, &o, &s), SPOOL_OK);
    /* A second opener is refused while the first holds the lock. */
    assert_int_equal(spool_open(dir, &o, &s2), SPOOL_ERR_BUSY);
    for (uint32_t i = 0; i < 50; i++)
        add(s, &w[i], i % 5 ? SPOOL_POSITION : SPOOL_COUNT, i * 3, i);
    assert_int_equal(spool_ack(s, 12), SPOOL_OK);
    assert_int_equal(spool_close(s), SPOOL_OK);

    assert_int_equal(spool_open(dir, &o, &s), SPOOL_OK);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_true(st.segments > 3); /* the index spans several files */
    assert_int_equal(st.records, 38);
    assert_int_equal(st.acked_seq, 12);
    assert_int_equal(st.fresh, 0);
    assert_int_equal(st.truncated_bytes, 0);
    assert_int_equal(st.next_seq, 51); /* a clean close leaves no gap */
    expect_held(s, w + 12, 38);
    assert_int_equal(spool_append(s, SPOOL_COUNT, 5, "a", 1, &seq), SPOOL_OK);
    assert_int_equal(seq, 51);
    assert_int_equal(spool_close(s), SPOOL_OK);
    clear_dir(dir, 1);
    free(dir);
}

/* A process killed mid-run: counts survive, seqs are not reused. */
static void test_crash_resumes_above(void **state)
{
    (void)state;
    char *dir = make_dir();
    int pfd[2];
    pid_t pid;
    uint64_t last = 0, seq;
    struct spool *s;
    struct spool_stats st;
    int status;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct spool *c;

        if (spool_open(dir, NULL, &c) != SPOOL_OK)
            _exit(1);
        for (int i = 0; i < 200; i++)
            if (spool_append(c, i % 40 ? SPOOL_POSITION : SPOOL_COUNT, i, "pp",
                             2, &last) != SPOOL_OK)
                _exit(2);
        if (write(pfd[1], &last, sizeof last) != sizeof last)
            _exit(3);
        _exit(0); /* no spool_close: positions in the buffer are lost */
    }
    close(pfd[1]);
    assert_int_equal(read(pfd[0], &last, sizeof last), sizeof last);
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(last, 200);

    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.counts, 5); /* fsynced at append */
    assert_true(st.next_seq > last);
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "a", 1, &seq),
                     SPOOL_OK);
    assert_true(seq > last);
    assert_int_equal(spool_close(s), SPOOL_OK);
    clear_dir(dir, 1);
    free(dir);
}

static void test_seq_never_reused(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct spool *s;
    struct spool_stats st;
    uint64_t last = 0, seq;
    char path[512];
    int status;
    pid_t pid;

    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    for (int i = 0; i < 30; i++)
        assert_int_equal(spool_append(s, SPOOL_POSITION, i, "p", 1, &last),
                         SPOOL_OK);
    assert_int_equal(spool_close(s), SPOOL_OK);

    /* Reset: the journal is deleted, the state file stays. */
    seg_path(dir, path, sizeof path);
    assert_true(path[0]);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.fresh, 0);
    assert_int_equal(spool_append(s, SPOOL_COUNT, 1, "c", 1, &seq), SPOOL_OK);
    assert_true(seq > last);
    last = seq;
    assert_int_equal(spool_close(s), SPOOL_OK);

    /* Full loss (new SD card): numbering restarts until floored. */
    clear_dir(dir, 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct spool *c;
        struct spool_stats cs;

        if (spool_open(dir, NULL, &c) != SPOOL_OK ||
            spool_stats(c, &cs) != SPOOL_OK || !cs.fresh || cs.next_seq != 1)
            _exit(1);
        /* The backend's retained ack says `last` was committed. */
        if (spool_seq_floor(c, last + 1) != SPOOL_OK)
            _exit(2);
        _exit(0); /* crash before any append: the floor must persist */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_true(st.next_seq > last);
    assert_int_equal(spool_seq_floor(s, 3), SPOOL_OK); /* never lowers */
    assert_int_equal(spool_append(s, SPOOL_COUNT, 1, "c", 1, &seq), SPOOL_OK);
    assert_true(seq > last);
    assert_int_equal(spool_close(s), SPOOL_OK);

    /* An ack above anything numbered here also lifts the numbering. */
    clear_dir(dir, 0);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    assert_int_equal(spool_append(s, SPOOL_COUNT, 1, "c", 1, &seq), SPOOL_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(spool_ack(s, 5000), SPOOL_OK);
    assert_int_equal(spool_append(s, SPOOL_COUNT, 1, "c", 1, &seq), SPOOL_OK);
    assert_int_equal(seq, 5001);
    assert_int_equal(spool_close(s), SPOOL_OK);
    clear_dir(dir, 1);
    free(dir);
}

/* Twelve records of both classes in one segment; `ends` gets their ends. */
static void build_small(const char *dir, struct want *w, size_t *ends)
{
    static const size_t lens[12] = {0, 1, 7, 30, 100, 3, 64, 200, 17, 5, 90, 2};
    struct spool *s;
    size_t off = 0;

    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    for (uint32_t i = 0; i < 12; i++) {
        add(s, &w[i], i % 2 ? SPOOL_COUNT : SPOOL_POSITION, lens[i], i + 1);
        off += OVH + lens[i];
        ends[i] = off;
    }
    assert_int_equal(spool_close(s), SPOOL_OK);
}

static void test_cut_at_every_offset(void **state)
{
    (void)state;
    char *dir = make_dir();
    char seg[512], stp[512];
    struct want w[12];
    size_t ends[12], size, stsize;
    unsigned char *file, *stfile;
    struct spool *s;
    struct spool_stats st;

    build_small(dir, w, ends);
    seg_path(dir, seg, sizeof seg);
    snprintf(stp, sizeof stp, "%s/state", dir);
    file = slurp(seg, &size);
    stfile = slurp(stp, &stsize);
    assert_int_equal(size, ends[11]);

    for (size_t cut = 0; cut <= size; cut++) {
        size_t keep = 0;

        while (keep < 12 && ends[keep] <= cut)
            keep++;
        clear_dir(dir, 0);
        spit(stp, stfile, stsize);
        spit(seg, file, cut);
        assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
        expect_held(s, w, keep);
        assert_int_equal(spool_stats(s, &st), SPOOL_OK);
        assert_int_equal(st.truncated_bytes, cut - (keep ? ends[keep - 1] : 0));
        assert_int_equal(st.corrupt, 0);
        assert_int_equal(st.next_seq, 13);
        /* The torn tail is cut off the file, or an empty file removed. */
        assert_int_equal(file_size(seg), keep ? (off_t)ends[keep - 1] : -1);
        assert_int_equal(spool_close(s), SPOOL_OK);
    }
    free(file);
    free(stfile);
    clear_dir(dir, 1);
    free(dir);
}

static void test_corrupt_byte(void **state)
{
    (void)state;
    char *dir = make_dir();
    char seg[512];
    struct want w[12], rest[11];
    size_t ends[12], size;
    unsigned char *file;
    struct spool *s;
    struct spool_stats st;
    struct spool_item it[12];
    size_t n;

    build_small(dir, w, ends);
    seg_path(dir, seg, sizeof seg);
    file = slurp(seg, &size);

    /* Any damaged byte costs exactly the record it is in, no other. */
    for (size_t off = 0; off < size; off++) {
        size_t bad = 0, k = 0;

        while (ends[bad] <= off)
            bad++;
        for (size_t i = 0; i < 12; i++)
            if (i != bad)
                rest[k++] = w[i];
        file[off] ^= 0x5a;
        spit(seg, file, size);
        file[off] ^= 0x5a;
        assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
        expect_held(s, rest, 11);
        assert_int_equal(spool_stats(s, &st), SPOOL_OK);
        assert_int_equal(st.next_seq, 13);
        /* Damage before a good record is counted; in the last one it is
           indistinguishable from a torn tail. */
        assert_int_equal(st.corrupt, bad < 11 ? 1 : 0);
        assert_int_equal(spool_close(s), SPOOL_OK);
    }

    /* A record that rots after open is skipped when read, not returned. */
    spit(seg, file, size);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    file[ends[3] + OVH + 2] ^= 1; /* payload of w[4] */
    spit(seg, file, size);
    assert_int_equal(spool_peek(s, 0, 12, SIZE_MAX, it, &n), SPOOL_OK);
    assert_int_equal(n, 11);
    check_item(&it[3], &w[3]);
    check_item(&it[4], &w[5]);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.records, 11);
    assert_int_equal(spool_close(s), SPOOL_OK);
    free(file);
    clear_dir(dir, 1);
    free(dir);
}

/* Held seqs of one class must be the newest ones appended of that class. */
static void expect_suffix(struct spool *s, const uint64_t *seqs, size_t n,
                          enum spool_class cls, uint64_t held)
{
    struct spool_item *it = calloc(n * 2 + 1, sizeof *it);
    size_t got, k = n - held;

    assert_int_equal(spool_peek(s, 0, n * 2 + 1, SIZE_MAX, it, &got), SPOOL_OK);
    for (size_t i = 0; i < got; i++) {
        if (it[i].cls != cls)
            continue;
        assert_true(k < n);
        assert_int_equal(it[i].seq, seqs[k]);
        k++;
    }
    assert_int_equal(k, n);
    free(it);
}

static void test_bounded_drops_positions_first(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct spool_options o = {.max_bytes = 16384, .max_payload = 100};
    struct spool *s;
    struct spool_stats st;
    uint64_t cseq[310], pseq[400];
    unsigned char pl[72];
    size_t nc = 0, np = 0;

    memset(pl, 0xab, sizeof pl);
    assert_int_equal(spool_open(dir, &o, &s), SPOOL_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            spool_append(s, SPOOL_COUNT, i, pl, sizeof pl, &cseq[nc++]),
            SPOOL_OK);
    for (int i = 0; i < 400; i++) {
        assert_int_equal(
            spool_append(s, SPOOL_POSITION, i, pl, sizeof pl, &pseq[np++]),
            SPOOL_OK);
        assert_int_equal(spool_stats(s, &st), SPOOL_OK);
        assert_true(st.bytes <= o.max_bytes);
    }
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.dropped_counts, 0);
    assert_int_equal(st.counts, 10);
    assert_true(st.dropped_positions > 0);
    assert_true(st.positions > 100);
    assert_int_equal(st.positions + st.dropped_positions, 400);
    expect_suffix(s, pseq, np, SPOOL_POSITION, st.positions);
    expect_suffix(s, cseq, nc, SPOOL_COUNT, st.counts);

    /* Counts alone overfill it: every position goes before any count. */
    for (int i = 0; i < 300; i++) {
        assert_int_equal(
            spool_append(s, SPOOL_COUNT, i, pl, sizeof pl, &cseq[nc++]),
            SPOOL_OK);
        assert_int_equal(spool_stats(s, &st), SPOOL_OK);
        assert_true(st.bytes <= o.max_bytes);
        if (st.dropped_counts > 0)
            assert_int_equal(st.positions, 0);
    }
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.dropped_positions, 400);
    assert_int_equal(st.positions, 0);
    assert_true(st.dropped_counts > 0);
    assert_int_equal(st.counts + st.dropped_counts, 310);
    expect_suffix(s, cseq, nc, SPOOL_COUNT, st.counts);
    assert_int_equal(spool_oldest_held(s), cseq[310 - st.counts]);
    assert_int_equal(spool_close(s), SPOOL_OK);

    /* Dropped stay dropped across a restart, and so do the counters. */
    {
        uint64_t held = st.counts, dc = st.dropped_counts;

        assert_int_equal(spool_open(dir, &o, &s), SPOOL_OK);
        assert_int_equal(spool_stats(s, &st), SPOOL_OK);
        assert_int_equal(st.counts, held);
        assert_int_equal(st.positions, 0);
        assert_int_equal(st.dropped_counts, dc);
        assert_int_equal(st.dropped_positions, 400);
        expect_suffix(s, cseq, nc, SPOOL_COUNT, held);

        /* Acked records in a file with held counts are squeezed out, and
           every count is still either held, acked or dropped. */
        assert_int_equal(spool_ack(s, spool_oldest_held(s) + 2), SPOOL_OK);
        for (int i = 0; i < 50; i++)
            assert_int_equal(
                spool_append(s, SPOOL_COUNT, i, pl, sizeof pl, &cseq[0]),
                SPOOL_OK);
        assert_int_equal(spool_stats(s, &st), SPOOL_OK);
        assert_true(st.bytes <= o.max_bytes);
        assert_int_equal(st.counts + st.dropped_counts, held + dc - 3 + 50);
        assert_int_equal(st.positions, 0);
        assert_int_equal(spool_close(s), SPOOL_OK);
    }
    clear_dir(dir, 1);
    free(dir);
}

static void test_fsync_policy(void **state)
{
    (void)state;
    char *dir = make_dir();
    struct spool *s;
    struct spool_stats a, b;
    char seg[512];
    uint64_t seq;

    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    assert_int_equal(spool_next_flush_ms(s, 0), -1);
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "p", 1, &seq),
                     SPOOL_OK);
    assert_int_equal(spool_stats(s, &a), SPOOL_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "p", 1, &seq),
                         SPOOL_OK);
    assert_int_equal(spool_stats(s, &b), SPOOL_OK);
    /* Positions are batched: no write, no fsync yet. */
    assert_int_equal(b.fsyncs, a.fsyncs);
    assert_int_equal(b.writes, 0);
    seg_path(dir, seg, sizeof seg);
    assert_int_equal(file_size(seg), 0);

    assert_int_equal(spool_next_flush_ms(s, 1000), 0);
    assert_int_equal(spool_flush_due(s, 1000), 1);
    assert_int_equal(spool_stats(s, &b), SPOOL_OK);
    assert_int_equal(b.fsyncs, a.fsyncs + 1);
    assert_int_equal(b.writes, 1);
    assert_int_equal(file_size(seg), (off_t)b.bytes);

    /* At most one flush a second. */
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "p", 1, &seq),
                     SPOOL_OK);
    assert_int_equal(spool_flush_due(s, 1500), 0);
    assert_int_equal(spool_next_flush_ms(s, 1500), 500);
    assert_int_equal(spool_stats(s, &a), SPOOL_OK);
    assert_int_equal(a.fsyncs, b.fsyncs);
    assert_int_equal(spool_flush_due(s, 2000), 1);
    assert_int_equal(spool_flush_due(s, 3500), 0); /* nothing waiting */
    assert_int_equal(spool_next_flush_ms(s, 3500), -1);

    /* A count is on disk and synced when append returns. */
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "p", 1, &seq),
                     SPOOL_OK);
    assert_int_equal(spool_stats(s, &a), SPOOL_OK);
    assert_int_equal(spool_append(s, SPOOL_COUNT, 1, "c", 1, &seq), SPOOL_OK);
    assert_int_equal(spool_stats(s, &b), SPOOL_OK);
    assert_int_equal(b.fsyncs, a.fsyncs + 1);
    assert_int_equal(b.writes, a.writes + 1);
    assert_int_equal(file_size(seg), (off_t)b.bytes);
    assert_int_equal(spool_next_flush_ms(s, 9000), -1);

    /* The count's sync counts as the second's: positions after it wait a
     * whole second from then, so door events add no syncs. */
    assert_int_equal(spool_flush_due(s, 9000), 0);
    assert_int_equal(spool_append(s, SPOOL_POSITION, 1, "p", 1, &seq),
                     SPOOL_OK);
    assert_int_equal(spool_flush_due(s, 9999), 0);
    assert_int_equal(spool_stats(s, &a), SPOOL_OK);
    assert_int_equal(a.fsyncs, b.fsyncs);
    assert_int_equal(spool_flush_due(s, 10000), 1);
    assert_int_equal(spool_close(s), SPOOL_OK);
    clear_dir(dir, 1);
    free(dir);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Days of backlog: the index must stay small and peek/ack must work. */
static void test_large_backlog(void **state)
{
    (void)state;
    enum { N = 200000, BATCH = 500 };
    char *dir = make_dir();
    struct spool *s;
    struct spool_stats st;
    struct spool_item *it = calloc(BATCH, sizeof *it);
    unsigned char pl[40];
    uint64_t seq, expect = 1, after = 0;
    double t0, t_open;
    size_t n;

    memset(pl, 0x11, sizeof pl);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    t0 = now_s();
    for (uint32_t i = 0; i < N; i++) {
        memcpy(pl, &i, sizeof i);
        assert_int_equal(spool_append(s,
                                      i % 1000 ? SPOOL_POSITION : SPOOL_COUNT,
                                      1000 + i, pl, sizeof pl, &seq),
                         SPOOL_OK);
    }
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    print_message("backlog: %d appends in %.2f s, %u segments, %" PRIu64
                  " fsyncs, %" PRIu64 " writes\n",
                  N, now_s() - t0, st.segments, st.fsyncs, st.writes);
    print_message("backlog: index %" PRIu64 " bytes while appending = %.2f "
                  "bytes/record\n",
                  st.index_bytes, (double)st.index_bytes / N);
    assert_int_equal(spool_close(s), SPOOL_OK);

    t0 = now_s();
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    t_open = now_s() - t0;
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    print_message("backlog: reopen of %" PRIu64 " records (%" PRIu64
                  " bytes) in %.1f ms; index %" PRIu64 " bytes = %.2f "
                  "bytes/record\n",
                  st.records, st.bytes, t_open * 1000, st.index_bytes,
                  (double)st.index_bytes / N);
    assert_int_equal(st.records, N);
    assert_int_equal(st.counts, N / 1000);
    assert_true(st.index_bytes < 6 * (uint64_t)N);
    assert_int_equal(st.oldest_t_ms, 1000);

    /* Publish in batches, acking each, as the daemon would. */
    t0 = now_s();
    for (;;) {
        assert_int_equal(spool_peek(s, after, BATCH, 32768, it, &n), SPOOL_OK);
        if (n == 0)
            break;
        for (size_t j = 0; j < n; j++) {
            uint32_t tag;

            assert_int_equal(it[j].seq, expect);
            assert_int_equal(it[j].len, sizeof pl);
            memcpy(&tag, it[j].payload, sizeof tag);
            assert_int_equal(tag, expect - 1);
            assert_int_equal(it[j].cls, (expect - 1) % 1000 ? SPOOL_POSITION
                                                            : SPOOL_COUNT);
            expect++;
        }
        after = it[n - 1].seq;
        /* Ack lags one batch behind, like a backend round trip. */
        if (after > BATCH)
            assert_int_equal(spool_ack(s, after - BATCH), SPOOL_OK);
    }
    assert_int_equal(expect, N + 1);
    assert_int_equal(spool_ack(s, after), SPOOL_OK);
    print_message("backlog: peek+ack of all in %.2f s\n", now_s() - t0);
    assert_int_equal(spool_stats(s, &st), SPOOL_OK);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.segments, 0);
    assert_int_equal(spool_oldest_held(s), N + 1);
    assert_int_equal(spool_close(s), SPOOL_OK);
    free(it);
    clear_dir(dir, 1);
    free(dir);
}

/*
 * The checked-in version-1 journal (tests/data/spool-v1): V1_RECORDS
 * records of alternating class, tag i, length 20 + 3 i, t_ms V1_T0 + i s,
 * the first V1_ACKED acked. Made by today's spool with
 *   build/test/bin/test_spool --make-spool-v1 tests/data/spool-v1
 * (into an empty folder); the test checks a newer spool still reads it.
 */
#define V1_RECORDS 12
#define V1_ACKED 5
#define V1_T0 1767225600000LL /* 2026-01-01T00:00:00Z */

static enum spool_class v1_cls(int i)
{
    return i % 2 ? SPOOL_COUNT : SPOOL_POSITION;
}

static int make_spool_v1(const char *dir)
{
    unsigned char buf[128];
    struct spool *s;
    uint64_t seq = 0;

    if (spool_open(dir, NULL, &s) != SPOOL_OK)
        return 1;
    for (int i = 0; i < V1_RECORDS; i++) {
        fill(buf, 20 + 3 * (size_t)i, (uint32_t)i);
        if (spool_append(s, v1_cls(i), V1_T0 + i * 1000LL, buf,
                         20 + 3 * (size_t)i, &seq) != SPOOL_OK)
            return 1;
        if (i + 1 == V1_ACKED &&
            (spool_flush(s) != SPOOL_OK || spool_ack(s, seq) != SPOOL_OK))
            return 1;
    }
    return spool_flush(s) != SPOOL_OK || spool_close(s) != SPOOL_OK;
}

/* Copy the regular files of folder FROM into folder TO. */
static void copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d))) {
        char a[4096], b[4096], buf[8192];
        FILE *in, *out;
        size_t n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        in = fopen(a, "rb");
        out = fopen(b, "wb");
        assert_non_null(in);
        assert_non_null(out);
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        assert_int_equal(fclose(out), 0);
    }
    closedir(d);
}

/* Every file of DIR, names and bytes, as one string to compare: "name\n"
 * then the bytes' length and a hash per file, in name order. */
static void dir_print(const char *dir, char *out, size_t outlen)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    size_t used = 0;

    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        char p[4096];
        unsigned char buf[8192];
        uint64_t h = 1469598103934665603ULL, len = 0;
        size_t r;
        FILE *f;

        if (list[i]->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, list[i]->d_name);
            f = fopen(p, "rb");
            assert_non_null(f);
            while ((r = fread(buf, 1, sizeof buf, f)) > 0)
                for (size_t j = 0; j < r; j++, len++)
                    h = (h ^ buf[j]) * 1099511628211ULL;
            fclose(f);
            used += (size_t)snprintf(out + used, outlen - used,
                                     "%s %" PRIu64 " %016" PRIx64 "\n",
                                     list[i]->d_name, len, h);
            assert_true(used < outlen);
        }
        free(list[i]);
    }
    free(list);
}

static char *v1_copy(void)
{
    char *dir = make_dir();

    copy_dir(SHUTTLE_SOURCE_DIR "/tests/data/spool-v1", dir);
    return dir;
}

/* Today's spool reads the version-1 journal: every record not acked, in
 * order, the acked position kept, and appends after it. */
static void test_reads_v1_journal(void **state)
{
    char *dir = v1_copy();
    struct spool_item it[V1_RECORDS];
    struct spool_stats st;
    struct spool *s;
    size_t n = 0;
    uint64_t seq;

    (void)state;
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    spool_stats(s, &st);
    assert_false(st.fresh);
    assert_int_equal(st.acked_seq, V1_ACKED);
    assert_int_equal(st.records, V1_RECORDS - V1_ACKED);
    assert_int_equal(spool_peek(s, 0, V1_RECORDS, 1 << 20, it, &n), SPOOL_OK);
    assert_int_equal(n, V1_RECORDS - V1_ACKED);
    for (size_t k = 0; k < n; k++) {
        int i = V1_ACKED + (int)k;
        struct want w = {.seq = (uint64_t)i + 1,
                         .cls = v1_cls(i),
                         .t_ms = V1_T0 + i * 1000LL,
                         .len = 20 + 3 * (size_t)i,
                         .tag = (uint32_t)i};

        check_item(&it[k], &w);
    }
    assert_int_equal(spool_append(s, SPOOL_POSITION, V1_T0, "x", 1, &seq),
                     SPOOL_OK);
    assert_true(seq > V1_RECORDS);
    assert_int_equal(spool_close(s), SPOOL_OK);
    clear_dir(dir, 1);
    free(dir);
}

/* A state file whose version byte is not a digit is damage, not a newer
 * format: the spool opens (as with any damaged state file) and keeps its
 * records, rather than stopping the bus. */
static void test_damaged_version_byte_opens(void **state)
{
    char *dir = v1_copy();
    char p[4096];
    struct spool *s = NULL;
    FILE *f;

    (void)state;
    snprintf(p, sizeof p, "%s/state", dir);
    f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 7, SEEK_SET), 0);
    assert_int_equal(fputc(0, f), 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_OK);
    assert_non_null(s);
    assert_true(spool_next_seq(s) > 1);
    spool_close(s);
    clear_dir(dir, 1);
    free(dir);
}

/* A journal marked with a later version is refused, not a byte changed,
 * not even the leftover state.tmp that a readable one would lose. */
static void test_refuses_future_journal(void **state)
{
    static char before[8192], after[8192];
    char *dir = v1_copy();
    char p[4096];
    struct spool *s = NULL;
    FILE *f;

    (void)state;
    snprintf(p, sizeof p, "%s/state", dir);
    f = fopen(p, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 7, SEEK_SET), 0);
    assert_int_equal(fputc('0' + SPOOL_FORMAT_VERSION + 1, f),
                     '0' + SPOOL_FORMAT_VERSION + 1);
    assert_int_equal(fclose(f), 0);
    snprintf(p, sizeof p, "%s/state.tmp", dir);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs("left by a crash", f);
    assert_int_equal(fclose(f), 0);
    dir_print(dir, before, sizeof before);
    assert_int_equal(spool_open(dir, NULL, &s), SPOOL_ERR_VERSION);
    assert_null(s);
    assert_non_null(strstr(spool_strerror(SPOOL_ERR_VERSION), "newer format"));
    dir_print(dir, after, sizeof after);
    assert_string_equal(before, after);
    clear_dir(dir, 1);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--make-spool-v1") == 0)
        return make_spool_v1(argv[2]);
    {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_roundtrip),
            cmocka_unit_test(test_reopen_keeps_records),
            cmocka_unit_test(test_crash_resumes_above),
            cmocka_unit_test(test_seq_never_reused),
            cmocka_unit_test(test_cut_at_every_offset),
            cmocka_unit_test(test_corrupt_byte),
            cmocka_unit_test(test_bounded_drops_positions_first),
            cmocka_unit_test(test_fsync_policy),
            cmocka_unit_test(test_large_backlog),
            cmocka_unit_test(test_reads_v1_journal),
            cmocka_unit_test(test_refuses_future_journal),
            cmocka_unit_test(test_damaged_version_byte_opens),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
    }
}
