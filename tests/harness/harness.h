/* Integration-test harness: start, stop and poke real mosquitto, PostgreSQL
 * and gpsd on loopback, in throw-away folders, and clean up after the test. */
#ifndef SHUTTLE_HARNESS_H
#define SHUTTLE_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* Functions that start something return NULL (or -1) on failure after
 * printing why, with the tail of the service's log, to stderr. Everything the
 * harness starts or creates is registered; harness_stop_all() and
 * harness_cleanup() undo it, and both also run at exit and on SIGINT,
 * SIGTERM and SIGABRT (a signal kills the services with SIGKILL but leaves
 * the folders). Children get PR_SET_PDEATHSIG(SIGKILL), so a test killed
 * with SIGKILL leaves no service running either (and its folders too). */

/* ---- ports, folders, paths ------------------------------------------ */

/* A loopback port that is free for both TCP and UDP right now and was not
 * returned before by this process; -1 on error. */
int harness_free_port(void);

/* A new folder /tmp/shuttle-TAG-XXXXXX, removed recursively by
 * harness_cleanup() (or at exit) unless SHUTTLE_KEEP_TMP=1. The string
 * belongs to the harness and lives until harness_cleanup(). NULL on error. */
struct harness_dir;
char *harness_tmpdir(const char *tag);

/* Remove PATH and everything below it (symbolic links are not followed).
 * 0 when PATH is gone afterwards, -1 otherwise. */
int harness_rmtree(const char *path);

/* Give PATH and, recursively, everything under it to USER (and USER's
 * primary group). 0 on success, -1 on error. */
int harness_chown(const char *path, const char *user);

/* $SHUTTLE_BIN_DIR/NAME, or beside the test executable when the variable is
 * unset. The string belongs to the harness (lives until harness_cleanup). */
const char *harness_bin(const char *name);

/* $SHUTTLE_SHARED_DATA when set and that folder exists, else NULL. */
const char *harness_shared_data(void);

/* Call PRED(ARG) every 50 ms until it returns nonzero: 0 when it did within
 * TIMEOUT_MS, -1 when it did not. PRED is called at least once. */
int harness_wait_for(int (*pred)(void *), void *arg, int timeout_ms);

/* Sleep MS milliseconds (restarted after signals). */
void harness_sleep_ms(int ms);

/* Connect to 127.0.0.1:PORT over TCP: the connected socket, or -1. */
int harness_tcp_connect(int port);

/* Wait until 127.0.0.1:PORT accepts TCP connections: 0, or -1 after
 * TIMEOUT_MS (or as soon as PROC, when not NULL, has exited). */
struct harness_proc;
int harness_wait_port(int port, struct harness_proc *proc, int timeout_ms);

/* The whole file at PATH, NUL-terminated, in memory that is the caller's
 * to free; "" (also the caller's) when it cannot be read. */
char *harness_read_file(const char *path);

/* Run ARGV (ARGV[0] searched in PATH when it has no slash) in the
 * foreground, stdin from /dev/null, stdout to OUT and stderr to ERR
 * (truncated; they may be the same file): its exit status, 128+N when
 * signal N ended it, 127 when it could not be started. */
int harness_run(char *const argv[], const char *out, const char *err);

/* Print the last LINES lines of the file at PATH to stderr. */
void harness_log_tail(const char *path, int lines);

/* ---- processes ------------------------------------------------------ */

/* Fork and exec ARGV[0] (searched in PATH) with ARGV, stdin from /dev/null,
 * stdout and stderr appended to LOG_PATH, in a new process group, with
 * PR_SET_PDEATHSIG(SIGKILL). NAME is for messages. NULL if the exec failed.
 * The handle belongs to the harness; it stays valid until harness_cleanup. */
struct harness_proc *harness_spawn(const char *name, char *const argv[],
                                   const char *log_path);

/* As harness_spawn, but when USER is not NULL the child first switches to
 * that user (uid, and its primary group as only group) and to folder "/".
 * The death signal is set after the switch: a change of credentials clears
 * it, which is also why a daemon that drops privileges by itself (mosquitto
 * and gpsd as root) outlives a SIGKILLed test unless started this way. */
struct harness_proc *harness_spawn_as(const char *name, char *const argv[],
                                      const char *log_path, const char *user);

/* Send SIG to the process (not its group). 0, or -1 when it has exited. */
int harness_kill(struct harness_proc *p, int sig);

