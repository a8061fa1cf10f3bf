/* spool: append-only segment files of CRC'd records, a compact index, acks. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * On disk, in the spool directory:
 *
 *   state                 48 bytes, replaced atomically (tmp, fsync, rename,
 *                         fsync dir): magic "SHSPOOL1" (its digit the format
 *                         version, SPOOL_FORMAT_VERSION), u64 reserved (every
 *                         seq ever issued is below it), u64 acked, u64
 *                         dropped_positions, u64 dropped_counts, u32 CRC-32C
 *                         of the preceding 40 bytes, u32 zero.
 *   <20-digit id>.seg     records back to back; id = the first seq written
 *                         to it, so names sort in seq order.
 *
 * A record (all integers little-endian):
 *    0 u32 CRC-32C of bytes 4 .. end of payload
 *    4 u32 payload length
 *    8 u64 seq
 *   16 i64 t_ms
 *   24 u8  class, 3 zero bytes
 *   28 payload
 *
 * Each process appends to a segment it created itself, so seqs within a
 * segment are contiguous unless damage removed some; that lets the index
 * store one u32 per record (offset + class) with seq = first_seq + i. A
 * segment with gaps (damage, or compaction) also keeps a u32 seq delta per
 * record.
 *
 * The size bound: a record lives until its segment file is deleted or
 * rewritten, so dropping works per segment. Over max_bytes, the oldest
 * segment still holding positions is rewritten with only its held counts
 * (usually a few percent of it; a tmp file renamed over it, so a crash
 * leaves either version) or deleted if it has none. When no positions are
 * held anywhere, files that mix acked records with held counts are squeezed
 * the same way, and only then is the oldest segment of counts deleted.
 * Positions are thus dropped oldest first, a segment at a time, and counts
 * only after every position is gone.
 */

#define HDR SPOOL_RECORD_OVERHEAD
#define ENT_OFF_MASK 0x3fffffffu
#define ENT_GONE 0x40000000u /* damaged: skipped, not held */
#define ENT_COUNT 0x80000000u
#define SEG_FILE_MAX ((uint64_t)ENT_OFF_MASK)
#define STATE_SIZE 48
#define STATE_MAGIC "SHSPOOL" /* and the version, a digit: SHSPOOL1 */
#define STATE_VERSION_CHAR ('0' + SPOOL_FORMAT_VERSION)

struct seg {
    uint64_t id;        /* from the file name */
    uint64_t first_seq; /* seq of ent[0] */
    uint64_t size;      /* file bytes; for the active one plus buffered */
    uint32_t *ent;      /* offset | ENT_ flags, one per record */
    uint32_t *seqd;     /* seq - first_seq per record; NULL when dense */
    uint32_t n, cap;
    uint32_t head; /* ent[0..head) are acked */
    uint32_t held_pos, held_cnt;
};

struct rec {
    uint32_t crc, len;
    uint64_t seq;
    int64_t t_ms;
    int cls;
};

struct spool {
    int dirfd;
    struct spool_options opt;
    struct seg **segs; /* oldest first */
    size_t nseg, segcap;

    struct seg *active; /* the one appends go to, or NULL */
    int afd;
    uint64_t adisk; /* bytes of the active segment already written */
    unsigned char *wbuf;
    size_t wlen, wcap;
    int dirty; /* records not yet fdatasync'd */
    int64_t last_sync_ms;
    /* A COUNT was synced since the last spool_flush_due: that sync made
     * the positions durable too, so the positions' second starts anew. */
    int count_synced;

    struct seg *rd_seg; /* cached read descriptor of a sealed segment */
    int rd_fd;
    unsigned char *rbuf; /* peek payloads, compaction scratch */
    size_t rcap;

    uint64_t next_seq, reserved, acked;
    uint64_t total_bytes, held_pos, held_cnt;
    uint64_t dropped_pos, dropped_cnt, corrupt, truncated, fsyncs, writes;
    int fresh;
};

/* CRC-32C (Castagnoli), reflected, half-byte table: small and fast enough. */
static uint32_t spool__crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
    static const uint32_t t[16] = {
        0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3,
        0x61c69362, 0x7198540d, 0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
        0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
    };

    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return ~crc;
}

static void spool__put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void spool__put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t spool__get32(const unsigned char *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t spool__get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void spool__hdr_encode(unsigned char *p, const struct rec *r)
{
    spool__put32(p + 4, r->len);
    spool__put64(p + 8, r->seq);
    spool__put64(p + 16, (uint64_t)r->t_ms);
    p[24] = (unsigned char)r->cls;
    p[25] = p[26] = p[27] = 0;
}

/* Decodes a header; rejects what our writer can never have produced. */
static int spool__hdr_decode(const unsigned char *p, struct rec *r)
{
    r->crc = spool__get32(p);
    r->len = spool__get32(p + 4);
    r->seq = spool__get64(p + 8);
    r->t_ms = (int64_t)spool__get64(p + 16);
    r->cls = p[24];
    if (r->len > SPOOL_PAYLOAD_LIMIT || r->cls > SPOOL_COUNT || p[25] ||
        p[26] || p[27] || r->seq == 0)
        return SPOOL_ERR_CORRUPT;
    return SPOOL_OK;
}

/* The CRC covers the header after the CRC field, then the payload. */
static uint32_t spool__rec_crc(const unsigned char *hdr,
                               const unsigned char *pl, size_t len)
{
    return spool__crc32c(spool__crc32c(0, hdr + 4, HDR - 4), pl, len);
}

static void spool__seg_name(char *buf, size_t size, uint64_t id,
                            const char *ext)
{
    snprintf(buf, size, "%020" PRIu64 ".%s", id, ext);
}

static int spool__do_sync(struct spool *s, int fd, int data_only)
{
    s->fsyncs++;
    if ((data_only ? fdatasync(fd) : fsync(fd)) < 0)
        return SPOOL_ERR_IO;
    return SPOOL_OK;
}

static int spool__write_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return SPOOL_ERR_IO;
        }
        p += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return SPOOL_OK;
}

