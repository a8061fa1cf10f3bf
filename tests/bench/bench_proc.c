/* bench_proc: CPU and memory of processes and of the machine, from /proc. */
#include "bench_proc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

double bench_proc_cpu(const char *pid, long *ppid)
{
    char path[64], buf[1024];
    const char *s;
    unsigned long ut = 0, st = 0;
    long pp = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After the command's ")": state ppid ... field 14 utime, 15 stime. */
    s = strrchr(buf, ')');
    if (!s ||
        sscanf(s + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &pp, &ut, &st) != 3)
        return 0;
    if (ppid)
        *ppid = pp;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_proc_cpu_pid(pid_t pid)
{
    char s[24];

    snprintf(s, sizeof s, "%ld", (long)pid);
    return bench_proc_cpu(s, NULL);
}

double bench_proc_vm_mb(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t len = strlen(key);
    double v = NAN;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            v = strtod(line + len + 1, NULL) / 1024.0;
            break;
        }
    if (f)
        fclose(f);
    return v;
}

double bench_proc_rusage(int who)
{
    struct rusage ru;

    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double bench_proc_machine_busy(void)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                       &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7])
              : 0;

    if (f)
        fclose(f);
    if (n != 8)
        return 0;
    /* user nice system (idle iowait) irq softirq steal */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
           (double)sysconf(_SC_CLK_TCK);
}
