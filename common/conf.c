/* conf: `keyword value` config files parsed from one declarative table. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"

#define CONF_LINE_MAX 1024
#define CONF_SECRET_MAX 4096

static const struct conf_option *conf_find(const struct conf_option *table,
                                           const char *key)
{
    for (; table->name; table++)
        if (strcmp(table->name, key) == 0)
            return table;
    return NULL;
}

static int conf_read_secret(const char *path, char **out, char *err,
                            size_t errlen)
{
    struct stat st;
    char buf[CONF_SECRET_MAX];
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "secret file %s: %s", path, strerror(errno));
        return CONF_ERR_SECRET;
    }
    if (fstat(fd, &st) < 0 || (st.st_mode & (S_IRWXG | S_IRWXO))) {
        snprintf(err, errlen,
                 "secret file %s must not be group- or world-accessible "
                 "(chmod 600 %s)",
                 path, path);
        close(fd);
        return CONF_ERR_SECRET;
    }
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "secret file %s: %s", path, strerror(errno));
        return CONF_ERR_SECRET;
    }
    buf[n] = '\0';
    /* A trailing newline is an editor's habit, not part of the secret. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *out = strdup(buf);
    return *out ? CONF_OK : CONF_ERR_IO;
}

static int conf_assign(const struct conf_option *o, void *dst,
                       const char *value, char *err, size_t errlen)
{
    char *field = (char *)dst + o->offset;
    char *end;

    switch (o->type) {
    case CONF_STRING: {
        char *copy = strdup(value);

        if (!copy)
            return CONF_ERR_IO;
        free(*(char **)field);
        *(char **)field = copy;
        return CONF_OK;
    }
    case CONF_SECRET: {
        char *secret = NULL;
        int rc = conf_read_secret(value, &secret, err, errlen);

        if (rc != CONF_OK)
            return rc;
        free(*(char **)field);
        *(char **)field = secret;
        return CONF_OK;
    }
    case CONF_INT: {
        long long v;

        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not an integer", o->name, value);
            return CONF_ERR_SYNTAX;
        }
        if ((double)v < o->min || (double)v > o->max) {
            snprintf(err, errlen, "%s: %lld is outside [%.0f, %.0f]", o->name,
                     v, o->min, o->max);
            return CONF_ERR_SYNTAX;
        }
        *(long long *)field = v;
        return CONF_OK;
    }
    case CONF_DOUBLE: {
        double v;

        errno = 0;
        v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || !isfinite(v)) {
            snprintf(err, errlen, "%s: '%s' is not a number", o->name, value);
            return CONF_ERR_SYNTAX;
        }
        if (v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: %g is outside [%g, %g]", o->name, v,
                     o->min, o->max);
            return CONF_ERR_SYNTAX;
        }
        memcpy(field, &v, sizeof v); /* field: a double in the struct */
        return CONF_OK;
    }
    case CONF_BOOL:
        if (!strcmp(value, "yes") || !strcmp(value, "true") ||
            !strcmp(value, "on") || !strcmp(value, "1")) {
            *(int *)field = 1;
        } else if (!strcmp(value, "no") || !strcmp(value, "false") ||
                   !strcmp(value, "off") || !strcmp(value, "0")) {
            *(int *)field = 0;
        } else {
            snprintf(err, errlen, "%s: '%s' is not yes or no", o->name, value);
            return CONF_ERR_SYNTAX;
        }
        return CONF_OK;
    case CONF_RETIRED:
        *(int *)field = 1;
        return CONF_OK;
    }
    snprintf(err, errlen, "%s: bad option type in table", o->name);
    return CONF_ERR_SYNTAX;
}

int conf_defaults(const struct conf_option *table, void *dst, char *err,
                  size_t errlen)
{
    for (const struct conf_option *o = table; o->name; o++) {
        char *field = (char *)dst + o->offset;

        if (o->type == CONF_STRING || o->type == CONF_SECRET)
            *(char **)field = NULL;
        if (o->type == CONF_RETIRED) {
            *(int *)field = 0;
            continue;
        }
        /* Secret defaults name a file that may not exist yet: load them only
         * when the config names them. */
        if (o->def && o->type != CONF_SECRET) {
            int rc = conf_assign(o, dst, o->def, err, errlen);
            if (rc != CONF_OK)
                return rc;
        }
    }
    return CONF_OK;
}