/* Short reads mean the file changed under us: treat as damage. */
static int spool__read_all(int fd, void *buf, size_t len, uint64_t off)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return SPOOL_ERR_IO;
        if (r == 0)
            return SPOOL_ERR_CORRUPT;
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return SPOOL_OK;
}

/* ---- state file ---- */

static int spool__state_write(struct spool *s)
{
    unsigned char b[STATE_SIZE] = {0};
    int fd, err;

    memcpy(b, STATE_MAGIC, 7);
    b[7] = STATE_VERSION_CHAR;
    spool__put64(b + 8, s->reserved);
    spool__put64(b + 16, s->acked);
    spool__put64(b + 24, s->dropped_pos);
    spool__put64(b + 32, s->dropped_cnt);
    spool__put32(b + 40, spool__crc32c(0, b, 40));
    fd = openat(s->dirfd, "state.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                0600);
    if (fd < 0)
        return SPOOL_ERR_IO;
    err = spool__write_all(fd, b, sizeof b, 0);
    if (err == SPOOL_OK)
        err = spool__do_sync(s, fd, 0);
    close(fd);
    if (err == SPOOL_OK &&
        renameat(s->dirfd, "state.tmp", s->dirfd, "state") < 0)
        err = SPOOL_ERR_IO;
    if (err == SPOOL_OK)
        err = spool__do_sync(s, s->dirfd, 0);
    return err;
}

/* A missing or damaged state file leaves s->fresh set. SPOOL_ERR_VERSION
 * when it says a version above ours (a digit after "SHSPOOL" above ours: a
 * later format may have another size, so only the magic is read for that;
 * any other byte there is damage, which the CRC then catches), else
 * SPOOL_OK. */
static int spool__state_read(struct spool *s)
{
    unsigned char b[STATE_SIZE];
    int fd = openat(s->dirfd, "state", O_RDONLY | O_CLOEXEC);

    s->fresh = 1;
    if (fd < 0)
        return SPOOL_OK;
    if (spool__read_all(fd, b, 8, 0) == SPOOL_OK &&
        memcmp(b, STATE_MAGIC, 7) == 0 && b[7] > STATE_VERSION_CHAR &&
        b[7] <= '9') {
        close(fd);
        return SPOOL_ERR_VERSION;
    }
    if (spool__read_all(fd, b, sizeof b, 0) == SPOOL_OK &&
        memcmp(b, STATE_MAGIC, 7) == 0 &&
        spool__get32(b + 40) == spool__crc32c(0, b, 40)) {
        s->reserved = spool__get64(b + 8);
        s->acked = spool__get64(b + 16);
        s->dropped_pos = spool__get64(b + 24);
        s->dropped_cnt = spool__get64(b + 32);
        s->fresh = 0;
    }
    close(fd);
    return SPOOL_OK;
}

/* ---- the per-segment index ---- */

static uint64_t spool__seg_seq(const struct seg *g, uint32_t i)
{
    return g->first_seq + (g->seqd ? g->seqd[i] : i);
}

/* First index whose seq >= seq (g->n if none). */
static uint32_t spool__seg_lower(const struct seg *g, uint64_t seq)
{
    uint32_t lo = 0, hi = g->n;

    if (g->n == 0 || seq <= g->first_seq)
        return 0;
    if (!g->seqd)
        return seq - g->first_seq < g->n ? (uint32_t)(seq - g->first_seq)
                                         : g->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (spool__seg_seq(g, mid) < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int spool__seg_push(struct seg *g, uint64_t seq, uint32_t ent)
{
    uint64_t d;

    if (g->n == 0)
        g->first_seq = seq;
    d = seq - g->first_seq;
    if (d > UINT32_MAX || g->n == UINT32_MAX)
        return SPOOL_ERR_INVAL;
    if (g->n == g->cap) {
        uint32_t nc = g->cap < 64 ? 64 : g->cap * 2;
        uint32_t *ne, *nd;

        if (g->cap >= UINT32_MAX / 2)
            nc = UINT32_MAX;
        ne = realloc(g->ent, (size_t)nc * sizeof *ne);
        if (!ne)
            return SPOOL_ERR_NOMEM;
        g->ent = ne;
        if (g->seqd) {
            nd = realloc(g->seqd, (size_t)nc * sizeof *nd);
            if (!nd)
                return SPOOL_ERR_NOMEM;
            g->seqd = nd;
        }
        g->cap = nc;
    }
    if (!g->seqd && d != g->n) {
        g->seqd = malloc((size_t)g->cap * sizeof *g->seqd);
        if (!g->seqd)
            return SPOOL_ERR_NOMEM;
        for (uint32_t i = 0; i < g->n; i++)
            g->seqd[i] = i;
    }
    g->ent[g->n] = ent;
    if (g->seqd)
        g->seqd[g->n] = (uint32_t)d;
    g->n++;
    return SPOOL_OK;
}

/* Sealed segments never grow again: give back the doubling slack. */
static void spool__seg_shrink(struct seg *g)
{
    uint32_t *p;

    if (g->n == 0 || g->n == g->cap)
        return;
    p = realloc(g->ent, (size_t)g->n * sizeof *p);
    if (!p)
        return;
    g->ent = p;
    g->cap = g->n; /* seqd may stay longer: realloc copes with either */
    if (g->seqd && (p = realloc(g->seqd, (size_t)g->n * sizeof *p)) != NULL)
        g->seqd = p;
}

static void spool__seg_free(struct seg *g)
{
    if (g) {
        free(g->ent);
        free(g->seqd);
        free(g);
    }
}

/* Counts the entry as held (or no longer held, sign -1). */
static void spool__held_add(struct spool *s, struct seg *g, uint32_t ent,
                            int sign)
{
    if (ent & ENT_GONE)
        return;
    if (ent & ENT_COUNT) {
        g->held_cnt += (uint32_t)sign;
        s->held_cnt += (uint64_t)(int64_t)sign;
    } else {
        g->held_pos += (uint32_t)sign;
        s->held_pos += (uint64_t)(int64_t)sign;
    }
}

static void spool__seg_apply_ack(struct spool *s, struct seg *g)
{
    uint32_t h =
        s->acked == UINT64_MAX ? g->n : spool__seg_lower(g, s->acked + 1);

    for (uint32_t i = g->head; i < h; i++)
        spool__held_add(s, g, g->ent[i], -1);
    if (h > g->head)
        g->head = h;
}

static int spool__segs_insert(struct spool *s, struct seg *g)
{
    if (s->nseg == s->segcap) {
        size_t nc = s->segcap ? s->segcap * 2 : 16;
        struct seg **p = realloc(s->segs, nc * sizeof *p);

        if (!p)
            return SPOOL_ERR_NOMEM;
        s->segs = p;
        s->segcap = nc;
    }
    s->segs[s->nseg++] = g;
    return SPOOL_OK;
}

/*
 * Deletes segs[k] and its file; what it still held counts as dropped when
 * `dropped` is set (size bound), otherwise it must have been all acked.
 */
static void spool__seg_remove(struct spool *s, size_t k, int dropped)
{
    struct seg *g = s->segs[k];
    char name[32];

    if (dropped) {
        s->dropped_pos += g->held_pos;
        s->dropped_cnt += g->held_cnt;
    }
    s->held_pos -= g->held_pos;
    s->held_cnt -= g->held_cnt;
    s->total_bytes -= g->size;
    if (g == s->rd_seg) {
        close(s->rd_fd);
        s->rd_fd = -1;
        s->rd_seg = NULL;
    }
    if (g == s->active) {
        /* Whatever is still buffered belongs to this segment. */
        close(s->afd);
        s->afd = -1;
        s->active = NULL;
        s->wlen = 0;
        s->adisk = 0;
        s->dirty = 0;
    }
    spool__seg_name(name, sizeof name, g->id, "seg");
    unlinkat(s->dirfd, name, 0);
    spool__seg_free(g);
    memmove(s->segs + k, s->segs + k + 1, (s->nseg - k - 1) * sizeof *s->segs);
    s->nseg--;
}

/* ---- reading records back ---- */

static int spool__seg_fd(struct spool *s, struct seg *g)
{
    char name[32];

    if (g == s->active)
        return s->afd;
    if (g == s->rd_seg)
        return s->rd_fd;
    if (s->rd_fd >= 0)
        close(s->rd_fd);
    s->rd_seg = NULL;
    spool__seg_name(name, sizeof name, g->id, "seg");
    s->rd_fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (s->rd_fd < 0)
        return -1;
    s->rd_seg = g;
    return s->rd_fd;
}

/* Bytes of a segment, from its file or, past adisk, from the write buffer. */
static int spool__seg_read(struct spool *s, struct seg *g, uint64_t off,
                           void *dst, size_t len)
{
    unsigned char *d = dst;
    int fd;

    if (g == s->active && off + len > s->adisk) {
        size_t from_buf;

        if (off >= s->adisk) {
            if (off - s->adisk + len > s->wlen)
                return SPOOL_ERR_CORRUPT;
            memcpy(d, s->wbuf + (off - s->adisk), len);
            return SPOOL_OK;
        }
        from_buf = (size_t)(off + len - s->adisk);
        if (from_buf > s->wlen)
            return SPOOL_ERR_CORRUPT;
        memcpy(d + (len - from_buf), s->wbuf, from_buf);
        len -= from_buf;
    }
    fd = spool__seg_fd(s, g);
    if (fd < 0)
        return SPOOL_ERR_IO;
    return spool__read_all(fd, d, len, off);
}

static int spool__rbuf_reserve(struct spool *s, size_t need)
{
    if (need > s->rcap) {
        size_t nc = s->rcap * 2 > need ? s->rcap * 2 : need;
        unsigned char *p = realloc(s->rbuf, nc);

        if (!p)
            return SPOOL_ERR_NOMEM;
        s->rbuf = p;
        s->rcap = nc;
    }
    return SPOOL_OK;
}

/*
 * Reads record i of g: the header into hdr (unless have_hdr: already
 * there), the payload into s->rbuf + at (growing it), and checks that it is
 * the record the index says.
 */
static int spool__rec_read(struct spool *s, struct seg *g, uint32_t i,
                           unsigned char *hdr, int have_hdr, size_t at,
                           struct rec *r)
{
    uint64_t off = g->ent[i] & ENT_OFF_MASK;
    int err = have_hdr ? SPOOL_OK : spool__seg_read(s, g, off, hdr, HDR);

    if (err == SPOOL_OK)
        err = spool__hdr_decode(hdr, r);
    if (err == SPOOL_OK &&
        (r->seq != spool__seg_seq(g, i) ||
         (r->cls == SPOOL_COUNT) != !!(g->ent[i] & ENT_COUNT)))
        err = SPOOL_ERR_CORRUPT;
    if (err == SPOOL_OK)
        err = spool__rbuf_reserve(s, at + r->len);
    if (err == SPOOL_OK)
        err = spool__seg_read(s, g, off + HDR, s->rbuf + at, r->len);
    if (err == SPOOL_OK && spool__rec_crc(hdr, s->rbuf + at, r->len) != r->crc)
        err = SPOOL_ERR_CORRUPT;
    return err;
}

/* A record rotted since open: stop offering it rather than stall on it. */
static void spool__rec_mark_gone(struct spool *s, struct seg *g, uint32_t i)
{
    spool__held_add(s, g, g->ent[i], -1);
    g->ent[i] |= ENT_GONE;
    s->corrupt++;
}

/* ---- writing ---- */

/* On failure the file is cut back so it never holds half a buffer. */
static int spool__write_out(struct spool *s)
{
    int err;

    if (s->wlen == 0)
        return SPOOL_OK;
    s->writes++;
    err = spool__write_all(s->afd, s->wbuf, s->wlen, s->adisk);
    if (err != SPOOL_OK) {
        int e = errno;

        if (ftruncate(s->afd, (off_t)s->adisk) < 0) {
            /* keep the first error; a later scan cuts the tail anyway */
        }
        errno = e;
        return err;
    }
    s->adisk += s->wlen;
    s->wlen = 0;
    return SPOOL_OK;
}

static int spool__sync_active(struct spool *s)
{
    int err;

    if (!s->active || (!s->dirty && s->wlen == 0))
        return SPOOL_OK;
    err = spool__write_out(s);
    if (err == SPOOL_OK)
        err = spool__do_sync(s, s->afd, 1);
    if (err == SPOOL_OK)
        s->dirty = 0;
    return err;
}

/* Makes the active segment durable and read-only: appends start a new one. */
static int spool__seal_active(struct spool *s)
{
    int err = spool__sync_active(s);

    if (err != SPOOL_OK)
        return err;
    if (s->active) {
        spool__seg_shrink(s->active);
        close(s->afd);
        s->afd = -1;
        s->active = NULL;
        s->adisk = 0;
    }
    return SPOOL_OK;
}

static int spool__create_active(struct spool *s)
{
    struct seg *g = calloc(1, sizeof *g);
    char name[32];
    int err;

    if (!g)
        return SPOOL_ERR_NOMEM;
    g->id = s->next_seq;
    spool__seg_name(name, sizeof name, g->id, "seg");
    s->afd =
        openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (s->afd < 0) {
        free(g);
        return SPOOL_ERR_IO;
    }
    /* The name must survive a power cut before a COUNT in it is durable. */
    err = spool__do_sync(s, s->dirfd, 0);
    if (err == SPOOL_OK)
        err = spool__segs_insert(s, g);
    if (err != SPOOL_OK) {
        close(s->afd);
        s->afd = -1;
        unlinkat(s->dirfd, name, 0);
        free(g);
        return err;
    }
    s->active = g;
    s->adisk = 0;
    s->wlen = 0;
    return SPOOL_OK;
}

/*
 * Rewrites segs[k] with only its held counts (see the comment at the top).
 * The new file replaces the old one by rename, so a crash leaves either.
 */
static int spool__seg_compact(struct spool *s, size_t k)
{
    struct seg *g = s->segs[k], *ng;
    char name[32], tmp[32];
    unsigned char hdr[HDR];
    uint64_t off = 0;
    int fd, err = SPOOL_OK;

    if (g == s->active && (err = spool__seal_active(s)) != SPOOL_OK)
        return err;
    if (g->held_cnt == 0) {
        spool__seg_remove(s, k, 1);
        return spool__do_sync(s, s->dirfd, 0);
    }
    ng = calloc(1, sizeof *ng);
    if (!ng)
        return SPOOL_ERR_NOMEM;
    ng->id = g->id;
    spool__seg_name(name, sizeof name, g->id, "seg");
    spool__seg_name(tmp, sizeof tmp, g->id, "tmp");
    fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(ng);
        return SPOOL_ERR_IO;
    }
    for (uint32_t i = g->head; i < g->n && err == SPOOL_OK; i++) {
        struct rec r;
        int rerr;

        if ((g->ent[i] & (ENT_GONE | ENT_COUNT)) != ENT_COUNT)
            continue;
        rerr = spool__rec_read(s, g, i, hdr, 0, HDR, &r);
        if (rerr == SPOOL_ERR_CORRUPT) {
            spool__rec_mark_gone(s, g, i);
            continue;
        }
        err = rerr;
        if (err == SPOOL_OK) {
            memcpy(s->rbuf, hdr, HDR);
            err = spool__write_all(fd, s->rbuf, HDR + r.len, off);
        }
        if (err == SPOOL_OK)
            err = spool__seg_push(ng, r.seq, (uint32_t)off | ENT_COUNT);
        off += HDR + r.len;
    }
    if (err == SPOOL_OK)
        err = spool__do_sync(s, fd, 1);
    close(fd);
    if (err == SPOOL_OK && renameat(s->dirfd, tmp, s->dirfd, name) < 0)
        err = SPOOL_ERR_IO;
    if (err == SPOOL_OK)
        err = spool__do_sync(s, s->dirfd, 0);
    if (err != SPOOL_OK) {
        int e = errno;

        unlinkat(s->dirfd, tmp, 0);
        spool__seg_free(ng);
        errno = e;
        return err;
    }
    if (g == s->rd_seg) { /* the old inode */
        close(s->rd_fd);
        s->rd_fd = -1;
        s->rd_seg = NULL;
    }
    s->dropped_pos += g->held_pos;
    s->held_pos -= g->held_pos;
    ng->held_cnt = ng->n;
    ng->size = off;
    s->total_bytes = s->total_bytes - g->size + off;
    spool__seg_shrink(ng);
    s->segs[k] = ng;
    spool__seg_free(g);
    return SPOOL_OK;
}

/* Frees space until `need` more bytes fit under max_bytes. */
static int spool__make_room(struct spool *s, uint64_t need)
{
    while (s->total_bytes + need > s->opt.max_bytes && s->nseg > 0) {
        size_t k;
        int err;

        /* Segments holding nothing (all damaged) go before any record. */
        for (k = 0; k < s->nseg; k++)
            if (s->segs[k] != s->active &&
                s->segs[k]->held_pos + s->segs[k]->held_cnt == 0)
                break;
        if (k < s->nseg) {
            spool__seg_remove(s, k, 1);
            continue;
        }
        for (k = 0; k < s->nseg && s->segs[k]->held_pos == 0; k++)
            ;
        /* Then acked records sharing a file with held counts: free too. */
        if (k == s->nseg)
            for (k = 0; k < s->nseg && s->segs[k]->head == 0; k++)
                ;
        if (k < s->nseg) {
            err = spool__seg_compact(s, k);
        } else if (s->segs[0] == s->active) {
            /* Only the active segment is left and it holds counts. */
            err = spool__seal_active(s);
            if (err == SPOOL_OK) {
                spool__seg_remove(s, 0, 1);
                err = spool__do_sync(s, s->dirfd, 0);
            }
        } else {
            spool__seg_remove(s, 0, 1);
            err = spool__do_sync(s, s->dirfd, 0);
        }
        if (err != SPOOL_OK)
            return err;
    }
    return SPOOL_OK;
}

/* ---- opening ---- */

/*
 * Is there a whole, intact record at b[off..size) with seq > min_seq that
 * can join g? Fills r if so.
 */
static int spool__scan_valid(const unsigned char *b, uint64_t size,
                             uint64_t off, uint64_t min_seq,
                             const struct seg *g, struct rec *r)
{
    if (size - off < HDR || spool__hdr_decode(b + off, r) != SPOOL_OK)
        return 0;
    if (r->len > size - off - HDR || r->seq <= min_seq)
        return 0;
    if (g->n > 0 && r->seq - g->first_seq > UINT32_MAX)
        return 0;
    return spool__rec_crc(b + off, b + off + HDR, r->len) == r->crc;
}

/*
 * Indexes one segment file. A damaged record is skipped by searching for
 * the next intact one (CRC and rising seq make a false match practically
 * impossible), so one bad sector costs only the records in it; what follows
 * the last intact record is a torn tail and is cut off.
 */
static int spool__scan_segment(struct spool *s, uint64_t id,
                               unsigned char **buf, size_t *bufcap,
                               uint64_t *last_seq)
{
    struct seg *g = calloc(1, sizeof *g);
    char name[32];
    struct stat st;
    uint64_t size, off = 0, good_end = 0;
    int fd, err = SPOOL_OK;

    if (!g)
        return SPOOL_ERR_NOMEM;
    g->id = id;
    spool__seg_name(name, sizeof name, id, "seg");
    fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        err = SPOOL_ERR_IO;
        goto out;
    }
    size = (uint64_t)st.st_size;
    if (size > SEG_FILE_MAX)
        size = SEG_FILE_MAX; /* never written by us; index what fits */
    if (size > *bufcap) {
        unsigned char *p = realloc(*buf, size);

        if (!p) {
            err = SPOOL_ERR_NOMEM;
            goto out;
        }
        *buf = p;
        *bufcap = size;
    }
    if (size > 0 && (err = spool__read_all(fd, *buf, size, 0)) != SPOOL_OK)
        goto out;
    while (off < size) {
        struct rec r;

        if (!spool__scan_valid(*buf, size, off, *last_seq, g, &r)) {
            off++;
            continue;
        }
        if (off != good_end)
            s->corrupt++; /* a damaged stretch before this record */
        err = spool__seg_push(
            g, r.seq, (uint32_t)off | (r.cls == SPOOL_COUNT ? ENT_COUNT : 0));
        if (err != SPOOL_OK)
            goto out;
        spool__held_add(s, g, g->ent[g->n - 1], 1);
        *last_seq = r.seq;
        off += HDR + r.len;
        good_end = off;
    }
    if (good_end < (uint64_t)st.st_size && size == (uint64_t)st.st_size) {
        if (ftruncate(fd, (off_t)good_end) < 0) {
            err = SPOOL_ERR_IO;
            goto out;
        }
        s->truncated += size - good_end;
        size = good_end;
    }
    g->size = size;
    if (g->n == 0) {
        unlinkat(s->dirfd, name, 0);
        goto out;
    }
    spool__seg_shrink(g);
    err = spool__segs_insert(s, g);
    if (err == SPOOL_OK) {
        s->total_bytes += g->size;
        g = NULL;
    }
out:
    if (g) {
        s->held_pos -= g->held_pos;
        s->held_cnt -= g->held_cnt;
    }
    spool__seg_free(g);
    if (fd >= 0)
        close(fd);
    return err;
}

static int spool__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Segment ids in order; stray tmp files of an interrupted rewrite go. */
static int spool__list_segments(struct spool *s, uint64_t **ids, size_t *n)
{
    int fd = dup(s->dirfd);
    DIR *d;
    struct dirent *de;
    size_t cap = 0;

    *ids = NULL;
    *n = 0;
    if (fd < 0)
        return SPOOL_ERR_IO;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return SPOOL_ERR_IO;
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t i;

        for (i = 0; i < 20 && nm[i] >= '0' && nm[i] <= '9'; i++)
            ;
        if (i == 20 && strcmp(nm + 20, ".tmp") == 0) {
            unlinkat(s->dirfd, nm, 0);
            continue;
        }
        if (i != 20 || strcmp(nm + 20, ".seg") != 0)
            continue;
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            uint64_t *p = realloc(*ids, nc * sizeof *p);

            if (!p) {
                closedir(d);
                return SPOOL_ERR_NOMEM;
            }
            *ids = p;
            cap = nc;
        }
        (*ids)[(*n)++] = strtoull(nm, NULL, 10);
    }
    closedir(d);
    if (*n > 1)
        qsort(*ids, *n, sizeof **ids, spool__cmp_u64);
    return SPOOL_OK;
}

