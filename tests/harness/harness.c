/* Integration-test harness: start, stop and poke real mosquitto, PostgreSQL
 * and gpsd on loopback, in throw-away folders, and clean up after the test.
 *
 * Unlike the library code of the project this file keeps file-scope state:
 * the registry of the processes and folders a test created. It has to be
 * global because it is walked from atexit() and from signal handlers, where
 * no context can be passed. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define HARNESS_MAX_PIDS 128
#define HARNESS_MAX_PORTS 256
#define HARNESS_STOP_MS 5000

struct harness_proc {
    struct harness_proc *next;
    char *name;
    char *log_path;
    pid_t pid;
    int stop_sig; /* first signal of harness_stop() */
    int stop_ms;  /* grace before SIGKILL */
    int exited;   /* reaped; result is valid */
    int result;   /* exit code, or 128 + signal */
    int slot;     /* index in live_pids[] */
};

struct harness_dir {
    struct harness_dir *next;
    char *path;
};

/* Memory the harness hands out and frees at harness_cleanup(). */
struct harness_blob {
    struct harness_blob *next;
    /* the caller's bytes follow, aligned for any type */
    max_align_t data[];
};

struct harness_mqtt {
    char *dir;
    char *conf;
    char *log;     /* mosquitto's log_dest file */
    char *out;     /* its stdout and stderr */
    char *persist; /* persistence_location, with a trailing slash */
    char *pki;     /* the secured broker's PKI folder, else NULL */
    int port;
    struct harness_proc *proc;
};

struct harness_pg {
    char *dir; /* also the Unix socket folder */
    char *data;
    char *log;
    char *conninfo;
    char *bindir;
    int port;
    int fast;
    struct harness_proc *proc;
};

struct harness_gpsd {
    char *dir;
    char *ctl;
    char *log;
    int port;
    int udp_port;
    struct harness_proc *proc;
};

static struct harness_proc *procs;
static struct harness_dir *dirs;
static struct harness_blob *blobs;
static pid_t owner_pid;
static int ports_given[HARNESS_MAX_PORTS];
static int nports_given;
/* Pids of running children, read by the signal handler. */
static volatile sig_atomic_t live_pids[HARNESS_MAX_PIDS];

static void harness_atexit(void)
{
    harness_cleanup();
}

