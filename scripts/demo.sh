#!/usr/bin/env bash
# The main job on one machine: a private PostgreSQL, mosquitto and one gpsd
# per bus, six shuttle-onboard daemons and shuttle-backend, driven through a
# simulated service day by shuttle-sim; then what was stored, per bus.
# Logs, spools and the report go to ./work/demo; what the services' own
# users must reach (database, broker) to a private folder under $TMPDIR
# (default /tmp), removed on exit. Everything is stopped on exit; run it as
# often as you like. Options: --speed N (default 300), --date YYYY-MM-DD,
# --seed N, --start HH:MM --end HH:MM (part of a day), --keep (leave the
# services up), --stop (stop what --keep left up).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

speed=300 date="" seed=1 start="" end="" keep=0 stop_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --speed) speed=$2; shift 2 ;;
    --date) date=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --start) start=$2; shift 2 ;;
    --end) end=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --stop) stop_only=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# Yesterday in the feed's zone (agency_timezone) by default: the report's
# default day.
if [ -z "$date" ]; then
  feed_tz=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "agency_timezone") c = i }
                     NR == 2 { print $c }' deploy/gtfs/agency.txt)
  date=$(TZ=$feed_tz date -d yesterday +%F)
fi

work=$top/work/demo
svc=""    # the services' folder (under $TMPDIR), once made
pids=() logs=() # what was started, and where each writes

say() { echo "demo: $*" >&2; }
# fail WHAT LOG ADVICE: say what failed, show the end of its log (if any)
# and what to do, and exit (the exit trap stops what was started).
fail() {
  say "FAILED: $1"
  if [ -n "$2" ] && [ -s "$2" ]; then
    say "last lines of $2:"
    tail -n 20 "$2" | sed 's/^/  | /' >&2
  elif [ -n "$2" ]; then
    say "($2 is empty)"
  fi
  say "what to do: $3"
  exit 1
}
# Anything that fails without its own message above: where, and what to do.
trap 'rc=$?; say "FAILED (exit $rc) at scripts/demo.sh line $LINENO: $BASH_COMMAND";
  say "what to do: see the output above and the logs in $work; run with bash -x scripts/demo.sh to trace"' ERR
trap 'exit 130' INT TERM

# ---- stopping ----------------------------------------------------------