static void spool__options_fill(struct spool_options *o,
                                const struct spool_options *in)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof *o);
    if (!o->max_bytes)
        o->max_bytes = 64u << 20;
    if (!o->segment_bytes)
        o->segment_bytes = 256u << 10;
    if (o->segment_bytes > o->max_bytes / 8)
        o->segment_bytes = (uint32_t)(o->max_bytes / 8);
    if (o->segment_bytes > (64u << 20))
        o->segment_bytes = 64u << 20;
    if (!o->buffer_bytes)
        o->buffer_bytes = 16u << 10;
    if (!o->max_payload)
        o->max_payload = 4096;
    if (o->max_payload > SPOOL_PAYLOAD_LIMIT)
        o->max_payload = SPOOL_PAYLOAD_LIMIT;
    if (!o->seq_block)
        o->seq_block = 1000;
    if (!o->flush_interval_ms)
        o->flush_interval_ms = 1000;
}

int spool_open(const char *dir, const struct spool_options *opt,
               struct spool **out)
{
    struct spool *s;
    uint64_t *ids = NULL, last_seq = 0;
    unsigned char *buf = NULL;
    size_t nids = 0, bufcap = 0;
    int err;

    if (!dir || !out)
        return SPOOL_ERR_INVAL;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return SPOOL_ERR_NOMEM;
    s->afd = s->rd_fd = s->dirfd = -1;
    s->last_sync_ms = INT64_MIN;
    spool__options_fill(&s->opt, opt);
    if (s->opt.max_bytes < 2 * ((uint64_t)HDR + s->opt.max_payload)) {
        free(s);
        return SPOOL_ERR_INVAL;
    }
    s->wcap = s->opt.buffer_bytes > HDR + s->opt.max_payload
                  ? s->opt.buffer_bytes
                  : HDR + s->opt.max_payload;
    s->wbuf = malloc(s->wcap);
    s->rcap = 4096;
    s->rbuf = malloc(s->rcap);
    if (!s->wbuf || !s->rbuf) {
        err = SPOOL_ERR_NOMEM;
        goto fail;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        err = SPOOL_ERR_IO;
        goto fail;
    }
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        err = SPOOL_ERR_IO;
        goto fail;
    }
    if (flock(s->dirfd, LOCK_EX | LOCK_NB) < 0) {
        err = errno == EWOULDBLOCK ? SPOOL_ERR_BUSY : SPOOL_ERR_IO;
        goto fail;
    }
    /* The version before anything is changed, even a stale state.tmp. */
    err = spool__state_read(s);
    if (err != SPOOL_OK)
        goto fail;
    unlinkat(s->dirfd, "state.tmp", 0);
    err = spool__list_segments(s, &ids, &nids);
    for (size_t i = 0; i < nids && err == SPOOL_OK; i++)
        err = spool__scan_segment(s, ids[i], &buf, &bufcap, &last_seq);
    free(ids);
    free(buf);
    if (err != SPOOL_OK)
        goto fail;

    s->next_seq = s->reserved;
    if (last_seq + 1 > s->next_seq)
        s->next_seq = last_seq + 1;
    if (s->opt.min_next_seq > s->next_seq)
        s->next_seq = s->opt.min_next_seq;
    /* Defensive: an ack is never above an issued seq (spool_ack floors). */
    if (s->acked >= s->next_seq)
        s->acked = s->next_seq - 1;
    for (size_t k = 0; k < s->nseg;) {
        spool__seg_apply_ack(s, s->segs[k]);
        if (s->segs[k]->head == s->segs[k]->n)
            spool__seg_remove(s, k, 0);
        else
            k++;
    }
    *out = s;
    return SPOOL_OK;