/* Kill every child and its group, then die of SIG as we would have. */
static void harness_on_signal(int sig)
{
    struct sigaction sa;
    sigset_t set;
    int i;

    for (i = 0; i < HARNESS_MAX_PIDS; i++) {
        pid_t pid = (pid_t)live_pids[i];
        if (pid > 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

static void harness_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGABRT};
    struct sigaction sa;
    size_t i;

    if (owner_pid == getpid())
        return;
    if (owner_pid != 0) {
        /* A child forked by the test: what it inherited is its parent's. */
        procs = NULL;
        dirs = NULL;
        blobs = NULL;
        for (i = 0; i < sizeof live_pids / sizeof live_pids[0]; i++)
            live_pids[i] = 0;
    }
    owner_pid = getpid();
    atexit(harness_atexit);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = harness_on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

static void fail(const char *fmt, ...)
{
    va_list ap;

    fputs("harness: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *harness_alloc(size_t size)
{
    struct harness_blob *b = calloc(1, sizeof *b + size);

    if (b == NULL) {
        fail("out of memory");
        abort();
    }
    b->next = blobs;
    blobs = b;
    return b->data;
}

/* printf into memory owned by the harness. */
__attribute__((format(printf, 1, 2))) static char *hprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    s = harness_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long now_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int harness_wait_for(int (*pred)(void *), void *arg, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;

    for (;;) {
        if (pred(arg))
            return 0;
        if (now_ms() >= end)
            return -1;
        harness_sleep_ms(50);
    }
}

/* ---- ports ------------------------------------------------------------ */

static int bind_loopback(int type, int port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd, got = -1;

    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        got = ntohs(sin.sin_port);
    close(fd);
    return got;
}

int harness_free_port(void)
{
    int tries, i;

    for (tries = 0; tries < 200; tries++) {
        int port = bind_loopback(SOCK_STREAM, 0);
        int seen = 0;

        if (port <= 0)
            return -1;
        for (i = 0; i < nports_given; i++)
            seen |= ports_given[i] == port;
        if (seen || bind_loopback(SOCK_DGRAM, port) != port)
            continue;
        if (nports_given < HARNESS_MAX_PORTS)
            ports_given[nports_given++] = port;
        return port;
    }
    fail("no free port found");
    return -1;
}

int harness_tcp_connect(int port)
{
    struct sockaddr_in sin;
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int harness_wait_port(int port, struct harness_proc *proc, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;

    for (;;) {
        int fd = harness_tcp_connect(port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (proc != NULL && !harness_alive(proc))
            return -1;
        if (now_ms() >= end)
            return -1;
        harness_sleep_ms(5); /* services are up in ~10 ms: poll finely */
    }
}

/* ---- folders and paths ---------------------------------------------- */

/* Remove NAME (relative to the open folder ATFD) and all below it. */
static void remove_tree_at(int atfd, const char *name)
{
    struct dirent *de;
    DIR *d;
    int fd;

    if (unlinkat(atfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        return;
    fd = openat(atfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            remove_tree_at(dirfd(d), de->d_name);
    }
    closedir(d);
    unlinkat(atfd, name, AT_REMOVEDIR);
}

int harness_rmtree(const char *path)
{
    remove_tree_at(AT_FDCWD, path);
    return access(path, F_OK) < 0 && errno == ENOENT ? 0 : -1;
}

char *harness_tmpdir(const char *tag)
{
    struct harness_dir *d;
    char *path;

    harness_install();
    path = hprintf("/tmp/shuttle-%s-XXXXXX", tag);
    if (mkdtemp(path) == NULL) {
        fail("mkdtemp %s: %s", path, strerror(errno));
        return NULL;
    }
    d = harness_alloc(sizeof *d);
    d->path = path;
    d->next = dirs;
    dirs = d;
    return path;
}

static int chown_tree(const char *path, uid_t uid, gid_t gid)
{
    struct dirent *de;
    struct stat st;
    DIR *d;
    int rc = 0;

    if (lchown(path, uid, gid) < 0 || lstat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return 0;
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        int n;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n = snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        if (n < 0 || (size_t)n >= sizeof sub || chown_tree(sub, uid, gid) < 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int harness_chown(const char *path, const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL) {
        fail("no user %s", user);
        return -1;
    }
    if (chown_tree(path, pw->pw_uid, pw->pw_gid) < 0) {
        fail("chown %s to %s: %s", path, user, strerror(errno));
        return -1;
    }
    return 0;
}

const char *harness_bin(const char *name)
{
    const char *dir = getenv("SHUTTLE_BIN_DIR");
    char self[PATH_MAX];
    ssize_t n;
    char *slash;

    if (dir != NULL && *dir != '\0')
        return hprintf("%s/%s", dir, name);
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return hprintf("./%s", name);
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    return hprintf("%s/%s", self, name);
}

const char *harness_shared_data(void)
{
    const char *dir = getenv("SHUTTLE_SHARED_DATA");
    struct stat st;

    if (dir == NULL || *dir == '\0' || stat(dir, &st) < 0 ||
        !S_ISDIR(st.st_mode))
        return NULL;
    return dir;
}

char *harness_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        return strdup("");
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return strdup("");
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL) {
        fclose(f);
        return strdup("");
    }
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

int harness_run(char *const argv[], const char *out, const char *err)
{
    pid_t pid = fork();
    int st;

    if (pid < 0)
        return 127;
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = strcmp(out, err) == 0
                    ? o
                    : open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int n = open("/dev/null", O_RDONLY);

        if (o < 0 || e < 0 || n < 0)
            _exit(127);
        dup2(n, 0);
        dup2(o, 1);
        dup2(e, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void harness_log_tail(const char *path, int lines)
{
    char buf[8192];
    size_t len;
    long start;
    char *p;
    FILE *f;

    if (path == NULL || (f = fopen(path, "r")) == NULL)
        return;
    fseek(f, 0, SEEK_END);
    start = ftell(f) - (long)(sizeof buf - 1);
    fseek(f, start > 0 ? start : 0, SEEK_SET);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    p = buf + len;
    if (p > buf && p[-1] == '\n')
        p--;
    while (p > buf && lines > 0) {
        p--;
        if (*p == '\n')
            lines--;
    }
    if (*p == '\n')
        p++;
    fprintf(stderr, "---- last lines of %s ----\n%s", path, p);
    if (len > 0 && buf[len - 1] != '\n')
        fputc('\n', stderr);
    fputs("----\n", stderr);
}

/* ---- processes ------------------------------------------------------ */

/* In the child: make fd 3 the exec-error pipe and close everything above
 * it, so the service inherits no socket or file of the test. */
static void child_fds(int nullfd, int logfd, int errfd)
{
    int fd;

    if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
        _exit(127);
    if (errfd != 3 && dup2(errfd, 3) < 0)
        _exit(127);
    fcntl(3, F_SETFD, FD_CLOEXEC);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0)
        return;
#endif
    for (fd = 4; fd < 4096; fd++)
        close(fd);
}

static void child_signals(void)
{
    struct sigaction sa;
    sigset_t none;
    int sig;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* fails harmlessly for KILL, STOP */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void register_pid(struct harness_proc *p)
{
    int i;

    p->slot = -1;
    for (i = 0; i < HARNESS_MAX_PIDS; i++) {
        if (live_pids[i] == 0) {
            live_pids[i] = p->pid;
            p->slot = i;
            return;
        }
    }
}

static void mark_exited(struct harness_proc *p, int status)
{
    if (WIFEXITED(status))
        p->result = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        p->result = 128 + WTERMSIG(status);
    else
        p->result = 255;
    p->exited = 1;
    if (p->slot >= 0)
        live_pids[p->slot] = 0;
}

struct harness_proc *harness_spawn_as(const char *name, char *const argv[],
                                      const char *log_path, const char *user)
{
    uid_t uid = 0;
    gid_t gid = 0;
    int nullfd, logfd, errpipe[2], child_errno = 0;
    struct harness_proc *p;
    pid_t parent, pid;
    ssize_t n;

    harness_install();
    if (user != NULL) {
        struct passwd *pw = getpwnam(user);
        if (pw == NULL) {
            fail("%s: no user %s", name, user);
            return NULL;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fail("%s: open %s: %s", name, log_path, strerror(errno));
        return NULL;
    }
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0 || pipe(errpipe) < 0) {
        fail("%s: %s", name, strerror(errno));
        close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return NULL;
    }
    fcntl(errpipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(errpipe[1], F_SETFD, FD_CLOEXEC);

    parent = getpid();
    fflush(NULL); /* or buffered output would be written twice */
    pid = fork();
    if (pid == 0) {
        int e;

        setpgid(0, 0);
        child_fds(nullfd, logfd, errpipe[1]);
        child_signals();
        if (user != NULL && (setgroups(1, &gid) < 0 || setgid(gid) < 0 ||
                             setuid(uid) < 0 || chdir("/") < 0)) {
            e = errno;
            (void)!write(3, &e, sizeof e);
            _exit(127);
        }
        /* After setuid: changing credentials clears the death signal. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execvp(argv[0], argv);
        e = errno;
        (void)!write(3, &e, sizeof e);
        _exit(127);
    }
    close(errpipe[1]);
    close(nullfd);
    close(logfd);
    if (pid < 0) {
        fail("%s: fork: %s", name, strerror(errno));
        close(errpipe[0]);
        return NULL;
    }
    setpgid(pid, pid); /* also here: no window where a kill misses it */

    p = harness_alloc(sizeof *p);
    p->name = hprintf("%s", name);
    p->log_path = hprintf("%s", log_path);
    p->pid = pid;
    p->stop_sig = SIGTERM;
    p->stop_ms = HARNESS_STOP_MS;
    register_pid(p);
    p->next = procs;
    procs = p;

    do
        n = read(errpipe[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n > 0) {
        fail("%s: cannot run %s: %s", name, argv[0], strerror(child_errno));
        harness_wait(p, -1);
        return NULL;
    }
    return p;
}

struct harness_proc *harness_spawn(const char *name, char *const argv[],
                                   const char *log_path)
{
    return harness_spawn_as(name, argv, log_path, NULL);
}

void harness_set_stop(struct harness_proc *p, int sig, int grace_ms)
{
    p->stop_sig = sig;
    p->stop_ms = grace_ms;
}

pid_t harness_pid(const struct harness_proc *p)
{
    return p->pid;
}

int harness_kill(struct harness_proc *p, int sig)
{
    if (!harness_alive(p))
        return -1;
    return kill(p->pid, sig);
}

int harness_wait(struct harness_proc *p, int timeout_ms)
{
    long long end = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int status;

    while (!p->exited) {
        pid_t r = waitpid(p->pid, &status, timeout_ms < 0 ? 0 : WNOHANG);

        if (r == p->pid) {
            mark_exited(p, status);
        } else if (r < 0 && errno != EINTR) {
            /* Reaped by someone else (a SIGCHLD handler of the test). */
            p->exited = 1;
            p->result = 255;
            if (p->slot >= 0)
                live_pids[p->slot] = 0;
        } else if (r == 0) {
            if (now_ms() >= end)
                return -1;
            harness_sleep_ms(10);
        }
    }
    return p->result;
}

int harness_alive(struct harness_proc *p)
{
    harness_wait(p, 0);
    return !p->exited;
}

int harness_stop(struct harness_proc *p)
{
    int rc;

    if (p->exited)
        return p->result;
    kill(-p->pid, p->stop_sig);
    kill(p->pid, p->stop_sig);
    rc = harness_wait(p, p->stop_ms);
    if (rc < 0) {
        fail("%s (pid %d) ignored signal %d for %d ms: SIGKILL", p->name,
             (int)p->pid, p->stop_sig, p->stop_ms);
        kill(p->pid, SIGKILL);
        rc = harness_wait(p, -1);
    }
    /* Leftovers in its group (helpers it started) go too. */
    kill(-p->pid, SIGKILL);
    return rc;
}

void harness_stop_all(void)
{
    struct harness_proc *p;

    /* The list is newest first: stop in reverse order of start. */
    for (p = procs; p != NULL; p = p->next)
        harness_stop(p);
}

void harness_cleanup(void)
{
    const char *keep = getenv("SHUTTLE_KEEP_TMP");
    struct harness_dir *d;

    if (owner_pid != getpid())
        return; /* a forked child of the test exiting */
    harness_stop_all();
    for (d = dirs; d != NULL; d = d->next) {
        if (keep != NULL && strcmp(keep, "1") == 0)
            fprintf(stderr, "harness: kept %s\n", d->path);
        else
            remove_tree_at(AT_FDCWD, d->path);
    }
    procs = NULL;
    dirs = NULL;
    while (blobs != NULL) {
        struct harness_blob *next = blobs->next;
        free(blobs);
        blobs = next;
    }
    nports_given = 0;
}

/* Start failed: say why, show the log, stop what runs. */
static void start_failed(struct harness_proc *p, const char *what,
                         const char *log1, const char *log2)
{
    fail("%s did not start", what);
    harness_log_tail(log1, 30);
    if (log2 != NULL)
        harness_log_tail(log2, 30);
    if (p != NULL)
        harness_stop(p);
}

/* The user a service should run as: USER when we are root, else none. */
static const char *as_user(const char *user)
{
    return geteuid() == 0 ? user : NULL;
}

/* ---- mosquitto ------------------------------------------------------ */

static int mosquitto_launch(struct harness_mqtt *m)
{
    char *argv[] = {"mosquitto", "-c", m->conf, NULL};
    long long t0 = now_ms();

    /* Started as root, mosquitto would switch to user mosquitto itself,
     * and a change of credentials clears PR_SET_PDEATHSIG: start it as that
     * user instead. */
    m->proc = harness_spawn_as("mosquitto", argv, m->out, as_user("mosquitto"));
    if (m->proc == NULL)
        return -1;
    if (harness_wait_port(m->port, m->proc, 10000) < 0) {
        start_failed(m->proc, "mosquitto", m->out, m->log);
        return -1;
    }
    if (getenv("SHUTTLE_HARNESS_VERBOSE") != NULL)
        fprintf(stderr, "harness: mosquitto up on %d in %lld ms\n", m->port,
                now_ms() - t0);
    return 0;
}

struct harness_mqtt *harness_mosquitto_start_plain(const char *extra_conf,
                                                   const char *why)
{
    struct harness_mqtt *m;
    FILE *f;

    fprintf(stderr, "harness: a plain-TCP anonymous broker: %s\n", why);
    m = harness_alloc(sizeof *m);
    m->dir = harness_tmpdir("mqtt");
    m->port = harness_free_port();
    if (m->dir == NULL || m->port < 0)
        return NULL;
    m->conf = hprintf("%s/mosquitto.conf", m->dir);
    m->log = hprintf("%s/mosquitto.log", m->dir);
    m->out = hprintf("%s/stdout.log", m->dir);
    m->persist = hprintf("%s/persist/", m->dir);
    if (mkdir(m->persist, 0700) < 0) {
        fail("mkdir %s: %s", m->persist, strerror(errno));
        return NULL;
    }
    f = fopen(m->conf, "w");
    if (f == NULL) {
        fail("%s: %s", m->conf, strerror(errno));
        return NULL;
    }
    fprintf(f,
            "# written by the shuttle test harness\n"
            "listener %d 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            "persistence_location %s\n"
            "max_queued_messages 1000000\n"
            "max_inflight_messages 0\n"
            "log_dest file %s\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "log_type information\n"
            "connection_messages true\n"
            "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n",
            m->port, m->persist, m->log);
    if (extra_conf != NULL)
        fprintf(f, "%s\n", extra_conf);
    if (fclose(f) != 0) {
        fail("%s: %s", m->conf, strerror(errno));
        return NULL;
    }
    /* mosquitto runs as user mosquitto (see mosquitto_launch): its log
     * file and persistence are in a folder that must be its own. */
    if (as_user("mosquitto") != NULL && harness_chown(m->dir, "mosquitto") < 0)
        return NULL;
    if (mosquitto_launch(m) < 0)
        return NULL;
    return m;
}

/* $SHUTTLE_SOURCE_DIR/REL, or NULL (after saying why) when it is unset. */
static char *source_path(const char *rel)
{
    const char *src = getenv("SHUTTLE_SOURCE_DIR");

    if (src == NULL || *src == '\0') {
        fail("SHUTTLE_SOURCE_DIR is not set (ctest sets it)");
        return NULL;
    }
    return hprintf("%s/%s", src, rel);
}

/* Copy the file FROM to TO (mode 0644). 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    char buf[4096];
    size_t n;
    FILE *in = fopen(from, "rb"), *out;
    int rc = 0;

    if (in == NULL) {
        fail("%s: %s", from, strerror(errno));
        return -1;
    }
    out = fopen(to, "wb");
    if (out == NULL) {
        fail("%s: %s", to, strerror(errno));
        fclose(in);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (ferror(in))
        rc = -1;
    fclose(in);
    if (fclose(out) != 0)
        rc = -1;
    if (rc < 0)
        fail("copy %s to %s failed", from, to);
    return rc;
}

int harness_pki(const char *pki_dir, const char *verb, const char *name)
{
    char *script = source_path("deploy/pki.sh");
    char *log = hprintf("%s.log", pki_dir);
    struct harness_proc *p;
    char *argv[] = {"bash",          script,       (char *)verb,
                    (char *)pki_dir, (char *)name, NULL};

    if (script == NULL)
        return -1;
    {
        /* Daemons on a simulated clock (yesterday, a year of history) must
         * find the certificates valid: openssl runs on a clock 400 days
         * back (the fake-clock shim), so every certificate starts then,
         * and the CRL it signs is valid for 1200 days from then. Without
         * the shim (a build that skipped it) the certificates start now. */
        static const char *const vars[] = {"LD_PRELOAD", "SHUTTLE_FAKE_WALL_S",
                                           "SHUTTLE_FAKE_REAL_MS",
                                           "PKI_CRL_DAYS", "ASAN_OPTIONS"};
        char *was[sizeof vars / sizeof vars[0]];
        char wall[32], real[32];
        long long now = now_wall_ms();
        const char *shim = harness_bin("libshuttle_fakeclock.so");
        size_t i;

        /* Saved and put back: a test may have set the shim for the daemon
         * it is about to start (whose identity is made here first). */
        for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            const char *v = getenv(vars[i]);

            was[i] = v != NULL ? hprintf("%s", v) : NULL;
        }
        snprintf(wall, sizeof wall, "%lld", now / 1000 - 400LL * 86400);
        snprintf(real, sizeof real, "%lld", now);
        if (access(shim, R_OK) == 0)
            setenv("LD_PRELOAD", shim, 1);
        else
            unsetenv("LD_PRELOAD");
        setenv("SHUTTLE_FAKE_WALL_S", wall, 1);
        setenv("SHUTTLE_FAKE_REAL_MS", real, 1);
        setenv("PKI_CRL_DAYS", "1200", 1);
        /* In a sanitizer build the shim is instrumented: let it load into
         * bash and openssl anyway. */
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
        p = harness_spawn("pki.sh", argv, log);
        for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            if (was[i] != NULL)
                setenv(vars[i], was[i], 1);
            else
                unsetenv(vars[i]);
        }
    }
    if (p == NULL)
        return -1;
    if (harness_wait(p, 30000) != 0) {
        fail("pki.sh %s %s %s failed", verb, pki_dir, name ? name : "");
        harness_log_tail(log, 10);
        return -1;
    }
    /* As root the broker runs as user mosquitto and must read the PKI (a
     * revoke rewrites crl.pem as root, mode 0644). */
    if (as_user("mosquitto") != NULL && harness_chown(pki_dir, "mosquitto") < 0)
        return -1;
    return 0;
}

/* Write M's config: deploy/mosquitto/mosquitto.conf line by line with the
 * values of the keywords below replaced, every other line verbatim. Each
 * keyword must be there exactly once, so a shipped file that lost its
 * crlfile (say) fails here instead of testing something else. */
static int mosquitto_write_secure_conf(struct harness_mqtt *m,
                                       const char *extra_conf)
{
    enum {
        K_LISTENER,
        K_PERSIST,
        K_LOG,
        K_ACL,
        K_CA,
        K_CERT,
        K_KEY,
        K_CRL,
        K_N
    };
    static const char *const keys[K_N] = {"listener", "persistence_location",
                                          "log_dest", "acl_file",
                                          "cafile",   "certfile",
                                          "keyfile",  "crlfile"};
    char *vals[K_N];
    int seen[K_N] = {0};
    char *shipped = source_path("deploy/mosquitto/mosquitto.conf");
    char *acl_src = source_path("deploy/mosquitto/acl");
    char *acl = hprintf("%s/acl", m->dir);
    char line[1024];
    FILE *in, *out;
    int k, rc = 0;

    if (shipped == NULL || acl_src == NULL || copy_file(acl_src, acl) < 0)
        return -1;
    vals[K_LISTENER] = hprintf("listener %d 127.0.0.1", m->port);
    vals[K_PERSIST] = hprintf("persistence_location %s", m->persist);
    vals[K_LOG] = hprintf("log_dest file %s", m->log);
    vals[K_ACL] = hprintf("acl_file %s", acl);
    vals[K_CA] = hprintf("cafile %s/ca.crt", m->pki);
    vals[K_CERT] = hprintf("certfile %s/broker.crt", m->pki);
    vals[K_KEY] = hprintf("keyfile %s/broker.key", m->pki);
    vals[K_CRL] = hprintf("crlfile %s/crl.pem", m->pki);
    in = fopen(shipped, "r");
    if (in == NULL) {
        fail("%s: %s", shipped, strerror(errno));
        return -1;
    }
    out = fopen(m->conf, "w");
    if (out == NULL) {
        fail("%s: %s", m->conf, strerror(errno));
        fclose(in);
        return -1;
    }
    fprintf(out, "# %s, ports and paths replaced by the test harness\n",
            shipped);
    while (fgets(line, sizeof line, in) != NULL) {
        size_t len = strcspn(line, " \t\r\n");

        for (k = 0; k < K_N; k++)
            if (len == strlen(keys[k]) && strncmp(line, keys[k], len) == 0)
                break;
        if (k == K_N) {
            fputs(line, out);
            continue;
        }
        seen[k]++;
        fprintf(out, "%s\n", vals[k]);
    }
    fclose(in);
    if (extra_conf != NULL)
        fprintf(out, "# added by the test\n%s\n", extra_conf);
    if (fclose(out) != 0) {
        fail("%s: %s", m->conf, strerror(errno));
        return -1;
    }
    for (k = 0; k < K_N; k++)
        if (seen[k] != 1) {
            fail("%s: \"%s\" appears %d times, the harness expects once",
                 shipped, keys[k], seen[k]);
            rc = -1;
        }
    return rc;
}

/* The shipped broker (see harness.h), EXTRA_CONF appended. */
static struct harness_mqtt *mosquitto_start_secure(const char *pki_dir,
                                                   const char *extra_conf)
{
    struct harness_mqtt *m;
    char *ca;

    m = harness_alloc(sizeof *m);
    m->dir = harness_tmpdir("mqtts");
    m->port = harness_free_port();
    if (m->dir == NULL || m->port < 0)
        return NULL;
    m->conf = hprintf("%s/mosquitto.conf", m->dir);
    m->log = hprintf("%s/mosquitto.log", m->dir);
    m->out = hprintf("%s/stdout.log", m->dir);
    m->persist = hprintf("%s/persist/", m->dir);
    m->pki =
        pki_dir != NULL ? hprintf("%s", pki_dir) : hprintf("%s/pki", m->dir);
    if (mkdir(m->persist, 0700) < 0) {
        fail("mkdir %s: %s", m->persist, strerror(errno));
        return NULL;
    }
    ca = hprintf("%s/ca.crt", m->pki);
    if (access(ca, F_OK) != 0 && harness_pki(m->pki, "init", NULL) < 0)
        return NULL;
    if (mosquitto_write_secure_conf(m, extra_conf) < 0)
        return NULL;
    if (as_user("mosquitto") != NULL &&
        (harness_chown(m->dir, "mosquitto") < 0 ||
         harness_chown(m->pki, "mosquitto") < 0))
        return NULL;
    if (mosquitto_launch(m) < 0)
        return NULL;
    return m;
}

struct harness_mqtt *harness_mosquitto_start_secure(const char *pki_dir)
{
    return mosquitto_start_secure(pki_dir, NULL);
}

struct harness_mqtt *harness_mosquitto_start(const char *extra_conf)
{
    /* Tests fill the broker faster than a fleet does (a backend away for a
     * while, thousands of records a second): no queue limit to hit, and
     * the log's time stamps as our daemons write theirs. */
    char *conf = hprintf("max_queued_messages 1000000\n"
                         "max_inflight_messages 0\n"
                         "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n%s",
                         extra_conf != NULL ? extra_conf : "");

    return mosquitto_start_secure(NULL, conf);
}

const char *harness_mosquitto_pki(const struct harness_mqtt *m)
{
    return m->pki;
}

/* Lines of the file at PATH containing NEEDLE (0 when it cannot be read). */
static int log_count(const char *path, const char *needle)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    int n = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, needle) != NULL)
            n++;
    fclose(f);
    return n;
}

int harness_mosquitto_reload(struct harness_mqtt *m)
{
    static const char needle[] = "Reloading config.";
    int before = log_count(m->log, needle);
    long long t0;

    if (m->proc == NULL || harness_kill(m->proc, SIGHUP) < 0)
        return -1;
    /* mosquitto logs the line, then re-reads config, ACL and CRL in its one
     * thread: a connection made after the line is seen is checked against
     * the new files. */
    t0 = now_ms();
    while (now_ms() - t0 < 5000) {
        if (log_count(m->log, needle) > before)
            return 0;
        harness_sleep_ms(50);
    }
    fail("mosquitto did not reload within 5 s");
    return -1;
}

int harness_mosquitto_port(const struct harness_mqtt *m)
{
    return m->port;
}

const char *harness_mosquitto_dir(const struct harness_mqtt *m)
{
    return m->dir;
}

int harness_mosquitto_identity(struct harness_mqtt *m, const char *name,
                               const char **ca, const char **cert,
                               const char **key)
{
    char *crt;

    *ca = *cert = *key = NULL;
    if (m->pki == NULL)
        return 0;
    crt = hprintf("%s/clients/%s.crt", m->pki, name);
    if (access(crt, F_OK) != 0 && harness_pki(m->pki, "add", name) < 0)
        return -1;
    *ca = hprintf("%s/ca.crt", m->pki);
    *cert = crt;
    *key = hprintf("%s/clients/%s.key", m->pki, name);
    return 0;
}

int harness_mosquitto_identity_opts(struct harness_mqtt *m, const char *name,
                                    const char *opts[3])
{
    const char *ca, *cert, *key;

    opts[0] = opts[1] = opts[2] = NULL;
    if (harness_mosquitto_identity(m, name, &ca, &cert, &key) < 0)
        return -1;
    if (ca != NULL) {
        opts[0] = hprintf("mqtt_cafile=%s", ca);
        opts[1] = hprintf("mqtt_certfile=%s", cert);
        opts[2] = hprintf("mqtt_keyfile=%s", key);
    }
    return 0;
}

struct harness_proc *harness_mosquitto_client(struct harness_mqtt *m,
                                              const char *prog,
                                              const char *identity,
                                              const char *const *args,
                                              const char *log)
{
    const char *ca, *cert, *key;
    char **argv;
    size_t n = 0, k = 0;

    if (harness_mosquitto_identity(m, identity, &ca, &cert, &key) < 0)
        return NULL;
    while (args != NULL && args[n] != NULL)
        n++;
    argv = harness_alloc((n + 16) * sizeof *argv);
    argv[k++] = hprintf("%s", prog);
    argv[k++] = hprintf("-h");
    argv[k++] = hprintf("127.0.0.1");
    argv[k++] = hprintf("-p");
    argv[k++] = hprintf("%d", m->port);
    if (ca != NULL) {
        argv[k++] = hprintf("--cafile");
        argv[k++] = hprintf("%s", ca);
        argv[k++] = hprintf("--cert");
        argv[k++] = hprintf("%s", cert);
        argv[k++] = hprintf("--key");
        argv[k++] = hprintf("%s", key);
    }
    for (size_t i = 0; i < n; i++)
        argv[k++] = hprintf("%s", args[i]);
    argv[k] = NULL;
    return harness_spawn(prog, argv, log);
}

/* Who may write TOPIC under deploy/mosquitto/acl: the bus of
 * shuttle/v1/<vid>/telemetry or /status, shuttle-ingest for acks and
 * shuttle-live for anything else (the stop displays). */
static char *topic_writer(const char *topic)
{
    static const char pre[] = "shuttle/v1/";
    const char *vid = topic, *slash;

    if (strncmp(topic, pre, sizeof pre - 1) == 0) {
        vid = topic + sizeof pre - 1;
        slash = strchr(vid, '/');
        if (slash != NULL &&
            (strcmp(slash, "/telemetry") == 0 || strcmp(slash, "/status") == 0))
            return hprintf("%.*s", (int)(slash - vid), vid);
        if (slash != NULL && strcmp(slash, "/ack") == 0)
            return hprintf("shuttle-ingest");
    }
    return hprintf("shuttle-live");
}

int harness_mosquitto_publish(struct harness_mqtt *m, const char *topic,
                              const void *buf, size_t len)
{
    static unsigned n;
    char path[PATH_MAX], log[PATH_MAX];
    struct harness_proc *p;
    FILE *f;

    snprintf(path, sizeof path, "%s/pub-%u.bin", m->dir, n);
    snprintf(log, sizeof log, "%s/pub-%u.log", m->dir, n++);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(buf, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    {
        const char *args[] = {"-q", "1", "-t", topic, "-f", path, NULL};

        p = harness_mosquitto_client(m, "mosquitto_pub", topic_writer(topic),
                                     args, log);
    }
    if (!p)
        return -1;
    if (harness_wait(p, 15000) != 0) {
        harness_log_tail(log, 10);
        return -1;
    }
    return 0;
}

const char *harness_mosquitto_log(const struct harness_mqtt *m)
{
    return m->log;
}

struct harness_proc *harness_mosquitto_proc(const struct harness_mqtt *m)
{
    return m->proc;
}

int harness_mosquitto_stop(struct harness_mqtt *m)
{
    return m->proc != NULL ? harness_stop(m->proc) : 0;
}

int harness_mosquitto_restart(struct harness_mqtt *m, int keep_persistence)
{
    harness_mosquitto_stop(m);
    if (!keep_persistence) {
        char *db = hprintf("%smosquitto.db", m->persist);
        if (unlink(db) < 0 && errno != ENOENT) {
            fail("unlink %s: %s", db, strerror(errno));
            return -1;
        }
    }
    return mosquitto_launch(m);
}

/* ---- PostgreSQL ----------------------------------------------------- */

/* $SHUTTLE_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin, else ""
 * (then the programs are looked up in PATH). */
static char *pg_bindir(void)
{
    const char *env = getenv("SHUTTLE_PG_BINDIR");
    char *best = NULL;
    long best_v = -1;
    glob_t g;
    size_t i;

    if (env != NULL && *env != '\0')
        return hprintf("%s/", env);
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) == 0) {
        for (i = 0; i < g.gl_pathc; i++) {
            long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"),
                            NULL, 10);
            if (v > best_v) {
                best_v = v;
                best = g.gl_pathv[i];
            }
        }
        if (best != NULL)
            best =
                hprintf("%.*s", (int)(strlen(best) - strlen("postgres")), best);
        globfree(&g);
    }
    return best != NULL ? best : hprintf("%s", "");
}

static int pg_ready(void *arg)
{
    struct harness_pg *pg = arg;
    char conninfo[PATH_MAX + 100];

    if (!harness_alive(pg->proc))
        return 1; /* stop waiting; the caller checks again */
    snprintf(conninfo, sizeof conninfo,
             "host=%s port=%d dbname=postgres user=postgres connect_timeout=2",
             pg->dir, pg->port);
    return PQping(conninfo) == PQPING_OK;
}

static int pg_launch(struct harness_pg *pg)
{
    char *postgres = hprintf("%spostgres", pg->bindir);
    char *port = hprintf("%d", pg->port);
    char *argv[] = {postgres, "-D", pg->data, "-k", pg->dir, "-p", port, "-c",
                    "listen_addresses=",
                    /* without FAST the list ends here */
                    pg->fast ? "-c" : NULL, "fsync=off", "-c",
                    "synchronous_commit=off", "-c", "full_page_writes=off",
                    NULL};
    long long t0 = now_ms();

    pg->proc = harness_spawn_as("postgres", argv, pg->log, as_user("postgres"));
    if (pg->proc == NULL)
        return -1;
    /* SIGTERM would be a "smart" shutdown that waits for every client. */
    pg->proc->stop_sig = SIGINT;
    pg->proc->stop_ms = 10000;
    while (!pg_ready(pg) && now_ms() - t0 < 30000)
        harness_sleep_ms(5);
    if (!harness_alive(pg->proc) || !pg_ready(pg)) {
        start_failed(pg->proc, "postgres", pg->log, NULL);
        return -1;
    }
    if (getenv("SHUTTLE_HARNESS_VERBOSE") != NULL)
        fprintf(stderr, "harness: postgres up in %lld ms\n", now_ms() - t0);
    return 0;
}

struct harness_pg *harness_pg_start(int fast)
{
    struct harness_pg *pg;
    struct harness_proc *initdb;
    char *initdb_log;
    long long t0 = now_ms();
    PGconn *conn;
    PGresult *res;
    int ok;

    pg = harness_alloc(sizeof *pg);
    pg->fast = fast;
    pg->dir = harness_tmpdir("pg");
    pg->port = harness_free_port();
    if (pg->dir == NULL || pg->port < 0)
        return NULL;
    pg->data = hprintf("%s/data", pg->dir);
    pg->log = hprintf("%s/postgres.log", pg->dir);
    pg->bindir = pg_bindir();
    pg->conninfo = hprintf("host=%s port=%d dbname=shuttle user=postgres",
                           pg->dir, pg->port);
    initdb_log = hprintf("%s/initdb.log", pg->dir);
    if (as_user("postgres") != NULL && harness_chown(pg->dir, "postgres") < 0)
        return NULL;
    {
        /* --no-sync only skips initdb's own final fsync of the new files:
         * a test never survives an OS crash, the server's fsync is kept. */
        char *argv[] = {hprintf("%sinitdb", pg->bindir),
                        "-D",
                        pg->data,
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                        "--locale=C",
                        "-U",
                        "postgres",
                        "--no-sync",
                        NULL};
        initdb =
            harness_spawn_as("initdb", argv, initdb_log, as_user("postgres"));
        if (initdb == NULL || harness_wait(initdb, 120000) != 0) {
            if (initdb != NULL)
                harness_stop(initdb);
            start_failed(NULL, "initdb", initdb_log, NULL);
            return NULL;
        }
    }
    if (pg_launch(pg) < 0)
        return NULL;

    conn = PQconnectdb(hprintf("host=%s port=%d dbname=postgres "
                               "user=postgres",
                               pg->dir, pg->port));
    res = PQexec(conn, "CREATE DATABASE shuttle");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fail("CREATE DATABASE shuttle: %s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    if (!ok) {
        harness_stop(pg->proc);
        return NULL;
    }
    if (getenv("SHUTTLE_HARNESS_VERBOSE") != NULL)
        fprintf(stderr, "harness: cluster ready in %lld ms\n", now_ms() - t0);
    return pg;
}

const char *harness_pg_conninfo(const struct harness_pg *pg)
{
    return pg->conninfo;
}

int harness_pg_port(const struct harness_pg *pg)
{
    return pg->port;
}

const char *harness_pg_dir(const struct harness_pg *pg)
{
    return pg->dir;
}

const char *harness_pg_log(const struct harness_pg *pg)
{
    return pg->log;
}

struct harness_proc *harness_pg_proc(const struct harness_pg *pg)
{
    return pg->proc;
}

int harness_pg_stop(struct harness_pg *pg, int immediate)
{
    if (pg->proc == NULL)
        return 0;
    /* Backends are not in the postmaster's process group (each calls
     * setsid()), so the postmaster itself has to end them: SIGINT/SIGQUIT
     * do, SIGKILL would not. */
    pg->proc->stop_sig = immediate ? SIGQUIT : SIGINT;
    return harness_stop(pg->proc);
}

int harness_pg_restart(struct harness_pg *pg)
{
    harness_pg_stop(pg, 0);
    return pg_launch(pg);
}

/* ---- PostgreSQL streaming replication -------------------------------- */

/* SQL on PG as user postgres in database shuttle, answered by "t": 1, else
 * 0 (also when PG cannot be reached: callers poll). */
static int pg_true(struct harness_pg *pg, const char *sql)
{
    PGconn *conn = PQconnectdb(pg->conninfo);
    PGresult *res = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, sql) : NULL;
    int yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
              strcmp(PQgetvalue(res, 0, 0), "t") == 0;

    PQclear(res);
    PQfinish(conn);
    return yes;
}

struct pg_standby_wait {
    struct harness_pg *primary, *standby;
    const char *sql; /* asked on the primary */
};

static int pg_standby_streaming(void *arg)
{
    struct pg_standby_wait *w = arg;

    return pg_true(w->standby, "SELECT pg_is_in_recovery()") &&
           pg_true(w->primary, w->sql);
}

struct harness_pg *harness_pg_start_replica(struct harness_pg *primary,
                                            int sync)
{
    struct harness_pg *pg = harness_alloc(sizeof *pg);
    struct harness_proc *bb;
    struct pg_standby_wait w;
    char *bb_log, *name, *src;

    pg->fast = primary->fast;
    pg->dir = harness_tmpdir("pg-standby");
    pg->port = harness_free_port();
    if (pg->dir == NULL || pg->port < 0)
        return NULL;
    pg->data = hprintf("%s/data", pg->dir);
    pg->log = hprintf("%s/postgres.log", pg->dir);
    pg->bindir = primary->bindir;
    pg->conninfo = hprintf("host=%s port=%d dbname=shuttle user=postgres",
                           pg->dir, pg->port);
    /* The standby's name on the primary: pg_stat_replication and
     * synchronous_standby_names know it by its application_name. */
    name = hprintf("standby_%d", pg->port);
    bb_log = hprintf("%s/pg_basebackup.log", pg->dir);
    if (as_user("postgres") != NULL && harness_chown(pg->dir, "postgres") < 0)
        return NULL;
    /* initdb's trust pg_hba.conf already has "local replication all
     * trust", and PostgreSQL 15 defaults to wal_level replica with 10 WAL
     * senders: a primary of harness_pg_start needs no restart. */
    if (!pg_true(primary, "SELECT current_setting('wal_level') <> 'minimal'"
                          " AND current_setting('max_wal_senders')::int > 0")) {
        fail("primary %s: wal_level minimal or no WAL senders",
             primary->conninfo);
        return NULL;
    }
    /* -R writes standby.signal and primary_conninfo (with -d's
     * application_name); -X stream copies the WAL made meanwhile. */
    src = hprintf("host=%s port=%d user=postgres application_name=%s",
                  primary->dir, primary->port, name);
    {
        char *argv[] = {hprintf("%spg_basebackup", pg->bindir),
                        "-D",
                        pg->data,
                        "-d",
                        src,
                        "-R",
                        "-X",
                        "stream",
                        "-c",
                        "fast",
                        "--no-sync",
                        NULL};

        bb = harness_spawn_as("pg_basebackup", argv, bb_log,
                              as_user("postgres"));
        if (bb == NULL || harness_wait(bb, 120000) != 0) {
            if (bb != NULL)
                harness_stop(bb);
            start_failed(NULL, "pg_basebackup", bb_log, NULL);
            return NULL;
        }
    }
    if (pg_launch(pg) < 0)
        return NULL;
    w.primary = primary;
    w.standby = pg;
    w.sql = hprintf("SELECT count(*) = 1 FROM pg_stat_replication WHERE"
                    " application_name = '%s' AND state = 'streaming'",
                    name);
    if (harness_wait_for(pg_standby_streaming, &w, 60000) < 0) {
        fail("standby %s is not streaming from %s after 60 s", pg->conninfo,
             primary->conninfo);
        harness_log_tail(pg->log, 20);
        return NULL;
    }
    if (!sync)
        return pg;
    /* Only now: a synchronous standby named before it streams would hold
     * every commit on the primary until it does. */
    /* Apart: ALTER SYSTEM refuses to run in a multi-statement string's
     * transaction. */
    if (harness_pg_exec(primary,
                        hprintf("ALTER SYSTEM SET synchronous_standby_names ="
                                " '%s'",
                                name)) < 0 ||
        harness_pg_exec(primary, "SELECT pg_reload_conf()") < 0)
        return NULL;
    w.sql = hprintf("SELECT count(*) = 1 FROM pg_stat_replication WHERE"
                    " application_name = '%s' AND sync_state = 'sync'",
                    name);
    if (harness_wait_for(pg_standby_streaming, &w, 30000) < 0) {
        fail("standby %s did not become synchronous in 30 s", pg->conninfo);
        return NULL;
    }
    return pg;
}

static int pg_writable(void *arg)
{
    return pg_true(arg, "SELECT NOT pg_is_in_recovery() AND"
                        " current_setting('transaction_read_only') = 'off'");
}

int harness_pg_promote(struct harness_pg *pg)
{
    /* pg_promote waits (up to its 60 s) for the end of recovery. */
    if (harness_pg_scalar(pg, "SELECT pg_promote(true, 60)::int") != 1) {
        harness_log_tail(pg->log, 20);
        return -1;
    }
    if (harness_wait_for(pg_writable, pg, 30000) < 0) {
        fail("%s: promoted, but still read-only after 30 s", pg->conninfo);
        return -1;
    }
    return 0;
}

const char *harness_pg_conninfo_multi(struct harness_pg *const *pgs, int n,
                                      const char *target_session_attrs)
{
    char *hosts = hprintf("%s", ""), *ports = hprintf("%s", "");

    for (int i = 0; i < n; i++) {
        hosts = hprintf("%s%s%s", hosts, i ? "," : "", pgs[i]->dir);
        ports = hprintf("%s%s%d", ports, i ? "," : "", pgs[i]->port);
    }
    return hprintf("host=%s port=%s dbname=shuttle user=postgres"
                   " target_session_attrs=%s",
                   hosts, ports, target_session_attrs);
}

/* Run SQL; the result (caller frees) or NULL after printing the error
 * unless QUIET. */
static PGresult *pg_run_q(struct harness_pg *pg, const char *sql, int quiet)
{
    PGconn *conn = PQconnectdb(pg->conninfo);
    PGresult *res;
    ExecStatusType st;

    if (PQstatus(conn) != CONNECTION_OK) {
        if (!quiet)
            fail("connect %s: %s", pg->conninfo, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    res = PQexec(conn, sql);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (!quiet)
            fail("%s: %s", sql, PQerrorMessage(conn));
        PQclear(res);
        res = NULL;
    }
    PQfinish(conn);
    return res;
}

static PGresult *pg_run(struct harness_pg *pg, const char *sql)
{
    return pg_run_q(pg, sql, 0);
}

int harness_pg_exec(struct harness_pg *pg, const char *sql)
{
    PGresult *res = pg_run(pg, sql);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

/* harness_pg_scalar, printing errors unless QUIET. */
static long long pg_scalar_q(struct harness_pg *pg, const char *sql, int quiet)
{
    PGresult *res = pg_run_q(pg, sql, quiet);
    long long v = -1;

    if (res != NULL && PQntuples(res) > 0 && PQnfields(res) > 0 &&
        !PQgetisnull(res, 0, 0)) {
        const char *s = PQgetvalue(res, 0, 0);
        char *end;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
            v = -1;
    }
    PQclear(res);
    return v;
}

long long harness_pg_scalar(struct harness_pg *pg, const char *sql)
{
    return pg_scalar_q(pg, sql, 0);
}

int harness_wait_scalar(struct harness_pg *pg, const char *sql, long long want,
                        int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    long long v;

    for (;;) {
        /* Quiet: while a daemon starts, the table may not exist yet. */
        v = pg_scalar_q(pg, sql, 1);
        if (v == want)
            return 0;
        if (now_ms() >= end)
            break;
        harness_sleep_ms(100);
    }
    fail("after %d ms, %s returned %lld, not %lld", timeout_ms, sql, v, want);
    /* The error, if it was one. */
    if (v == -1)
        pg_scalar_q(pg, sql, 0);
    return -1;
}

/* ---- gpsd ----------------------------------------------------------- */

static int gpsd_launch(struct harness_gpsd *g)
{
    char *port = hprintf("%d", g->port);
    char *source = hprintf("udp://127.0.0.1:%d", g->udp_port);
    char *argv[] = {"gpsd", "-N", "-n",   "-b",   "-S",
                    port,   "-F", g->ctl, source, NULL};
    long long t0 = now_ms();

    /* As root gpsd would drop to user gpsd itself, which clears
     * PR_SET_PDEATHSIG: start it as that user. It needs no privilege for a
     * UDP source. */
    g->proc = harness_spawn_as("gpsd", argv, g->log, as_user("gpsd"));
    if (g->proc == NULL)
        return -1;
    if (harness_wait_port(g->port, g->proc, 10000) < 0) {
        start_failed(g->proc, "gpsd", g->log, NULL);
        return -1;
    }
    if (getenv("SHUTTLE_HARNESS_VERBOSE") != NULL)
        fprintf(stderr, "harness: gpsd up on %d in %lld ms\n", g->port,
                now_ms() - t0);
    return 0;
}

struct harness_gpsd *harness_gpsd_start(void)
{
    struct harness_gpsd *g;

    g = harness_alloc(sizeof *g);
    g->dir = harness_tmpdir("gpsd");
    g->port = harness_free_port();
    g->udp_port = harness_free_port();
    if (g->dir == NULL || g->port < 0 || g->udp_port < 0)
        return NULL;
    g->ctl = hprintf("%s/control", g->dir);
    g->log = hprintf("%s/gpsd.log", g->dir);
    if (as_user("gpsd") != NULL && harness_chown(g->dir, "gpsd") < 0)
        return NULL;
    if (gpsd_launch(g) < 0)
        return NULL;
    return g;
}

int harness_gpsd_port(const struct harness_gpsd *g)
{
    return g->port;
}

int harness_gpsd_udp_port(const struct harness_gpsd *g)
{
    return g->udp_port;
}

const char *harness_gpsd_dir(const struct harness_gpsd *g)
{
    return g->dir;
}

const char *harness_gpsd_log(const struct harness_gpsd *g)
{
    return g->log;
}

struct harness_proc *harness_gpsd_proc(const struct harness_gpsd *g)
{
    return g->proc;
}

int harness_gpsd_send(struct harness_gpsd *g, const char *sentences)
{
    struct sockaddr_in sin;
    const char *line = sentences;
    int fd, sent = 0;

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)g->udp_port);
    while (*line != '\0') {
        size_t len = strcspn(line, "\r\n");
        char buf[1024];

        if (len > 0) {
            if (len + 2 > sizeof buf) {
                close(fd);
                return -1;
            }
            memcpy(buf, line, len);
            memcpy(buf + len, "\r\n", 2);
            if (sendto(fd, buf, len + 2, 0, (struct sockaddr *)&sin,
                       sizeof sin) != (ssize_t)(len + 2)) {
                fail("sendto udp %d: %s", g->udp_port, strerror(errno));
                close(fd);
                return -1;
            }
            sent++;
        }
        line += len;
        line += strspn(line, "\r\n");
    }
    close(fd);
    return sent;
}

int harness_gpsd_stop(struct harness_gpsd *g)
{
    return g->proc != NULL ? harness_stop(g->proc) : 0;
}

int harness_gpsd_restart(struct harness_gpsd *g)
{
    harness_gpsd_stop(g);
    unlink(g->ctl); /* a stale socket left by a SIGKILLed gpsd */
    return gpsd_launch(g);
}

/* ---- our daemons ---------------------------------------------------- */

const char *harness_proc_log(const struct harness_proc *p)
{
    return p->log_path;
}

int harness_log_has(const char *path, const char *needle)
{
    char buf[8192];
    size_t keep = strlen(needle), have = 0, n;
    int found = 0;
    FILE *f;

    if (keep == 0 || keep >= sizeof buf / 2 || (f = fopen(path, "r")) == NULL)
        return 0;
    /* Read in blocks, carrying the last strlen(needle)-1 bytes over so a
     * match across two blocks is not missed. */
    while (!found && (n = fread(buf + have, 1, sizeof buf - 1 - have, f)) > 0) {
        have += n;
        buf[have] = '\0';
        found = strstr(buf, needle) != NULL;
        if (have >= keep) {
            memmove(buf, buf + have - (keep - 1), keep - 1);
            have = keep - 1;
        }
    }
    fclose(f);
    return found;
}

/* What a daemon start waits for: its log saying every one of NEEDLES, or
 * the daemon gone. */
struct daemon_wait {
    struct harness_proc *proc;
    const char *const *needles;
};

static int daemon_ready(void *arg)
{
    const struct daemon_wait *w = arg;
    size_t i;

    if (!harness_alive(w->proc))
        return 1; /* stop waiting; the caller checks again */
    for (i = 0; w->needles[i] != NULL; i++)
        if (!harness_log_has(w->proc->log_path, w->needles[i]))
            return 0;
    return 1;
}

/* Spawn ARGV (our daemon NAME, logging to LOG) and wait up to 15 s for
 * NEEDLES in its log. The process, or NULL after showing the log. */
static struct harness_proc *daemon_start(const char *name, char **argv,
                                         const char *log,
                                         const char *const *needles)
{
    struct daemon_wait w;
    long long t0 = now_ms();

    w.proc = harness_spawn(name, argv, log);
    if (w.proc == NULL)
        return NULL;
    w.needles = needles;
    /* SIGTERM is their orderly stop; give them time to flush and commit. */
    harness_set_stop(w.proc, SIGTERM, 5000);
    harness_wait_for(daemon_ready, &w, 15000);
    if (!harness_alive(w.proc) || !daemon_ready(&w)) {
        start_failed(w.proc, name, log, NULL);
        return NULL;
    }
    if (getenv("SHUTTLE_HARNESS_VERBOSE") != NULL)
        fprintf(stderr, "harness: %s up in %lld ms\n", name, now_ms() - t0);
    return w.proc;
}

/* ARGV of NFIXED fixed words followed by "-o OPT" for each of EXTRA, in
 * memory owned by the harness. */
static char **daemon_argv(const char *const *fixed, size_t nfixed,
                          const char *const *extra)
{
    size_t n = 0, i, k = 0;
    char **argv;

    while (extra != NULL && extra[n] != NULL)
        n++;
    argv = harness_alloc((nfixed + 2 * n + 1) * sizeof *argv);
    for (i = 0; i < nfixed; i++)
        argv[k++] = hprintf("%s", fixed[i]);
    for (i = 0; i < n; i++) {
        argv[k++] = hprintf("-o");
        argv[k++] = hprintf("%s", extra[i]);
    }
    argv[k] = NULL;
    return argv;
}

/*
 * Start backend daemon NAME ("shuttle-backend", "shuttle-live") on PG and
 * M, its folder tagged TAG, with an explicit (empty) config file — else it
 * would read /etc/shuttle/TAG.conf when the machine has one — and no HTTP
 * unless EXTRA_OPTS ask (the default port may be taken). Ready once it
 * logged both a database and a broker connection.
 */
static struct harness_proc *
backend_daemon_start(const char *name, const char *tag, const char *identity,
                     struct harness_pg *pg, struct harness_mqtt *m,
                     const char *const *extra_opts)
{
    static const char *const needles[] = {"database ready",
                                          "connected to broker", NULL};
    char *dir = harness_tmpdir(tag);
    char *conf, *log, *db, *port;
    const char *ca, *cert, *key;
    FILE *f;

    if (dir == NULL)
        return NULL;
    conf = hprintf("%s/%s.conf", dir, tag);
    log = hprintf("%s/%s.log", dir, tag);
    if (harness_mosquitto_identity(m, identity, &ca, &cert, &key) < 0)
        return NULL;
    f = fopen(conf, "w");
    if (f == NULL || fputs("# written by the shuttle test harness\n", f) < 0 ||
        (ca != NULL && fprintf(f,
                               "mqtt_cafile %s\nmqtt_certfile %s\n"
                               "mqtt_keyfile %s\n",
                               ca, cert, key) < 0) ||
        fclose(f) != 0) {
        fail("%s: %s", conf, strerror(errno));
        return NULL;
    }
    db = hprintf("database=%s", pg->conninfo);
    port = hprintf("mqtt_port=%d", m->port);
    {
        const char *fixed[] = {
            harness_bin(name),     "-d", "-f", conf, "-o",         db, "-o",
            "mqtt_host=127.0.0.1", "-o", port, "-o", "http_port=0"};

        return daemon_start(
            name, daemon_argv(fixed, sizeof fixed / sizeof *fixed, extra_opts),
            log, needles);
    }
}

struct harness_proc *harness_backend_start(struct harness_pg *pg,
                                           struct harness_mqtt *m,
                                           const char *const *extra_opts)
{
    return backend_daemon_start("shuttle-backend", "backend", "shuttle-ingest",
                                pg, m, extra_opts);
}

struct harness_proc *harness_live_start(struct harness_pg *pg,
                                        struct harness_mqtt *m,
                                        const char *const *extra_opts)
{
    return backend_daemon_start("shuttle-live", "live", "shuttle-live", pg, m,
                                extra_opts);
}

struct harness_proc *harness_onboard_start(const char *vid,
                                           struct harness_gpsd *g,
                                           struct harness_mqtt *m,
                                           const char *spool_dir,
                                           const char *const *extra_opts)
{
    static const char *const needles[] = {"connected to broker", NULL};
    char *dir = harness_tmpdir("onboard");
    char *conf, *log;
    const char *ca, *cert, *key;
    FILE *f;

    if (dir == NULL)
        return NULL;
    conf = hprintf("%s/onboard.conf", dir);
    log = hprintf("%s/onboard.log", dir);
    if (spool_dir == NULL) {
        spool_dir = hprintf("%s/spool", dir);
        if (mkdir(spool_dir, 0700) < 0) {
            fail("mkdir %s: %s", spool_dir, strerror(errno));
            return NULL;
        }
    }
    f = fopen(conf, "w");
    if (f == NULL) {
        fail("%s: %s", conf, strerror(errno));
        return NULL;
    }
    fprintf(f,
            "# written by the shuttle test harness\n"
            "vehicle_id %s\n"
            "gpsd_host 127.0.0.1\n"
            "gpsd_port %d\n"
            "mqtt_host 127.0.0.1\n"
            "mqtt_port %d\n"
            "spool_dir %s\n",
            vid, g->port, m->port, spool_dir);
    if (harness_mosquitto_identity(m, vid, &ca, &cert, &key) < 0) {
        fclose(f);
        return NULL;
    }
    if (ca != NULL)
        fprintf(f, "mqtt_cafile %s\nmqtt_certfile %s\nmqtt_keyfile %s\n", ca,
                cert, key);
    if (fclose(f) != 0) {
        fail("%s: %s", conf, strerror(errno));
        return NULL;
    }
    {
        const char *fixed[] = {harness_bin("shuttle-onboard"), "-d", "-f",
                               conf};

        return daemon_start(
            "shuttle-onboard",
            daemon_argv(fixed, sizeof fixed / sizeof *fixed, extra_opts), log,
            needles);
    }
}