/* Wait up to TIMEOUT_MS (negative: forever) for the process to exit. Returns
 * its exit code, 128+N when killed by signal N, or -1 on timeout. Calling
 * again after it exited returns the same value. */
int harness_wait(struct harness_proc *p, int timeout_ms);

/* 1 while the process runs, 0 once it has exited (it is then reaped). */
int harness_alive(struct harness_proc *p);

pid_t harness_pid(const struct harness_proc *p);

/* Stop one process: its stop signal (SIGTERM unless the service module chose
 * another) to the process and its group, SIGKILL to both after 5 s. Returns
 * as harness_wait(). */
int harness_stop(struct harness_proc *p);

/* Make harness_stop() send SIG first and wait GRACE_MS before SIGKILL. */
void harness_set_stop(struct harness_proc *p, int sig, int grace_ms);

/* Stop every process the harness started and that still runs. */
void harness_stop_all(void);

/* harness_stop_all(), then remove the folders and free what the harness
 * owns. Every handle becomes invalid. Runs at exit too. */
void harness_cleanup(void);

/* ---- mosquitto ------------------------------------------------------ */

struct harness_mqtt;

/* Start mosquitto in the shape a depot runs it: the shipped configuration
 * (harness_mosquitto_start_secure(NULL): TLS, a client certificate per
 * identity, the ACL, no anonymous access), plus max_queued_messages
 * 1000000, max_inflight_messages 0 (no limit), ISO log time stamps and
 * EXTRA_CONF (may be NULL), appended verbatim. The daemons the harness
 * starts on it speak as their identities (see harness_mosquitto_identity);
 * test clients go through harness_mosquitto_client. Returns once the port
 * accepts connections (at most 10 s). Note: mosquitto writes its
 * persistence file only at exit and every autosave_interval (300 s in the
 * shipped file). */
struct harness_mqtt *harness_mosquitto_start(const char *extra_conf);

/* The old test broker: plain TCP on 127.0.0.1:free port, anonymous access,
 * no ACL, the same limits and persistence, EXTRA_CONF appended. Only for a
 * test that must do what the shipped broker forbids — play an attacker on
 * a misconfigured broker, or a load generator speaking as 1,000 buses —
 * and WHY, printed to stderr, says which. */
struct harness_mqtt *harness_mosquitto_start_plain(const char *extra_conf,
                                                   const char *why);

int harness_mosquitto_port(const struct harness_mqtt *m);
const char *harness_mosquitto_dir(const struct harness_mqtt *m);
const char *harness_mosquitto_log(const struct harness_mqtt *m);
/* Publish the len bytes at buf on topic through M with mosquitto_pub, QoS 1,
 * waiting for it (15 s at most; its log's tail printed on failure), as the
 * identity the ACL lets write TOPIC (the bus of shuttle/v1/<vid>/telemetry
 * or /status, shuttle-ingest for an ack, shuttle-live otherwise). 0 or
 * -1. */
int harness_mosquitto_publish(struct harness_mqtt *m, const char *topic,
                              const void *buf, size_t len);

/* The CA, certificate and key files (owned by the harness) of client
 * identity NAME (a vehicle id, "shuttle-ingest", "shuttle-live",
 * "displays") on M's PKI, made with pki.sh add the first time: 0, or -1
 * after saying why. On a plain broker all three are NULL, and 0. */
int harness_mosquitto_identity(struct harness_mqtt *m, const char *name,
                               const char **ca, const char **cert,
                               const char **key);

/* The same as the options of a daemon of ours: OPTS[0..2] become
 * "mqtt_cafile=…", "mqtt_certfile=…" and "mqtt_keyfile=…" (owned by the
 * harness) for `-o`, or all NULL on a plain broker. 0 or -1. */
int harness_mosquitto_identity_opts(struct harness_mqtt *m, const char *name,
                                    const char *opts[3]);

/* Spawn PROG (mosquitto_pub, mosquitto_sub) connected to M — host, port
 * and, on the shipped broker, IDENTITY's certificate — then ARGS
 * (NULL-terminated; may be NULL); its output in LOG. NULL on error. */
struct harness_proc *harness_mosquitto_client(struct harness_mqtt *m,
                                              const char *prog,
                                              const char *identity,
                                              const char *const *args,
                                              const char *log);