fail : {
    int e = errno;

    for (size_t k = 0; k < s->nseg; k++)
        spool__seg_free(s->segs[k]);
    free(s->segs);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->wbuf);
    free(s->rbuf);
    free(s);
    errno = e;
    return err;
}
}

int spool_close(struct spool *s)
{
    int err, e2;

    if (!s)
        return SPOOL_OK;
    err = spool__sync_active(s);
    /* Exact, so a clean restart leaves no gap in the numbering. */
    s->reserved = s->next_seq;
    e2 = spool__state_write(s);
    if (err == SPOOL_OK)
        err = e2;
    if (s->afd >= 0)
        close(s->afd);
    if (s->rd_fd >= 0)
        close(s->rd_fd);
    for (size_t k = 0; k < s->nseg; k++)
        spool__seg_free(s->segs[k]);
    free(s->segs);
    close(s->dirfd); /* drops the lock */
    free(s->wbuf);
    free(s->rbuf);
    free(s);
    return err;
}

/* No seq is handed out before a state file says it was reserved. */
static int spool__reserve_seq(struct spool *s)
{
    uint64_t old = s->reserved;
    int err;

    if (s->next_seq < s->reserved)
        return SPOOL_OK;
    s->reserved = s->next_seq + s->opt.seq_block;
    err = spool__state_write(s);
    if (err != SPOOL_OK)
        s->reserved = old;
    return err;
}

