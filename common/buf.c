/* buf: a growable byte buffer, NUL-terminated after its bytes. */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation: COPY batches run to megabytes, so start where a
 * few doublings reach them. */
#define BUF_FIRST_CAP 65536

int buf_reserve(struct buf *b, size_t more)
{
    size_t cap;
    char *p;

    if (more > SIZE_MAX / 2 - b->len - 1)
        return BUF_ERR_NOMEM;
    if (b->len + more + 1 <= b->cap)
        return BUF_OK;
    cap = b->cap ? b->cap : BUF_FIRST_CAP;
    while (cap < b->len + more + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p)
        return BUF_ERR_NOMEM;
    if (!b->p)
        p[0] = '\0';
    b->p = p;
    b->cap = cap;
    return BUF_OK;
}

int buf_append(struct buf *b, const void *p, size_t len)
{
    if (buf_reserve(b, len) != BUF_OK)
        return BUF_ERR_NOMEM;
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
    return BUF_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    /* Most appends are short: one vsnprintf into the room there is, a
     * second only when it did not fit. */
    if (buf_reserve(b, 256) != BUF_OK)
        return BUF_ERR_NOMEM;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->p[b->len] = '\0';
        return BUF_ERR_NOMEM;
    }
    if ((size_t)n >= b->cap - b->len) {
        if (buf_reserve(b, (size_t)n) != BUF_OK) {
            b->p[b->len] = '\0';
            return BUF_ERR_NOMEM;
        }
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return BUF_OK;
}

void buf_clear(struct buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
