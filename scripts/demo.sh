#!/usr/bin/env bash
# The main job on one machine: a private PostgreSQL, mosquitto and one gpsd
# per bus, six shuttle-onboard daemons and shuttle-backend, driven through a
# simulated service day by shuttle-sim; then what was stored, per bus.
# Everything runs in ./work/demo and is stopped on exit; run it as often as
# you like. Options: --speed N (default 300), --date YYYY-MM-DD, --seed N,
# --start HH:MM --end HH:MM (part of a day), --keep (leave the services up).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

speed=300 date="" seed=1 start="" end="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --speed) speed=$2; shift 2 ;;
    --date) date=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --start) start=$2; shift 2 ;;
    --end) end=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# Yesterday in Seoul by default: the report's default day.
[ -n "$date" ] || date=$(TZ=Asia/Seoul date -d yesterday +%F)

scripts/setup.sh
echo "demo: building" >&2
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
bin=$top/build/release/bin

work=$top/work/demo
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # postgres: a fast shutdown through its own signal.
  [ -f "$work/pg/data/postmaster.pid" ] &&
    kill -INT "$(head -1 "$work/pg/data/postmaster.pid")" 2>/dev/null || true
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
if [ "$keep" = 0 ]; then trap stop_all EXIT; fi

# A stale demo (killed hard) may still hold its folder: stop what it left.
if [ -f "$work/pids" ]; then
  while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$work/pids"
fi
if [ -f "$work/pg/data/postmaster.pid" ]; then
  kill -QUIT "$(head -1 "$work/pg/data/postmaster.pid")" 2>/dev/null || true
  sleep 1
fi
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$top/work" "$work"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$((20000 + RANDOM % 20000))
free_port() { # free_port VAR: VAR gets the next free port (no subshell,
  # so the counter moves on)
  while ! port_free "$next_port"; do next_port=$((next_port + 1)); done
  printf -v "$1" '%s' "$next_port"; next_port=$((next_port + 1))
}
spawn() { # spawn LOG CMD...: start in the background, remember the pid
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  pids+=($!); echo $! >> "$work/pids"
}
wait_log() { # wait_log FILE TEXT SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1
  done
  echo "demo: timed out waiting for '$2' in $1:" >&2; tail -5 "$1" >&2; exit 1
}

echo "demo: starting PostgreSQL, mosquitto, 6 gpsd" >&2
pgbin=/usr/lib/postgresql/15/bin
mkdir -p "$work/pg"; chown postgres "$work/pg"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -A trust -E UTF8 \
  --locale=C --no-sync >"$work/initdb.log" 2>&1
free_port pgport
spawn "$work/postgres.log" runuser -u postgres -- "$pgbin/postgres" \
  -D "$work/pg/data" -c listen_addresses= -k "$work/pg" -p "$pgport"
for _ in $(seq 50); do
  "$pgbin/pg_isready" -q -h "$work/pg" -p "$pgport" && break; sleep 0.1
done
psql -q -h "$work/pg" -p "$pgport" -U postgres -c "CREATE DATABASE shuttle"
db="host=$work/pg port=$pgport dbname=shuttle user=postgres"

free_port mqport
free_port httpport
mkdir -p "$work/mosquitto"; chown mosquitto "$work/mosquitto"
cat > "$work/mosquitto.conf" <<CONF
listener $mqport 127.0.0.1
allow_anonymous true
persistence true
persistence_location $work/mosquitto/
max_queued_messages 1000000
CONF
spawn "$work/mosquitto.log" mosquitto -c "$work/mosquitto.conf"

gpsd_ports=() udp_ports=() counter_ports=()
for i in 1 2 3 4 5 6; do
  free_port gp; free_port up; free_port cp
  gpsd_ports+=("$gp"); udp_ports+=("$up"); counter_ports+=("$cp")
  spawn "$work/gpsd-$i.log" gpsd -N -n -b -S "$gp" -F "$work/gpsd-$i.sock" \
    "udp://127.0.0.1:$up"
done

echo "demo: loading the GTFS feed (deploy/gtfs)" >&2
"$bin/shuttle-backend" -o "database=$db" --load-gtfs deploy/gtfs

spawn "$work/backend.log" "$bin/shuttle-backend" -d -o "database=$db" \
  -o "mqtt_port=$mqport" -o "http_port=$httpport"
wait_log "$work/backend.log" "connected to broker" 10
for i in 1 2 3 4 5 6; do
  cat > "$work/onboard-$i.conf" <<CONF
vehicle_id bus-$i
gpsd_port ${gpsd_ports[$((i - 1))]}
mqtt_port $mqport
spool_dir $work/spool-$i
counter_input udp
counter_device 127.0.0.1:${counter_ports[$((i - 1))]}
CONF
  spawn "$work/onboard-$i.log" "$bin/shuttle-onboard" -d -f "$work/onboard-$i.conf"
done
for i in 1 2 3 4 5 6; do wait_log "$work/onboard-$i.log" "connected to broker" 10; done

join() { local IFS=,; echo "$*"; }
simargs=(--database "$db" --date "$date" --seed "$seed" --speed "$speed"
  --gpsd-ports "$(join "${udp_ports[@]}")"
  --counter-ports "$(join "${counter_ports[@]}")"
  --truth "$work/truth.csv")
[ -n "$start" ] && simargs+=(--start "$start")
[ -n "$end" ] && simargs+=(--end "$end")
echo "demo: simulating $date (seed $seed) at ${speed}x" >&2
"$bin/shuttle-sim" "${simargs[@]}"

# Every bus's last record acknowledged: the database holds the whole day.
echo "demo: waiting for the buses' spools to drain" >&2
for _ in $(seq 600); do
  left=$(psql -qAt -h "$work/pg" -p "$pgport" -U postgres shuttle -c "
    SELECT count(*) FROM vehicle_progress vp
    WHERE vp.acked_seq < (SELECT max(seq) FROM (
      SELECT seq FROM positions p WHERE p.vehicle_id = vp.vehicle_id
      UNION ALL
      SELECT seq FROM passenger_counts c WHERE c.vehicle_id = vp.vehicle_id) s)")
  [ "$left" = 0 ] && break
  sleep 0.2
done
sleep 1
# The backend keeps today's derived tables current by itself; the
# simulated day is yesterday's, so build it now.
"$bin/shuttle-backend" -o "database=$db" --rebuild "$date"

psql -q -h "$work/pg" -p "$pgport" -U postgres shuttle <<SQL
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
if [ -x "$bin/shuttle-report" ]; then
  "$bin/shuttle-report" -o "database=$db" daily --date "$date"
  "$bin/shuttle-report" -o "database=$db" daily --date "$date" --format html \
    > "$work/report-$date.html"
  echo "demo: HTML report: $work/report-$date.html" >&2
fi
echo "demo: logs and data in $work" >&2
echo "demo: the backend's metrics were at http://127.0.0.1:$httpport/metrics" >&2
if [ "$keep" = 1 ]; then
  echo "demo: services left running (--keep); database: psql \"$db\"" >&2
fi