int spool_append(struct spool *s, enum spool_class cls, int64_t t_ms,
                 const void *payload, size_t len, uint64_t *seq_out)
{
    uint64_t need = HDR + (uint64_t)len, at;
    struct rec r;
    struct seg *g;
    unsigned char *p;
    int err;

    if (!s || (cls != SPOOL_POSITION && cls != SPOOL_COUNT) ||
        (len > 0 && !payload))
        return SPOOL_ERR_INVAL;
    if (len > s->opt.max_payload)
        return SPOOL_ERR_TOOBIG;
    if ((err = spool__make_room(s, need)) != SPOOL_OK)
        return err;
    if (s->active && s->active->n > 0 &&
        s->active->size + need > s->opt.segment_bytes &&
        (err = spool__seal_active(s)) != SPOOL_OK)
        return err;
    if ((err = spool__reserve_seq(s)) != SPOOL_OK)
        return err;
    if (!s->active && (err = spool__create_active(s)) != SPOOL_OK)
        return err;
    if (s->wlen + need > s->wcap && (err = spool__write_out(s)) != SPOOL_OK)
        return err;

    g = s->active;
    at = g->size;
    r.len = (uint32_t)len;
    r.seq = s->next_seq;
    r.t_ms = t_ms;
    r.cls = cls;
    p = s->wbuf + s->wlen;
    spool__hdr_encode(p, &r);
    if (len > 0)
        memcpy(p + HDR, payload, len);
    spool__put32(p, spool__rec_crc(p, p + HDR, len));
    err = spool__seg_push(g, r.seq,
                          (uint32_t)at | (cls == SPOOL_COUNT ? ENT_COUNT : 0));
    if (err != SPOOL_OK)
        return err;
    s->next_seq++;
    s->wlen += need;
    g->size += need;
    s->total_bytes += need;
    spool__held_add(s, g, g->ent[g->n - 1], 1);
    s->dirty = 1;

    if (cls == SPOOL_COUNT) {
        err = spool__sync_active(s);
        if (err == SPOOL_OK)
            s->count_synced = 1;
        if (err != SPOOL_OK) {
            int e = errno;

            /* Take the count back out, from the buffer or the file. */
            if (s->adisk > at) {
                if (ftruncate(s->afd, (off_t)at) < 0) {
                    /* a later scan would find it: still not "lost" */
                }
                s->adisk = at;
                s->wlen = 0;
            } else {
                s->wlen -= need;
            }
            spool__held_add(s, g, g->ent[g->n - 1], -1);
            g->n--;
            g->size -= need;
            s->total_bytes -= need;
            errno = e;
            return err;
        }
    }
    if (seq_out)
        *seq_out = r.seq;
    return SPOOL_OK;
}

