/* conninfo: mask the passwords of a libpq connection string for logging. */
#include "conninfo.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* Where the masked string is written; overflow is remembered, and nothing
 * is written past the room. */
struct conninfo__out {
    char *p;
    size_t len, cap;
    bool cut;
};

static void conninfo__put(struct conninfo__out *o, const char *s, size_t n)
{
    if (o->cap == 0)
        return;
    if (o->len + n >= o->cap) {
        n = o->cap - 1 - o->len;
        o->cut = true;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static bool conninfo__is_password(const char *key, size_t n)
{
    return n == 8 && strncmp(key, "password", 8) == 0;
}

/* The URI form: scheme://[user[:password]@]hosts[/dbname][?key=value&...] */
static void conninfo__uri(struct conninfo__out *o, const char *in)
{
    const char *auth = strstr(in, "://") + 3;
    size_t alen = strcspn(auth, "/?");
    const char *at = NULL, *q;

    /* The userinfo ends at the last '@' of the authority (a percent-
     * encoded password has none of its own). */
    for (const char *c = auth; c < auth + alen; c++)
        if (*c == '@')
            at = c;
    conninfo__put(o, in, (size_t)(auth - in));
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));

        if (colon) {
            conninfo__put(o, auth, (size_t)(colon - auth) + 1);
            conninfo__put(o, CONNINFO_MASK, strlen(CONNINFO_MASK));
            conninfo__put(o, at, (size_t)(auth + alen - at));
        } else {
            conninfo__put(o, auth, alen);
        }
    } else {
        conninfo__put(o, auth, alen);
    }
    q = auth + alen;
    while (*q) {
        /* One query parameter (or the path before the '?'), with its
         * separator. */
        size_t n = strcspn(q + 1, "&") + 1;
        const char *eq = memchr(q + 1, '=', n - 1);

        if (*q != '/' && eq &&
            conninfo__is_password(q + 1, (size_t)(eq - q - 1))) {
            conninfo__put(o, q, (size_t)(eq - q) + 1);
            conninfo__put(o, CONNINFO_MASK, strlen(CONNINFO_MASK));
        } else if (*q == '/') {
            /* The dbname, up to the query. */
            n = strcspn(q, "?");
            conninfo__put(o, q, n);
        } else {
            conninfo__put(o, q, n);
        }
        q += n;
    }
}

/* The key=value form, read as libpq does: a key, '=' (spaces around it
 * allowed), a value that is a single-quoted string (backslash escapes) or
 * runs to the next space. */
static void conninfo__keywords(struct conninfo__out *o, const char *in)
{
    const char *c = in;

    while (*c) {
        const char *key, *v;
        size_t klen;
        bool mask;

        if (isspace((unsigned char)*c)) {
            conninfo__put(o, c++, 1);
            continue;
        }
        key = c;
        while (*c && *c != '=' && !isspace((unsigned char)*c))
            c++;
        klen = (size_t)(c - key);
        while (isspace((unsigned char)*c))
            c++;
        if (*c != '=') {
            /* Not a keyword libpq would take: copied as written. */
            conninfo__put(o, key, (size_t)(c - key));
            continue;
        }
        c++;
        while (isspace((unsigned char)*c))
            c++;
        mask = conninfo__is_password(key, klen);
        conninfo__put(o, key, (size_t)(c - key));
        v = c;
        if (*c == '\'') {
            for (c++; *c && *c != '\''; c++)
                if (*c == '\\' && c[1])
                    c++;
            if (*c == '\'')
                c++;
        } else {
            while (*c && !isspace((unsigned char)*c))
                c++;
        }
        if (mask)
            conninfo__put(o, CONNINFO_MASK, strlen(CONNINFO_MASK));
        else
            conninfo__put(o, v, (size_t)(c - v));
    }
}

int conninfo_mask(const char *in, char *out, size_t outlen)
{
    struct conninfo__out o = {out, 0, outlen, false};

    if (outlen == 0)
        return -1;
    out[0] = '\0';
    if (!in)
        return 0;
    if (strncmp(in, "postgresql://", 13) == 0 ||
        strncmp(in, "postgres://", 11) == 0)
        conninfo__uri(&o, in);
    else
        conninfo__keywords(&o, in);
    return o.cut ? -1 : 0;
}