struct harness_proc *harness_mosquitto_proc(const struct harness_mqtt *m);

/* SIGTERM (mosquitto saves its persistence file), SIGKILL after 5 s.
 * Returns as harness_wait(). */
int harness_mosquitto_stop(struct harness_mqtt *m);

/* Stop when running, then start on the same port and config; with
 * KEEP_PERSISTENCE 0 the persistence file is deleted first. 0 or -1. */
int harness_mosquitto_restart(struct harness_mqtt *m, int keep_persistence);

/* ---- the secured broker (deploy/mosquitto) -------------------------- */

/* Run `bash $SHUTTLE_SOURCE_DIR/deploy/pki.sh VERB PKI_DIR [NAME]` (NAME may
 * be NULL), its output in PKI_DIR.log: 0, or -1 after printing that log's
 * tail. As root, PKI_DIR is then given to user mosquitto. */
int harness_pki(const char *pki_dir, const char *verb, const char *name);

/* Start mosquitto with the shipped configuration: deploy/mosquitto/
 * mosquitto.conf and acl from $SHUTTLE_SOURCE_DIR, with only the listener
 * (a free port on 127.0.0.1), persistence_location, log_dest and the paths
 * of acl_file, cafile, certfile, keyfile and crlfile replaced. PKI_DIR is
 * the PKI to use; it is made with `pki.sh init` when it has no ca.crt, and
 * NULL means a "pki" folder in the broker's folder. Client identities are
 * the caller's to add (harness_pki(dir, "add", name), or
 * harness_mosquitto_identity): PKI_DIR/clients/
 * NAME.crt and NAME.key. Returns once the TLS port accepts TCP (10 s at
 * most). Nothing is added to the shipped file (harness_mosquitto_start
 * adds the test limits). */
struct harness_mqtt *harness_mosquitto_start_secure(const char *pki_dir);

/* The PKI folder of a broker from harness_mosquitto_start_secure (owned by
 * the harness), else NULL. */
const char *harness_mosquitto_pki(const struct harness_mqtt *m);

/* SIGHUP: mosquitto re-reads its config, the ACL and the CRL (new
 * connections are checked against them; open ones stay). 0 once its log
 * says so (5 s at most), else -1. */
int harness_mosquitto_reload(struct harness_mqtt *m);

/* ---- PostgreSQL ----------------------------------------------------- */

struct harness_pg;

/* initdb a new cluster as user postgres (trust auth, UTF8, locale C) in a
 * new folder, start postgres listening only on a Unix socket in that folder,
 * wait until it accepts connections and create the database "shuttle".
 * FAST nonzero turns off fsync, synchronous_commit and full_page_writes
 * (only for tests that never crash the server). NULL on error. */
struct harness_pg *harness_pg_start(int fast);

/* "host=SOCKDIR port=PORT dbname=shuttle user=postgres"; owned by PG. */
const char *harness_pg_conninfo(const struct harness_pg *pg);
int harness_pg_port(const struct harness_pg *pg);
const char *harness_pg_dir(const struct harness_pg *pg);
const char *harness_pg_log(const struct harness_pg *pg);
struct harness_proc *harness_pg_proc(const struct harness_pg *pg);

/* Stop the server: IMMEDIATE 0 is a fast shutdown (SIGINT: sessions are
 * ended, a checkpoint written), nonzero an immediate one (SIGQUIT: no
 * checkpoint, crash recovery at the next start, like pg_ctl -m immediate).
 * SIGKILL after 10 s. Returns as harness_wait(). */
int harness_pg_stop(struct harness_pg *pg, int immediate);

/* Stop (fast) when running, start again on the same cluster. 0 or -1. */
int harness_pg_restart(struct harness_pg *pg);

/* Run SQL (one or more statements) in database shuttle: 0, or -1 after
 * printing the error. */
int harness_pg_exec(struct harness_pg *pg, const char *sql);

/* Run SQL; the first column of the first row as an integer, or -1 on error,
 * no row, NULL or a value that is not an integer. */
long long harness_pg_scalar(struct harness_pg *pg, const char *sql);

/* ---- PostgreSQL streaming replication ------------------------------- */