int spool_flush(struct spool *s)
{
    if (!s)
        return SPOOL_ERR_INVAL;
    return spool__sync_active(s);
}

int spool_flush_due(struct spool *s, int64_t now_mono_ms)
{
    int err;

    if (!s)
        return SPOOL_ERR_INVAL;
    if (s->count_synced) {
        /* The count's own sync stands for this second's: one sync a
         * second in all, door events or not. */
        s->count_synced = 0;
        s->last_sync_ms = now_mono_ms;
    }
    if (spool_next_flush_ms(s, now_mono_ms) != 0)
        return 0;
    err = spool__sync_active(s);
    s->last_sync_ms = now_mono_ms;
    return err != SPOOL_OK ? err : 1;
}

int64_t spool_next_flush_ms(const struct spool *s, int64_t now_mono_ms)
{
    int64_t due;

    if (!s || !s->active || (!s->dirty && s->wlen == 0))
        return -1;
    if (s->last_sync_ms == INT64_MIN || s->count_synced)
        return 0;
    due = s->last_sync_ms + s->opt.flush_interval_ms - now_mono_ms;
    return due > 0 ? due : 0;
}

int spool_peek(struct spool *s, uint64_t after_seq, size_t max_records,
               size_t max_bytes, struct spool_item *out, size_t *n)
{
    uint64_t start;
    size_t used = 0, got = 0;
    int err = SPOOL_OK;

    if (!s || !n || (max_records > 0 && !out))
        return SPOOL_ERR_INVAL;
    *n = 0;
    if (after_seq < s->acked)
        after_seq = s->acked;
    if (after_seq == UINT64_MAX)
        return SPOOL_OK;
    start = after_seq + 1;
    for (size_t k = 0; k < s->nseg && got < max_records; k++) {
        struct seg *g = s->segs[k];
        uint32_t i;

        if (g->n == 0 || spool__seg_seq(g, g->n - 1) < start)
            continue;
        i = spool__seg_lower(g, start);
        if (i < g->head)
            i = g->head;
        for (; i < g->n && got < max_records; i++) {
            unsigned char hdr[HDR];
            struct rec r;

            if (g->ent[i] & ENT_GONE)
                continue;
            err = spool__seg_read(s, g, g->ent[i] & ENT_OFF_MASK, hdr, HDR);
            if (err == SPOOL_OK)
                err = spool__hdr_decode(hdr, &r);
            if (err == SPOOL_OK && got > 0 && used + r.len > max_bytes)
                goto done;
            if (err == SPOOL_OK)
                err = spool__rec_read(s, g, i, hdr, 1, used, &r);
            if (err == SPOOL_ERR_CORRUPT) {
                spool__rec_mark_gone(s, g, i);
                err = SPOOL_OK;
                continue;
            }
            if (err != SPOOL_OK)
                return err;
            out[got].seq = r.seq;
            out[got].cls = (enum spool_class)r.cls;
            out[got].t_ms = r.t_ms;
            out[got].len = r.len;
            used += r.len;
            got++;
        }
    }
done:
    /* Pointers only now: rbuf may have moved while it grew. */
    used = 0;
    for (size_t j = 0; j < got; j++) {
        out[j].payload = s->rbuf + used;
        used += out[j].len;
    }
    *n = got;
    return SPOOL_OK;
}

