/* conninfo: a libpq connection string made fit for a log line (its
 * passwords masked), without libpq: the bus's daemon links this library
 * too. */
#ifndef SHUTTLE_CONNINFO_H
#define SHUTTLE_CONNINFO_H

#include <stddef.h>

/* The mask a password's value is replaced by. */
#define CONNINFO_MASK "***"

/* Copy the connection string IN to OUT (OUTLEN bytes, always
 * NUL-terminated when OUTLEN > 0) with the value of every password
 * replaced by CONNINFO_MASK: `password=VALUE` or `password = 'quoted
 * value'` in the key=value form; in the postgresql:// (or postgres://) URI
 * form, the password of user:password@ and any password= of the query.
 * Everything else is copied as written, so a multi-host list reads as the
 * operator wrote it. Returns 0, or -1 when OUT was too short (what is in
 * OUT is then cut short, never a part of a password). */
int conninfo_mask(const char *in, char *out, size_t outlen);

#endif
