/* migrations: the schema's versioned SQL, embedded at build time. */
#ifndef SHUTTLE_MIGRATIONS_H
#define SHUTTLE_MIGRATIONS_H

struct migration {
    int version;      /* from the file name's leading number */
    const char *name; /* file name without .sql */
    const char *sql;
};

/* In version order, ended by an entry with version 0. */
extern const struct migration migrations[];

#endif