int spool_seq_floor(struct spool *s, uint64_t min_next)
{
    uint64_t old = s ? s->reserved : 0;
    int err;

    if (!s)
        return SPOOL_ERR_INVAL;
    if (min_next <= s->next_seq)
        return SPOOL_OK;
    /* A jump inside the active segment would make its index sparse. */
    if ((err = spool__seal_active(s)) != SPOOL_OK)
        return err;
    s->next_seq = min_next;
    if (s->reserved >= min_next)
        return SPOOL_OK; /* a crash already resumes at or above it */
    s->reserved = min_next + s->opt.seq_block;
    err = spool__state_write(s);
    if (err != SPOOL_OK)
        s->reserved = old; /* next_seq stays raised for this run */
    return err;
}

int spool_ack(struct spool *s, uint64_t seq)
{
    int err = SPOOL_OK, removed = 0;

    if (!s)
        return SPOOL_ERR_INVAL;
    /* The backend has this seq: numbering must never come back to it. */
    if (seq >= s->next_seq && seq < UINT64_MAX)
        err = spool_seq_floor(s, seq + 1);
    if (seq <= s->acked)
        return err;
    s->acked = seq;
    while (s->nseg > 0) {
        struct seg *g = s->segs[0];

        spool__seg_apply_ack(s, g);
        /* The segment being appended to stays, acked or not: removing it
         * would make the next append create a file and sync the directory,
         * once a second at 1 Hz with a prompt backend. It goes once sealed. */
        if (g->head < g->n || g == s->active)
            break;
        spool__seg_remove(s, 0, 0);
        removed = 1;
    }
    /* The unlink is durable only once the directory is: without this a
     * power cut can bring acked segments back (offered again, harmless) or
     * leave the directory's blocks half written. */
    if (removed) {
        int e = spool__do_sync(s, s->dirfd, 0);

        if (err == SPOOL_OK)
            err = e;
    }
    return err;
}

