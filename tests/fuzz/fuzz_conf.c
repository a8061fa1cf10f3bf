/* fuzz_conf: config files (and -o overrides) through the table-driven
 * parser, with a table holding every option type. The file is a memfd:
 * conf_load reads a path, and /proc/self/fd/N names the bytes without
 * touching the disk. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_conf {
    char *name, *secret;
    long long port, big;
    double ratio;
    int flag, retired;
};

static const struct conf_option fuzz_conf_table[] = {
    {"name", CONF_STRING, offsetof(struct fuzz_conf, name), "bus-1", 0, 0, 0,
     "a string with a default"},
    {"port", CONF_INT, offsetof(struct fuzz_conf, port), "1883", 1, 65535, 0,
     "an int with bounds"},
    {"big", CONF_INT, offsetof(struct fuzz_conf, big), NULL, -9.2e18, 9.2e18, 0,
     "an int near the limits of long long"},
    {"ratio", CONF_DOUBLE, offsetof(struct fuzz_conf, ratio), "0.5", 0, 1, 0,
     "a double with bounds"},
    {"flag", CONF_BOOL, offsetof(struct fuzz_conf, flag), "no", 0, 0, 0,
     "a boolean"},
    {"secret_file", CONF_SECRET, offsetof(struct fuzz_conf, secret), NULL, 0, 0,
     0, "a secret read from a file"},
    {"old_option", CONF_RETIRED, offsetof(struct fuzz_conf, retired), NULL, 0,
     0, 0, "moved elsewhere"},
    {NULL, CONF_STRING, 0, NULL, 0, 0, 0, NULL},
};

/* Every line of DATA as a "key=value" override. */
static void fuzz_conf__pairs(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *save = NULL;
    const char *pairs[32];
    struct fuzz_conf c;
    char err[256];
    int n = 0;

    if (text == NULL)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *p = strtok_r(text, "\n", &save); p && n < 32;
         p = strtok_r(NULL, "\n", &save))
        pairs[n++] = p;
    memset(&c, 0, sizeof c);
    if (conf_defaults(fuzz_conf_table, &c, err, sizeof err) == CONF_OK)
        (void)conf_set_pairs(fuzz_conf_table, &c, pairs, n, err, sizeof err);
    conf_free(fuzz_conf_table, &c);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_conf c;
    char path[64], err[256], hash[17];
    int fd = memfd_create("fuzz_conf", MFD_CLOEXEC);

    if (fd < 0)
        return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    memset(&c, 0, sizeof c);
    err[0] = '\0';
    if (conf_load(fuzz_conf_table, &c, path, err, sizeof err) == CONF_OK) {
        /* Accepted values are within the table's bounds. */
        if (c.port < 1 || c.port > 65535 || !(c.ratio >= 0 && c.ratio <= 1) ||
            c.name == NULL)
            abort();
    } else if (err[0] == '\0') {
        abort(); /* an error must say what is wrong */
    }
    conf_free(fuzz_conf_table, &c);
    (void)conf_file_hash(path, hash);
    close(fd);
    fuzz_conf__pairs(data, size);
    return 0;
}
