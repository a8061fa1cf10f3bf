/* bench_proc: where the CPU and memory of a benchmark's processes go, read
 * from /proc (clock-tick counts, not samples). */
#ifndef SHUTTLE_BENCH_PROC_H
#define SHUTTLE_BENCH_PROC_H

#include <sys/types.h>

/* utime + stime of /proc/PID/stat (PID as text) in seconds; *PPID (may be
 * NULL) gets the parent. 0 when the process is gone. */
double bench_proc_cpu(const char *pid, long *ppid);

/* The same for a pid_t. */
double bench_proc_cpu_pid(pid_t pid);

/* A "KEY: N kB" line of /proc/PID/status ("VmHWM", "VmRSS") in MB; NAN
 * when the process or the line is missing. */
double bench_proc_vm_mb(pid_t pid, const char *key);

/* CPU seconds this process has used (RUSAGE_SELF or RUSAGE_CHILDREN as
 * WHO). */
double bench_proc_rusage(int who);

/* Busy CPU seconds of the whole machine (all cores; not idle, not
 * iowait), from /proc/stat. */
double bench_proc_machine_busy(void);

#endif
