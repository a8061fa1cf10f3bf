#!/usr/bin/env bash
# Checks of scripts/demo.sh (about a minute once the demo's build is done):
# it runs from a checkout other users cannot enter (this checkout, reached
# through a link in a 0700 folder, as under root's home), --keep leaves the
# services up and --stop stops them, and a step that fails shows its log's
# tail and what to do, and leaves nothing running. Each run replaces
# ./work/demo; do not run it beside a demo of the same checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

t=$(mktemp -d) # mode 0700: what is under it is closed to other users
fake=$(mktemp -d)
trap 'rm -rf "$t" "$fake"' EXIT
chmod 755 "$fake"
ln -s "$top" "$t/shuttle"
demo=$t/shuttle/scripts/demo.sh
work=$t/shuttle/work/demo
failures=0

bad() { echo "demo-test: FAILED: $*" >&2; failures=$((failures + 1)); }
run() { # run NAME CMD...: output to $t/NAME.out, status to rc
  echo "demo-test: $1" >&2
  local name=$1; shift
  rc=0; "$@" >"$t/$name.out" 2>&1 || rc=$?
}
expect() { # expect NAME TEXT: the run's output has TEXT
  grep -q -- "$2" "$t/$1.out" && return 0
  bad "$1: no '$2' in its output; its end:"
  tail -n 15 "$t/$1.out" | sed 's/^/  | /' >&2
}
svc_of() { # the services' folder a run named
  sed -n 's/.*(their data: \(.*\))$/\1/p' "$t/$1.out" | head -1
}
gone() { # gone NAME: the run's services' folder is removed
  local s
  s=$(svc_of "$1")
  [ -n "$s" ] && [ ! -e "$s" ] || bad "$1: services' folder '$s' left behind"
}

# 1. From the closed checkout, kept, then stopped.
run keep "$demo" --start 06:00 --end 06:05 --keep
[ "$rc" = 0 ] || bad "keep: exit $rc"
expect keep "HTML report:"
expect keep "scripts/demo.sh --stop"
pids=$(cat "$work/pids" 2>/dev/null || true)
[ -n "$pids" ] || bad "keep: no $work/pids"
for p in $pids; do kill -0 "$p" 2>/dev/null || bad "keep: pid $p not running"; done
s=$(svc_of keep)
n=$(psql -qAt -h "$s/pg" -p "$(sed -n 's/.*port=\([0-9]*\) dbname.*/\1/p' "$t/keep.out" | head -1)" \
  -U postgres shuttle -c "SELECT count(*) FROM positions" 2>&1 || true)
[ "${n:-0}" -gt 0 ] 2>/dev/null || bad "keep: kept database answered '$n'"
# What shuttle-live publishes is up while kept: the workers' page, the
# feed and the day's report, by the URLs the demo printed.
get() { # get URL: the status line and body, over bash's /dev/tcp
  local hostport=${1#http://} path
  path=/${hostport#*/}
  hostport=${hostport%%/*}
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" || return 1
  printf 'GET %s HTTP/1.0\r\n\r\n' "$path" >&3
  cat <&3
  exec 3<&-
}
for what in "workers' page" "GTFS-Realtime" "daily report"; do
  url=$(grep -- "$what:" "$t/keep.out" | grep -o 'http://[^ ]*' | head -1)
  if [ -z "$url" ]; then
    bad "keep: no URL of the $what printed"
    continue
  fi
  get "$url" > "$t/get.out" 2>&1 || true
  head -1 "$t/get.out" | grep -q " 200 " ||
    bad "keep: $url answered '$(head -1 "$t/get.out")'"
done
grep -q "1,500\|1500" "$t/get.out" ||
  bad "keep: the daily report page does not show the 1,500 target"
# The kept broker is the shipped shape: an anonymous plain-TCP client is
# refused, and a service's certificate reads the buses' retained statuses.
mq=$(sed -n 's/.*mosquitto_sub -h 127.0.0.1 -p \([0-9]*\) .*/\1/p' "$t/keep.out" | head -1)
if [ -z "$mq" ]; then
  bad "keep: no broker port printed"
else
  ! mosquitto_pub -h 127.0.0.1 -p "$mq" -t shuttle/v1/bus-1/telemetry -m x \
    >"$t/anon.out" 2>&1 || bad "keep: an anonymous plain-TCP publish was taken"
  mosquitto_sub -h 127.0.0.1 -p "$mq" --cafile "$work/pki/ca.crt" \
    --cert "$work/pki/clients/shuttle-live.crt" \
    --key "$work/pki/clients/shuttle-live.key" \
    -t shuttle/v1/bus-1/status -C 1 -W 10 >"$t/status.out" 2>&1 ||
    bad "keep: shuttle-live's certificate read no status of bus-1 ($(tail -n 1 "$t/status.out"))"
fi
run stop "$demo" --stop
[ "$rc" = 0 ] || bad "stop: exit $rc"
sleep 0.5
for p in $pids; do ! kill -0 "$p" 2>/dev/null || bad "stop: pid $p still running"; done
[ ! -e "$s" ] || bad "stop: $s left behind"

# 2. A service that cannot start (mosquitto, as on a port taken).
cat > "$fake/mosquitto" <<'EOF'
#!/bin/sh
echo "Error: Address already in use"
exit 1
EOF
chmod 755 "$fake/mosquitto"
run broker env PATH="$fake:$PATH" "$demo" --start 06:00 --end 06:05
[ "$rc" = 1 ] || bad "broker: exit $rc, not 1"
expect broker "FAILED: mosquitto exited"
expect broker "last lines of $work/mosquitto.log"
expect broker "Address already in use"
expect broker "what to do: "
gone broker

# 3. As root: a TMPDIR that the services' users cannot enter.
if [ "$(id -u)" = 0 ]; then
  mkdir "$t/closed"
  run closed env TMPDIR="$t/closed" "$demo" --start 06:00 --end 06:05
  [ "$rc" = 1 ] || bad "closed: exit $rc, not 1"
  expect closed "FAILED: user postgres cannot reach"
  expect closed "what to do: .*TMPDIR"
  [ -z "$(ls -A "$t/closed")" ] || bad "closed: $t/closed not emptied"
fi

if [ "$failures" -gt 0 ]; then
  echo "demo-test: $failures check(s) failed" >&2
  exit 1
fi
echo "demo-test: all passed" >&2