int spool_discard(struct spool *s, uint64_t seq)
{
    if (!s || seq == 0)
        return SPOOL_ERR_INVAL;
    for (size_t k = 0; k < s->nseg; k++) {
        struct seg *g = s->segs[k];
        uint32_t i;

        if (g->n == 0 || spool__seg_seq(g, g->n - 1) < seq)
            continue;
        i = spool__seg_lower(g, seq);
        if (i < g->head || i >= g->n || spool__seg_seq(g, i) != seq ||
            (g->ent[i] & ENT_GONE))
            return SPOOL_ERR_INVAL;
        if (g->ent[i] & ENT_COUNT)
            s->dropped_cnt++;
        else
            s->dropped_pos++;
        spool__held_add(s, g, g->ent[i], -1);
        g->ent[i] |= ENT_GONE;
        return SPOOL_OK;
    }
    return SPOOL_ERR_INVAL;
}

uint64_t spool_next_seq(const struct spool *s)
{
    return s->next_seq;
}

uint64_t spool_oldest_held(const struct spool *s)
{
    for (size_t k = 0; k < s->nseg; k++) {
        const struct seg *g = s->segs[k];

        for (uint32_t i = g->head; i < g->n; i++)
            if (!(g->ent[i] & ENT_GONE))
                return spool__seg_seq(g, i);
    }
    return s->next_seq;
}

int spool_stats(struct spool *s, struct spool_stats *st)
{
    if (!s || !st)
        return SPOOL_ERR_INVAL;
    memset(st, 0, sizeof *st);
    st->positions = s->held_pos;
    st->counts = s->held_cnt;
    st->records = s->held_pos + s->held_cnt;
    st->bytes = s->total_bytes;
    st->dropped_positions = s->dropped_pos;
    st->dropped_counts = s->dropped_cnt;
    st->corrupt = s->corrupt;
    st->truncated_bytes = s->truncated;
    st->fsyncs = s->fsyncs;
    st->writes = s->writes;
    st->next_seq = s->next_seq;
    st->acked_seq = s->acked;
    st->segments = (uint32_t)s->nseg;
    st->fresh = s->fresh;
    st->index_bytes = sizeof *s + s->segcap * sizeof *s->segs;
    for (size_t k = 0; k < s->nseg; k++) {
        const struct seg *g = s->segs[k];

        st->index_bytes += sizeof *g + (uint64_t)g->cap * sizeof *g->ent;
        if (g->seqd)
            st->index_bytes += (uint64_t)g->cap * sizeof *g->seqd;
    }
    for (size_t k = 0, found = 0; k < s->nseg && !found; k++) {
        struct seg *g = s->segs[k];

        for (uint32_t i = g->head; i < g->n; i++) {
            unsigned char hdr[HDR];
            struct rec r;

            if (g->ent[i] & ENT_GONE)
                continue;
            if (spool__seg_read(s, g, g->ent[i] & ENT_OFF_MASK, hdr, HDR) ==
                    SPOOL_OK &&
                spool__hdr_decode(hdr, &r) == SPOOL_OK)
                st->oldest_t_ms = r.t_ms;
            found = 1;
            break;
        }
    }
    return SPOOL_OK;
}

const char *spool_strerror(int err)
{
    switch (err) {
    case SPOOL_OK:
        return "success";
    case SPOOL_ERR_IO:
        return "I/O error";
    case SPOOL_ERR_NOMEM:
        return "out of memory";
    case SPOOL_ERR_INVAL:
        return "invalid argument";
    case SPOOL_ERR_BUSY:
        return "spool in use by another process";
    case SPOOL_ERR_TOOBIG:
        return "record too large";
    case SPOOL_ERR_CORRUPT:
        return "damaged record";
    case SPOOL_ERR_VERSION:
        return "journal written in a newer format than this shuttle-onboard "
               "reads (left untouched: upgrade shuttle-onboard, or move the "
               "spool directory aside to start an empty one)";
    }
    return "unknown spool error";
}