# stop_pids PID...: TERM, wait up to 5 s, then KILL (a postmaster: stop_pg).
stop_pids() {
  local p i alive
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
}
postmaster_pid() { # postmaster_pid DATADIR: the running server's pid, if any
  [ -f "$1/postmaster.pid" ] && head -1 "$1/postmaster.pid" 2>/dev/null || true
}
stop_pg() { # stop_pg DATADIR: a fast shutdown, waited for (10 s at most)
  local pm i
  pm=$(postmaster_pid "$1")
  [ -n "$pm" ] || return 0
  kill -INT "$pm" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pm" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -QUIT "$pm" 2>/dev/null || true
}
is_our_svc() { # is_our_svc DIR: a services folder this script made
  case "$1" in */shuttle-demo-??????) [ -d "$1" ] ;; *) false ;; esac
}
# What an earlier demo left (killed hard, or run with --keep).
stop_stale() {
  local old="" left=()
  old=$(readlink "$work/services" 2>/dev/null || true)
  is_our_svc "$old" && stop_pg "$old/pg/data"
  stop_pg "$work/pg/data" # a demo of before the services' folder
  [ -f "$work/pids" ] && mapfile -t left < "$work/pids"
  [ ${#left[@]} -gt 0 ] && stop_pids "${left[@]}"
  is_our_svc "$old" && rm -rf "$old"
  rm -f "$work/pids" "$work/services"
}
on_exit() {
  local rc=$?
  trap - ERR
  if [ "$keep" = 1 ] && [ -n "$svc" ]; then
    say "services left running (--keep):"
    say "  logs, spools, report: $work"
    say "  database and broker data: $svc (link: $work/services)"
    [ -n "${db:-}" ] && say "  database: psql \"$db\""
    [ -n "${mqport:-}" ] && say "  broker (TLS; as shuttle-live, which may read telemetry and status): mosquitto_sub -h 127.0.0.1 -p $mqport --cafile $work/pki/ca.crt --cert $work/pki/clients/shuttle-live.crt --key $work/pki/clients/shuttle-live.key -t 'shuttle/v1/+/status' -v"
    [ -n "${mqport:-}" ] && say "  stop displays: the same with the displays certificate and -t 'shuttle/v1/stops/#'"
    [ -n "${liveport:-}" ] && [ -n "${date:-}" ] && declare -F live_urls >/dev/null && live_urls
    say "  stop them with scripts/demo.sh --stop (a new demo also stops them first)"
    return $rc
  fi
  [ -n "$svc" ] && stop_pg "$svc/pg/data"
  [ ${#pids[@]} -gt 0 ] && stop_pids "${pids[@]}"
  if is_our_svc "$svc"; then rm -rf "$svc"; fi
  rm -f "$work/pids" "$work/services"
  return $rc
}

if [ "$stop_only" = 1 ]; then
  stop_stale
  say "stopped what an earlier demo left running"
  exit 0
fi

# ---- preparing -----------------------------------------------------------

scripts/setup.sh ||
  fail "installing Debian's packages (scripts/setup.sh)" "" \
    "see apt's messages above; run as root or as a user with sudo, then run the demo again"

stop_stale
rm -rf "$work"
mkdir -p "$work"
trap on_exit EXIT

# From the checkout's real path ($PWD's too, which cmake reads): its cache
# holds the path, and a link to the checkout must not make it stale.
src=$(pwd -P)
if [ -n "${SHUTTLE_DEMO_BIN:-}" ]; then
  # Binaries built already (the test suite's): no build of its own.
  bin=$SHUTTLE_DEMO_BIN
  [ -x "$bin/shuttle-backend" ] ||
    fail "SHUTTLE_DEMO_BIN=$bin has no shuttle-backend" "" \
      "build first (cmake --build DIR), or unset SHUTTLE_DEMO_BIN"
else
  say "building (log: $work/build.log)"
  (cd -P "$src" && cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build build/release -j"$(nproc)") >"$work/build.log" 2>&1 ||
    fail "building with cmake" "$work/build.log" \
      "fix the error shown; if build/release is left from another checkout or compiler, remove it and run the demo again"
  bin=$src/build/release/bin
fi

# The services run as their own users (as root: postgres, mosquitto, gpsd;
# otherwise as you), and those must reach their folders: a checkout under
# a 0700 folder (root's home) is out of their reach, so their folders are
# in a private one under $TMPDIR, open to enter, each its user's own.
root=0
[ "$(id -u)" = 0 ] && root=1
as_user() { # as_user USER: run_as=(the prefix that runs a command as USER)
  run_as=()
  [ "$root" = 1 ] &&
    run_as=(setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups --)
  return 0
}
tmp=${TMPDIR:-/tmp}
svc=$(mktemp -d "$tmp/shuttle-demo-XXXXXX") ||
  fail "making the services' folder in $tmp" "" \
    "set TMPDIR to a folder you can write to (e.g. TMPDIR=/tmp) and run the demo again"
chmod 755 "$svc"
ln -sfn "$svc" "$work/services"
mkdir "$svc/pg" "$svc/mosquitto" "$svc/gpsd"
if [ "$root" = 1 ]; then
  chown postgres: "$svc/pg"
  chown mosquitto: "$svc/mosquitto"
  chown gpsd: "$svc/gpsd"
  for d in postgres:pg mosquitto:mosquitto gpsd:gpsd; do
    as_user "${d%%:*}"
    "${run_as[@]}" test -w "$svc/${d#*:}" ||
      fail "user ${d%%:*} cannot reach $svc/${d#*:}" "" \
        "a folder above $svc is closed to other users: set TMPDIR to a folder every user can enter (e.g. TMPDIR=/tmp) and run the demo again"
  done
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$((20000 + RANDOM % 20000))
free_port() { # free_port VAR: VAR gets the next free port (no subshell,
  # so the counter moves on)
  while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
  printf -v "$1" '%s' "$next_port"; next_port=$((next_port + 1))
}
spawn() { # spawn LOG CMD...: start in the background from /, remember the pid
  local log=$1; shift
  (cd / && exec "$@") >"$log" 2>&1 &
  pids+=($!); logs+=("$log"); echo $! >> "$work/pids"
}
again="run the demo again (it picks new ports); if an earlier demo is still up, scripts/demo.sh --stop first"
# wait_for WHAT LOG PID SECONDS ADVICE CMD...: until CMD succeeds; fails
# with LOG's tail if PID exits or time runs out.
wait_for() {
  local what=$1 log=$2 pid=$3 secs=$4 advice=$5 i
  shift 5
  for ((i = 0; i < secs * 10; i++)); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || fail "$what exited" "$log" "$advice"
    sleep 0.1
  done
  fail "$what not ready after $secs s" "$log" "$advice"
}
port_open() { ! port_free "$1"; }
log_has() { grep -q "$2" "$1" 2>/dev/null; }

# ---- the services ------------------------------------------------------

say "starting PostgreSQL, mosquitto, 6 gpsd (their data: $svc)"
pgbin=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/postgres" ] && pgbin=$d # the newest (the glob sorts)
done
[ -n "$pgbin" ] ||
  fail "finding PostgreSQL's server (/usr/lib/postgresql/*/bin/postgres)" "" \
    "install it (apt-get install postgresql, or run scripts/setup.sh) and run the demo again"
as_user postgres
pg_as=("${run_as[@]}")
(cd / && exec "${pg_as[@]}" "$pgbin/initdb" -D "$svc/pg/data" -U postgres \
  -A trust -E UTF8 --locale=C --no-sync) >"$work/initdb.log" 2>&1 ||
  fail "initdb (a new PostgreSQL cluster in $svc/pg/data)" "$work/initdb.log" \
    "fix what the log says (disk space? memory?) and run the demo again"
# The shape a depot runs (README "Database roles"): the daemons log in as
# members of the shuttle_* roles with a password (scram-sha-256, from a
# passfile); the owner and the superuser are trusted on the socket, which
# is mode 0700: only PostgreSQL's own user and root reach it, the users who
# could read its data folder anyway, so trust there is peer authentication
# without a user map (the demo's OS user is not named postgres).
cat > "$svc/pg/data/pg_hba.conf" <<HBA
local all postgres,shuttle_owner trust
local all all scram-sha-256
HBA
free_port pgport
spawn "$work/postgres.log" "${pg_as[@]}" "$pgbin/postgres" \
  -D "$svc/pg/data" -c listen_addresses= -k "$svc/pg" -p "$pgport" \
  -c unix_socket_permissions=0700 -c password_encryption=scram-sha-256
wait_for "PostgreSQL" "$work/postgres.log" "${pids[-1]}" 30 "$again" \
  "$pgbin/pg_isready" -q -h "$svc/pg" -p "$pgport"
# The schema's owner: it migrates and loads the feed; CREATEROLE because
# migration 003 creates the shuttle_* group roles.
psql -q -h "$svc/pg" -p "$pgport" -U postgres \
  -c "CREATE ROLE shuttle_owner LOGIN CREATEROLE" \
  -c "CREATE DATABASE shuttle OWNER shuttle_owner" \
  >"$work/psql.log" 2>&1 ||
  fail "creating the database" "$work/psql.log" \
    "see $work/postgres.log; run the demo again"
db="host=$svc/pg port=$pgport dbname=shuttle user=shuttle_owner"

free_port mqport
free_port httpport
free_port liveport
# The broker in its shipped shape (README "Securing the broker"): TLS
# only, a certificate per bus and service, the ACL, nobody anonymous. The
# PKI (with the CA's key) is the operator's, in $work/pki; the broker gets
# only its own four files, as on a depot.
pki=$work/pki
for n in init bus-1 bus-2 bus-3 bus-4 bus-5 bus-6 shuttle-ingest \
  shuttle-live displays; do
  pki_args=(add "$pki" "$n")
  [ "$n" = init ] && pki_args=(init "$pki")
  bash deploy/pki.sh "${pki_args[@]}" >>"$work/pki.log" 2>&1 ||
    fail "making the broker's certificates (deploy/pki.sh ${pki_args[*]})" "$work/pki.log" \
      "fix what the log says (is openssl installed?), or remove $pki, and run the demo again"
done
cp "$pki/ca.crt" "$pki/broker.crt" "$pki/broker.key" "$pki/crl.pem" \
  deploy/mosquitto/acl "$svc/mosquitto/"
# The shipped file with only the port and the paths replaced.
sed -e "s|^listener .*|listener $mqport 127.0.0.1|" \
  -e "s|^persistence_location .*|persistence_location $svc/mosquitto/|" \
  -e "s|^log_dest .*|log_dest stdout|" \
  -e "s|^acl_file .*|acl_file $svc/mosquitto/acl|" \
  -e "s|^cafile .*|cafile $svc/mosquitto/ca.crt|" \
  -e "s|^certfile .*|certfile $svc/mosquitto/broker.crt|" \
  -e "s|^keyfile .*|keyfile $svc/mosquitto/broker.key|" \
  -e "s|^crlfile .*|crlfile $svc/mosquitto/crl.pem|" \
  deploy/mosquitto/mosquitto.conf >"$svc/mosquitto/mosquitto.conf"
chmod 644 "$svc/mosquitto/mosquitto.conf"
[ "$root" = 1 ] && chown -R mosquitto: "$svc/mosquitto"
chmod 600 "$svc/mosquitto/broker.key"
tls_as() { # tls_as NAME: tls=(the options that make a daemon speak as NAME)
  tls=(-o "mqtt_cafile=$pki/ca.crt" -o "mqtt_certfile=$pki/clients/$1.crt"
    -o "mqtt_keyfile=$pki/clients/$1.key")
}
# As its own user from the start: it reads its configuration again on a
# reload, and writes its persistence as that user.
as_user mosquitto
spawn "$work/mosquitto.log" "${run_as[@]}" mosquitto -c "$svc/mosquitto/mosquitto.conf"
wait_for "mosquitto" "$work/mosquitto.log" "${pids[-1]}" 10 "$again" \
  port_open "$mqport"

# gpsd needs no privilege for a UDP source: started as its user, it has
# none to drop.
as_user gpsd
gpsd_ports=() udp_ports=() counter_ports=() gpsd_pids=()
for i in 1 2 3 4 5 6; do
  free_port gp; free_port up; free_port cp
  gpsd_ports+=("$gp"); udp_ports+=("$up"); counter_ports+=("$cp")
  spawn "$work/gpsd-$i.log" "${run_as[@]}" gpsd -N -n -b -S "$gp" \
    -F "$svc/gpsd/gpsd-$i.sock" "udp://127.0.0.1:$up"
  gpsd_pids+=("${pids[-1]}")
done
for i in 1 2 3 4 5 6; do
  wait_for "gpsd $i" "$work/gpsd-$i.log" "${gpsd_pids[$((i - 1))]}" 10 "$again" \
    port_open "${gpsd_ports[$((i - 1))]}"
done

# ---- shuttle -----------------------------------------------------------

say "loading the GTFS feed (deploy/gtfs)"
"$bin/shuttle-backend" -o "database=$db" --load-gtfs deploy/gtfs \
  >"$work/load-gtfs.log" 2>&1 ||
  fail "loading the GTFS feed of deploy/gtfs" "$work/load-gtfs.log" \
    "fix the feed file the log names (or git checkout deploy/gtfs) and run the demo again"
sed 's/^/demo: /' "$work/load-gtfs.log" >&2

# One login per program, each in the role it needs (the group roles came
# with migration 003 and 007), with a random password kept only in a
# libpq passfile (mode 0600; libpq ignores a looser one).
pgpass=$work/pgpass
(umask 077 && : >"$pgpass")
logins=(shuttle_ingest:demo_ingest shuttle_read:demo_live_read
  shuttle_live:demo_live_write shuttle_read:demo_report)
for l in "${logins[@]}"; do
  pw=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  psql -q -h "$svc/pg" -p "$pgport" -U postgres shuttle \
    -v role="${l%%:*}" -v login="${l#*:}" -v pw="$pw" >>"$work/psql.log" 2>&1 <<'SQL' ||
CREATE ROLE :"login" LOGIN PASSWORD :'pw' IN ROLE :"role";
SQL
    fail "creating the database login ${l#*:}" "$work/psql.log" \
      "see $work/postgres.log; run the demo again"
  echo "$svc/pg:$pgport:shuttle:${l#*:}:$pw" >>"$pgpass"
done
login_db() { # login_db LOGIN: its connection string, through the passfile
  echo "host=$svc/pg port=$pgport dbname=shuttle user=$1 passfile=$pgpass"
}

tls_as shuttle-ingest
spawn "$work/backend.log" "$bin/shuttle-backend" -d \
  -o "database=$(login_db demo_ingest)" \
  -o "mqtt_port=$mqport" -o "http_port=$httpport" "${tls[@]}"
backend_pid=${pids[-1]}
wait_for "shuttle-backend" "$work/backend.log" "$backend_pid" 10 \
  "see the log; $again" log_has "$work/backend.log" "connected to broker"
# shuttle-live beside ingest, on its own client id. It alone keeps
# today's derived tables current (rebuild_interval_s, default 60 s).
tls_as shuttle-live
spawn "$work/live.log" "$bin/shuttle-live" -d \
  -o "database=$(login_db demo_live_read)" \
  -o "writer_database=$(login_db demo_live_write)" \
  -o "mqtt_port=$mqport" -o "http_port=$liveport" "${tls[@]}"
live_pid=${pids[-1]}
wait_for "shuttle-live" "$work/live.log" "$live_pid" 20 \
  "see the log; $again" log_has "$work/live.log" "loaded the timetable"
onboard_pids=()
for i in 1 2 3 4 5 6; do
  cat > "$work/onboard-$i.conf" <<CONF
vehicle_id bus-$i
gpsd_port ${gpsd_ports[$((i - 1))]}
mqtt_port $mqport
mqtt_cafile $pki/ca.crt
mqtt_certfile $pki/clients/bus-$i.crt
mqtt_keyfile $pki/clients/bus-$i.key
spool_dir $work/spool-$i
counter_input udp
counter_device 127.0.0.1:${counter_ports[$((i - 1))]}
CONF
  spawn "$work/onboard-$i.log" "$bin/shuttle-onboard" -d -f "$work/onboard-$i.conf"
  onboard_pids+=("${pids[-1]}")
done
for i in 1 2 3 4 5 6; do
  wait_for "shuttle-onboard bus-$i" "$work/onboard-$i.log" \
    "${onboard_pids[$((i - 1))]}" 10 "see the log; $again" \
    log_has "$work/onboard-$i.log" "connected to broker"
done
# still_up: everything started still running, or fail with the log of one
# that is not.
still_up() {
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null ||
      fail "$(basename "${logs[$i]}" .log) exited" "${logs[$i]}" \
        "see the log (a crash of shuttle-* is a bug: please report it with the log); run the demo again"
  done
}
still_up

join() { local IFS=,; echo "$*"; }
simargs=(--database "$db" --date "$date" --seed "$seed" --speed "$speed"
  --gpsd-ports "$(join "${udp_ports[@]}")"
  --counter-ports "$(join "${counter_ports[@]}")"
  --truth "$work/truth.csv")
[ -n "$start" ] && simargs+=(--start "$start")
[ -n "$end" ] && simargs+=(--end "$end")
say "simulating $date (seed $seed) at ${speed}x (log: $work/sim.log)"
if ! "$bin/shuttle-sim" "${simargs[@]}" 2>&1 | tee "$work/sim.log"; then
  fail "shuttle-sim" "$work/sim.log" \
    "check the options (--date, --start, --end, --speed; see --help) and run the demo again"
fi
still_up

# Every bus's last record acknowledged: the database holds the whole day.
say "waiting for the buses' spools to drain"
behind=""
for _ in $(seq 600); do
  behind=$(psql -qAt -h "$svc/pg" -p "$pgport" -U postgres shuttle -c "
    SELECT count(*) FROM vehicle_progress vp
    WHERE vp.acked_seq < (SELECT max(seq) FROM (
      SELECT seq FROM positions p WHERE p.vehicle_id = vp.vehicle_id
      UNION ALL
      SELECT seq FROM passenger_counts c WHERE c.vehicle_id = vp.vehicle_id) s)" \
    2>>"$work/psql.log") || behind="?"
  [ "$behind" = 0 ] && break
  still_up
  sleep 0.2
done
[ "$behind" = 0 ] ||
  fail "the buses' spools did not drain in 2 minutes ($behind buses behind)" \
    "$work/backend.log" \
    "see the backend's log above and $work/onboard-*.log; run with --keep to look around"
sleep 1
# shuttle-live keeps today's derived tables current; the simulated day
# is yesterday's, so build it now, once every bus has drained.
"$bin/shuttle-backend" -o "database=$db" --rebuild "$date" \
  >"$work/rebuild.log" 2>&1 ||
  fail "rebuilding the runs of $date" "$work/rebuild.log" \
    "see the log; run the demo again (with --keep to look around)"

psql -q -h "$svc/pg" -p "$pgport" -U postgres shuttle 2>>"$work/psql.log" <<SQL ||
\echo
\echo 'Stored per bus'
SELECT v.vehicle_id AS bus,
       (SELECT count(*) FROM positions p WHERE p.vehicle_id = v.vehicle_id) AS positions,
       (SELECT count(*) FROM passenger_counts c WHERE c.vehicle_id = v.vehicle_id) AS door_events,
       (SELECT coalesce(sum(boarded), 0) FROM passenger_counts c WHERE c.vehicle_id = v.vehicle_id) AS boarded,
       v.acked_seq - (SELECT min(seq) FROM positions p WHERE p.vehicle_id = v.vehicle_id) + 1 AS seq_span,
       (SELECT count(*) FROM dead_letters d WHERE d.vehicle_id = v.vehicle_id) AS dead_letters
FROM vehicle_progress v ORDER BY 1;
SQL
  fail "reading what was stored" "$work/psql.log" \
    "see $work/postgres.log; run the demo again (with --keep to look around)"
if [ -x "$bin/shuttle-report" ]; then
  "$bin/shuttle-report" -o "database=$(login_db demo_report)" daily --date "$date" \
    2>"$work/report.log" &&
  "$bin/shuttle-report" -o "database=$(login_db demo_report)" daily --date "$date" --format html \
    > "$work/report-$date.html" 2>>"$work/report.log" ||
    fail "shuttle-report" "$work/report.log" \
      "see the log; run the demo again (with --keep to look around)"
  say "HTML report: $work/report-$date.html"
fi
say "logs and spools in $work"
say "the backend's metrics: http://127.0.0.1:$httpport/metrics"
say "shuttle-live's: http://127.0.0.1:$liveport/metrics (log: $work/live.log)"
# What shuttle-live publishes. Its clock is the real one: the page and the
# feeds show today's service (timetable only, unless buses are out now);
# the simulated day is $date, whose report it serves.
live_urls() {
  say "published by shuttle-live (today's service; the simulated day was $date):"
  say "  workers' page:  http://127.0.0.1:$liveport/?stop=GA01 (English: &lang=en)"
  say "  GTFS-Realtime:  http://127.0.0.1:$liveport/gtfs-rt (?format=text to read it),"
  say "                  /gtfs-rt/trip-updates, /gtfs-rt/vehicle-positions, /gtfs-rt/alerts"
  say "  static feed:    http://127.0.0.1:$liveport/gtfs/static.zip"
  say "  JSON API:       http://127.0.0.1:$liveport/api/v1/stops, .../api/v1/stops/GA01/arrivals"
  say "  daily report:   http://127.0.0.1:$liveport/report/daily?date=$date"
  say "  fleet:          http://127.0.0.1:$liveport/fleet"
}
if [ "$keep" = 0 ]; then
  say "run with --keep to open the workers' page, the feeds and the reports in a browser"
fi
