/* schema: does the database hold a migration this binary does not know?
 * Shared by shuttle-backend, shuttle-live and shuttle-report, which each
 * refuse to start on a schema newer than themselves (exit SCHEMA_EXIT):
 * an old binary on a new schema would read or write tables whose meaning
 * it does not know. */
#ifndef SHUTTLE_SCHEMA_H
#define SHUTTLE_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

enum schema_rc {
    SCHEMA_OK = 0,    /* no migration newer than this binary's */
    SCHEMA_NEWER = 1, /* the schema is newer: err says which, and the fix */
    SCHEMA_ERR = -1,  /* could not be asked (err says why) */
};

/* The exit code of a binary that refuses a newer schema (documented in the
 * man pages' EXIT STATUS and the README's "Upgrades"). */
#define SCHEMA_EXIT 5

/* The newest migration this build carries, and its name ("009_..."). */
int schema_known(void);
const char *schema_known_name(void);

/* Ask the connected c. `binary` names the program in the message. No
 * schema_migrations table (an empty database) is SCHEMA_OK: migrating it
 * is the caller's business. */
int schema_check(PGconn *c, const char *binary, char *err, size_t errlen);

/* The same on a connection of its own to conninfo, closed again. A server
 * that cannot be reached is SCHEMA_ERR: the caller's own connect reports
 * that in its usual way. */
int schema_check_conninfo(const char *conninfo, const char *binary, char *err,
                          size_t errlen);

#endif
