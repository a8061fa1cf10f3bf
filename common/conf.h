/* conf: `keyword value` config files parsed from one declarative table. */
#ifndef SHUTTLE_CONF_H
#define SHUTTLE_CONF_H

#include <stddef.h>
#include <stdint.h>

enum conf_type {
    CONF_STRING, /* char *, malloc'd, freed by conf_free */
    CONF_INT,    /* long long, checked against [min, max] */
    CONF_DOUBLE, /* double, checked against [min, max] */
    CONF_BOOL,   /* int: yes/no, true/false, on/off, 1/0 */
    CONF_SECRET, /* char *: a file is read; refused if group/world-readable */
    /* int: an option whose duty moved elsewhere. Any value is accepted and
     * ignored, the field is set to 1 so that the program can warn (help says
     * where it went), and --example-config leaves it out: an old file must
     * not stop a daemon from starting over a setting it no longer uses. */
    CONF_RETIRED,
};

/*
 * One row per option: the whole of a program's configuration is declared in
 * one table (Redis' config.c does the same), so defaults, bounds and the
 * documentation cannot drift apart. `offset` is offsetof() into the caller's
 * config struct. `def` is the default as it would be written in the file
 * (NULL: no default; for strings the field stays NULL). `required` options
 * must appear in the file when they have no default.
 */
struct conf_option {
    const char *name;
    enum conf_type type;
    size_t offset;
    const char *def;
    double min, max;
    int required;
    const char *help;
};

enum conf_err {
    CONF_OK = 0,
    CONF_ERR_IO = -1,     /* cannot open or read the file */
    CONF_ERR_SYNTAX = -2, /* unknown keyword, bad value, out of bounds */
    CONF_ERR_MISSING = -3,
    CONF_ERR_SECRET = -4, /* secret file unreadable or too open */
};

/*
 * Fill `dst` with every option's default. Returns CONF_OK, or an error with
 * a message in err when a default in the table itself is invalid.
 */
int conf_defaults(const struct conf_option *table, void *dst, char *err,
                  size_t errlen);

/*
 * Parse `path` into `dst` (defaults first). On error returns a conf_err and
 * writes "FILE:LINE: what is wrong" into err. The strings in dst are owned by
 * dst: release them with conf_free.
 */
int conf_load(const struct conf_option *table, void *dst, const char *path,
              char *err, size_t errlen);

/* Parse one `key value` assignment, as a file line would (for -o options). */
int conf_set(const struct conf_option *table, void *dst, const char *key,
             const char *value, char *err, size_t errlen);

/*
 * Apply command-line overrides, each "key=value", in order (after the file).
 * On error writes "-o ARG: what is wrong" into err and returns the error.
 */
int conf_set_pairs(const struct conf_option *table, void *dst,
                   const char *const *pairs, int n, char *err, size_t errlen);

/* Free the strings of dst allocated by conf_load/conf_defaults/conf_set. */
void conf_free(const struct conf_option *table, void *dst);

/* 64-bit FNV-1a of a file's bytes as 16 hex digits, for status messages.
 * Returns 0, or -1 when the file cannot be read. */
int conf_file_hash(const char *path, char out[17]);

/* Print the table as a commented example config to `fp` (FILE *). */
void conf_print_example(const struct conf_option *table, void *fp);

#endif
