/* buf: a growable byte buffer, NUL-terminated after its bytes, for COPY
 * data (text or binary) and array literals. */
#ifndef SHUTTLE_BUF_H
#define SHUTTLE_BUF_H

#include <stddef.h>

/* Zero it to start (no memory yet); buf_free when done. p[len] is a NUL
 * once anything was reserved, so text in it is a C string. */
struct buf {
    char *p;
    size_t len, cap;
};

enum buf_err {
    BUF_OK = 0,
    BUF_ERR_NOMEM = -1, /* b is unchanged */
};

/* Make room for `more` bytes past b->len and the NUL after them (writing
 * there is the caller's; then add to b->len). BUF_OK or BUF_ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t more);

/* Append len bytes at p. BUF_OK or BUF_ERR_NOMEM. */
int buf_append(struct buf *b, const void *p, size_t len);

/* Append formatted text. BUF_OK or BUF_ERR_NOMEM (also when the format
 * itself fails); on error b->len is unchanged. */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forget the contents, keep the memory. */
void buf_clear(struct buf *b);

/* Release the memory; b is empty (zeroed) again. */
void buf_free(struct buf *b);

#endif