int conf_set(const struct conf_option *table, void *dst, const char *key,
             const char *value, char *err, size_t errlen)
{
    const struct conf_option *o = conf_find(table, key);

    if (!o) {
        snprintf(err, errlen, "unknown keyword '%s'", key);
        return CONF_ERR_SYNTAX;
    }
    return conf_assign(o, dst, value, err, errlen);
}

int conf_set_pairs(const struct conf_option *table, void *dst,
                   const char *const *pairs, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        char key[64], why[512];
        const char *eq = strchr(pairs[i], '=');
        int rc;

        if (!eq || eq == pairs[i] || (size_t)(eq - pairs[i]) >= sizeof key) {
            snprintf(err, errlen, "-o %.200s: expected key=value", pairs[i]);
            return CONF_ERR_SYNTAX;
        }
        memcpy(key, pairs[i], (size_t)(eq - pairs[i]));
        key[eq - pairs[i]] = '\0';
        rc = conf_set(table, dst, key, eq + 1, why, sizeof why);
        if (rc != CONF_OK) {
            snprintf(err, errlen, "-o %.100s: %.300s", pairs[i], why);
            return rc;
        }
    }
    return CONF_OK;
}

static char *conf_trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int conf_load(const struct conf_option *table, void *dst, const char *path,
              char *err, size_t errlen)
{
    char line[CONF_LINE_MAX + 2];
    char why[512];
    unsigned char seen[256] = {0};
    size_t nopt = 0;
    int lineno = 0;
    int rc;
    FILE *fp;

    for (const struct conf_option *o = table; o->name; o++)
        nopt++;
    if (nopt > sizeof seen) {
        snprintf(err, errlen, "%s: option table too large", path);
        return CONF_ERR_SYNTAX;
    }
    rc = conf_defaults(table, dst, err, errlen);
    if (rc != CONF_OK)
        return rc;
    fp = fopen(path, "re");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CONF_ERR_IO;
    }
    while (fgets(line, sizeof line, fp)) {
        const struct conf_option *o;
        char *key, *value, *hash;

        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            snprintf(err, errlen, "%s:%d: line longer than %d bytes", path,
                     lineno, CONF_LINE_MAX);
            fclose(fp);
            return CONF_ERR_SYNTAX;
        }
        hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        key = conf_trim(line);
        if (*key == '\0')
            continue;
        value = key;
        while (*value && !isspace((unsigned char)*value))
            value++;
        if (*value)
            *value++ = '\0';
        value = conf_trim(value);
        o = conf_find(table, key);
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown keyword '%s'", path, lineno,
                     key);
            fclose(fp);
            return CONF_ERR_SYNTAX;
        }
        if (*value == '\0') {
            snprintf(err, errlen, "%s:%d: '%s' needs a value", path, lineno,
                     key);
            fclose(fp);
            return CONF_ERR_SYNTAX;
        }
        rc = conf_assign(o, dst, value, why, sizeof why);
        if (rc != CONF_OK) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            fclose(fp);
            return rc;
        }
        seen[o - table] = 1;
    }
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        fclose(fp);
        return CONF_ERR_IO;
    }
    fclose(fp);
    for (const struct conf_option *o = table; o->name; o++) {
        if (o->required && !o->def && !seen[o - table]) {
            snprintf(err, errlen, "%s: required keyword '%s' is missing", path,
                     o->name);
            return CONF_ERR_MISSING;
        }
    }
    return CONF_OK;
}

void conf_free(const struct conf_option *table, void *dst)
{
    for (const struct conf_option *o = table; o->name; o++) {
        if (o->type == CONF_STRING || o->type == CONF_SECRET) {
            char **field = (char **)((char *)dst + o->offset);
            free(*field);
            *field = NULL;
        }
    }
}

int conf_file_hash(const char *path, char out[17])
{
    uint64_t h = HASH_FNV1A_INIT;
    unsigned char buf[4096];
    size_t n;
    FILE *fp = fopen(path, "rbe");

    if (!fp)
        return -1;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        h = hash_fnv1a(h, buf, n);
    fclose(fp);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

void conf_print_example(const struct conf_option *table, void *fp)
{
    for (const struct conf_option *o = table; o->name; o++) {
        if (o->type == CONF_RETIRED)
            continue; /* not to be written into new files */
        fprintf(fp, "# %s\n", o->help ? o->help : "");
        if (o->def)
            fprintf(fp, "#%s %s\n\n", o->name, o->def);
        else
            fprintf(fp, "#%s ...\n\n", o->name);
    }
}
