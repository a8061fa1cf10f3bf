/* pub_static: /gtfs/static.zip, the static GTFS feed shuttle-live runs on,
 * zipped in memory from the exact bytes the loader stored (gtfs_files,
 * migration 008). Pure: the caller runs the query. */
#ifndef SHUTTLE_PUB_STATIC_H
#define SHUTTLE_PUB_STATIC_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* The one DOS date and time every member carries (1980-01-01 00:00, the
 * zip epoch): the same files always give the same bytes, whatever the
 * clock, the time zone or the day they were loaded. */
#define PUB_STATIC_DOSDATE 0x0021
#define PUB_STATIC_DOSTIME 0x0000
/* Longest member name taken from the table. */
#define PUB_STATIC_NAME_MAX 64

enum pub_static_err {
    PUB_STATIC_OK = 0,
    PUB_STATIC_ERR_INVALID, /* a bad result: columns, NULLs, names, bytea */
    PUB_STATIC_ERR_EMPTY,   /* no files: no feed loaded yet */
    PUB_STATIC_ERR_NOMEM,
    PUB_STATIC_ERR_ZIP, /* libzip refused (ERR has its message) */
};

/* The query whose result pub_static_zip takes: name, body of every file
 * in byte order of the names. Text or binary result format. */
const char *pub_static_sql(void);

/*
 * The zip of the files in R (rows of pub_static_sql) into *ZIP, *LEN
 * bytes, malloc'd, the caller's to free: one deflated member per row, in
 * the rows' order, named as the row says (a plain file name: letters,
 * digits, '_', '-', '.', not starting with '.'), with PUB_STATIC_DOSDATE /
 * _DOSTIME. Returns PUB_STATIC_OK or an error with ERR saying what; on
 * error *ZIP is NULL.
 */
enum pub_static_err pub_static_zip(const PGresult *r, uint8_t **zip,
                                   size_t *len, char *err, size_t errlen);

#endif