/* A hot standby of PRIMARY (a cluster of harness_pg_start): pg_basebackup
 * -R as user postgres into a new folder, started on its own socket folder
 * and port (same FAST as the primary), returned once it is in recovery and
 * streaming (pg_stat_replication on the primary, 60 s at most). SYNC
 * nonzero then names it in the primary's synchronous_standby_names and
 * waits until it is the synchronous standby: a commit with
 * synchronous_commit on returns only once the standby has it. Use the
 * harness_pg_* functions on it; NULL on error. */
struct harness_pg *harness_pg_start_replica(struct harness_pg *primary,
                                            int sync);

/* Promote the standby PG (pg_promote) and wait until it accepts writes:
 * 0, or -1 after 60 s (its log's tail printed). */
int harness_pg_promote(struct harness_pg *pg);

/* "host=DIR1,DIR2 port=P1,P2 dbname=shuttle user=postgres
 * target_session_attrs=ATTRS" for the N clusters PGS, in that order (libpq
 * tries them in order). Owned by the harness. */
const char *harness_pg_conninfo_multi(struct harness_pg *const *pgs, int n,
                                      const char *target_session_attrs);

/* ---- gpsd ----------------------------------------------------------- */

struct harness_gpsd;

/* Start gpsd in the foreground (-N -n -b) on a free TCP port, reading NMEA
 * from UDP 127.0.0.1:udp_port, as user gpsd when we are root; returns once
 * the TCP port accepts. */
struct harness_gpsd *harness_gpsd_start(void);
int harness_gpsd_port(const struct harness_gpsd *g);
int harness_gpsd_udp_port(const struct harness_gpsd *g);
const char *harness_gpsd_dir(const struct harness_gpsd *g);
const char *harness_gpsd_log(const struct harness_gpsd *g);
struct harness_proc *harness_gpsd_proc(const struct harness_gpsd *g);

/* Send SENTENCES (lines separated by LF or CRLF) to gpsd's UDP source, one
 * datagram per line, each ending in CRLF. Returns the number of datagrams
 * sent, or -1 on error. */
int harness_gpsd_send(struct harness_gpsd *g, const char *sentences);

int harness_gpsd_stop(struct harness_gpsd *g);
/* Stop when running, start again on the same ports. 0 or -1. */
int harness_gpsd_restart(struct harness_gpsd *g);

/* ---- our daemons ---------------------------------------------------- */

/* Start shuttle-backend (harness_bin) in the foreground on the database of
 * PG and the broker M, HTTP off (http_port=0), with "-o key=value" for each
 * of EXTRA_OPTS (NULL-terminated, may be NULL; later options win), its log
 * in a new folder. Returns once the log says both "database ready" and
 * "connected to broker" (at most 15 s), NULL otherwise. Several may be
 * started, one after the other (a restart is a new start on the same PG and
 * M). */
struct harness_proc *harness_backend_start(struct harness_pg *pg,
                                           struct harness_mqtt *m,
                                           const char *const *extra_opts);

/* Start shuttle-live in the foreground on the database of PG (read and
 * write through the same connection string) and the broker M, HTTP off
 * (http_port=0), from an explicit empty config file, with "-o key=value"
 * for each of EXTRA_OPTS as for harness_backend_start. Returns once the
 * log says "database ready" and "connected to broker" (at most 15 s), NULL
 * otherwise. */
struct harness_proc *harness_live_start(struct harness_pg *pg,
                                        struct harness_mqtt *m,
                                        const char *const *extra_opts);

/* Start shuttle-onboard for vehicle VID, reading gpsd G and publishing to
 * M, from a config file written into a new folder (where its log goes too).
 * SPOOL_DIR NULL: a "spool" folder beside the config. EXTRA_OPTS as for
 * harness_backend_start. Returns once the log says "connected to broker"
 * (at most 15 s), NULL otherwise. */
struct harness_proc *harness_onboard_start(const char *vid,
                                           struct harness_gpsd *g,
                                           struct harness_mqtt *m,
                                           const char *spool_dir,
                                           const char *const *extra_opts);

/* The log file of a process started by the harness (owned by the harness). */
const char *harness_proc_log(const struct harness_proc *p);

/* 1 when the file at PATH contains NEEDLE, else 0. */
int harness_log_has(const char *path, const char *needle);

/* Run SQL every 100 ms until harness_pg_scalar() returns WANT: 0 when it did
 * within TIMEOUT_MS, else -1 after printing SQL and the last value. */
int harness_wait_scalar(struct harness_pg *pg, const char *sql, long long want,
                        int timeout_ms);

#endif
