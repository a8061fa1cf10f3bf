/* held: passenger counts waiting for a time, kept on disk beside the spool. */
#include "held.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELD_MAGIC 0x444c4853u /* "SHLD" */
#define HELD_VERSION 2u
#define HELD_BOOT_MAX 64

/* The file: this header, then n entries. Entries are the struct as this
 * build lays it out; entry_size tells a build that lays it out otherwise
 * (it then reports them lost rather than misreading them). */
struct held__header {
    uint32_t magic, version, entry_size, n;
    char boot_id[HELD_BOOT_MAX];
    uint64_t release_from; /* 0, or the seq the first is journaled at */
};

struct held {
    char *path, *tmp;
    char boot_id[HELD_BOOT_MAX];
    struct held_entry e[HELD_MAX];
    size_t n;
    uint64_t release_from;
};

static int held__fsync_dir(const char *path)
{
    char dir[4096];
    char *slash;
    int fd, rc;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return HELD_ERR_IO;
    rc = fsync(fd) == 0 ? HELD_OK : HELD_ERR_IO;
    close(fd);
    return rc;
}

/* Write the whole file: a new one is renamed over the old, so a crash
 * leaves one or the other, never half. */
static int held__save(struct held *h)
{
    struct held__header hd;
    int fd, rc = HELD_OK;

    memset(&hd, 0, sizeof hd);
    hd.magic = HELD_MAGIC;
    hd.version = HELD_VERSION;
    hd.entry_size = (uint32_t)sizeof(struct held_entry);
    hd.n = (uint32_t)h->n;
    memcpy(hd.boot_id, h->boot_id, sizeof hd.boot_id);
    hd.release_from = h->release_from;
    fd = open(h->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return HELD_ERR_IO;
    if (write(fd, &hd, sizeof hd) != (ssize_t)sizeof hd ||
        write(fd, h->e, h->n * sizeof *h->e) !=
            (ssize_t)(h->n * sizeof *h->e) ||
        fsync(fd) != 0)
        rc = HELD_ERR_IO;
    if (close(fd) != 0)
        rc = HELD_ERR_IO;
    if (rc == HELD_OK && rename(h->tmp, h->path) != 0)
        rc = HELD_ERR_IO;
    if (rc == HELD_OK)
        rc = held__fsync_dir(h->path);
    if (rc != HELD_OK)
        unlink(h->tmp);
    return rc;
}

/* Read what a previous run of this boot left; *lost: what it left that
 * cannot be used. */
static int held__load(struct held *h, unsigned *lost)
{
    struct held__header hd;
    int fd = open(h->path, O_RDONLY | O_CLOEXEC);
    ssize_t got;

    if (fd < 0)
        return errno == ENOENT ? HELD_OK : HELD_ERR_IO;
    got = read(fd, &hd, sizeof hd);
    if (got == (ssize_t)sizeof hd && hd.magic == HELD_MAGIC &&
        hd.version == HELD_VERSION &&
        hd.entry_size == (uint32_t)sizeof(struct held_entry) &&
        hd.n <= HELD_MAX && h->boot_id[0] &&
        memcmp(hd.boot_id, h->boot_id, sizeof hd.boot_id) == 0 &&
        read(fd, h->e, hd.n * sizeof *h->e) == (ssize_t)(hd.n * sizeof *h->e)) {
        h->n = hd.n;
        h->release_from = hd.release_from;
        close(fd);
        return HELD_OK;
    }
    close(fd);
    /* Another boot, or unreadable: their times are lost. */
    if (got == (ssize_t)sizeof hd && hd.magic == HELD_MAGIC)
        *lost = hd.n;
    else
        *lost = 1;
    return unlink(h->path) == 0 ? HELD_OK : HELD_ERR_IO;
}

int held_open(const char *dir, const char *boot_id, struct held **out,
              unsigned *lost)
{
    struct held *h = calloc(1, sizeof *h);
    size_t len = strlen(dir) + 16;
    int rc;

    *lost = 0;
    if (!h)
        return HELD_ERR_NOMEM;
    h->path = malloc(len);
    h->tmp = malloc(len);
    if (!h->path || !h->tmp) {
        held_free(h);
        return HELD_ERR_NOMEM;
    }
    snprintf(h->path, len, "%s/held", dir);
    snprintf(h->tmp, len, "%s/held.tmp", dir);
    snprintf(h->boot_id, sizeof h->boot_id, "%s", boot_id ? boot_id : "");
    rc = held__load(h, lost);
    if (rc != HELD_OK) {
        held_free(h);
        return rc;
    }
    *out = h;
    return HELD_OK;
}

void held_free(struct held *h)
{
    if (!h)
        return;
    free(h->path);
    free(h->tmp);
    free(h);
}

int held_add(struct held *h, const struct wire_record *r,
             int64_t wall_minus_mono)
{
    if (h->n == HELD_MAX)
        return HELD_ERR_FULL;
    h->e[h->n].r = *r;
    h->e[h->n].wall_minus_mono = wall_minus_mono;
    h->n++;
    return held__save(h);
}

size_t held_count(const struct held *h)
{
    return h->n;
}

const struct held_entry *held_get(const struct held *h, size_t i)
{
    return i < h->n ? &h->e[i] : NULL;
}

int held_release_begin(struct held *h, uint64_t first_seq)
{
    h->release_from = first_seq;
    return held__save(h);
}

uint64_t held_release_from(const struct held *h)
{
    return h->release_from;
}

int held_drop(struct held *h, size_t n)
{
    if (n > h->n)
        n = h->n;
    memmove(h->e, h->e + n, (h->n - n) * sizeof *h->e);
    h->n -= n;
    h->release_from = 0;
    return h->n ? held__save(h) : held_clear(h);
}

int held_clear(struct held *h)
{
    h->n = 0;
    h->release_from = 0;
    if (unlink(h->path) != 0 && errno != ENOENT)
        return HELD_ERR_IO;
    return held__fsync_dir(h->path);
}
