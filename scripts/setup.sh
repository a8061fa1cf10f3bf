#!/usr/bin/env bash
# Install what shuttle needs from Debian 12's packages, if it is missing.
# Called by demo.sh and test.sh; safe to run again (installs nothing then).
set -euo pipefail

packages=(
  build-essential cmake pkg-config dpkg-dev
  libmosquitto-dev mosquitto mosquitto-clients openssl libssl-dev
  libgps-dev gpsd
  libpq-dev postgresql postgresql-client
  protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  libmicrohttpd-dev libcmocka-dev libjansson-dev libzip-dev zlib1g-dev
)
if [ "${SHUTTLE_WITH_BROWSER:-0}" = 1 ]; then
  packages+=(chromium fonts-noto-cjk)
fi
# test_gtfsrt_node decodes the GTFS-Realtime feed with npm's
# gtfs-realtime-bindings (it skips itself without node and npm). Asked by
# command, not package: a Node from elsewhere (NodeSource's nodejs carries
# its own npm and conflicts with Debian's) will do.
if [ "${SHUTTLE_WITH_NODE:-0}" = 1 ] &&
   ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
# The feed benchmark (shuttle-bench-feed) loads the HTTP server with wrk
# against nginx serving the same bytes from a file.
if [ "${SHUTTLE_WITH_BENCH:-0}" = 1 ]; then
  packages+=(wrk nginx-light)
fi
# scripts/fuzz.sh (run by test.sh): clang's libFuzzer.
if [ "${SHUTTLE_WITH_FUZZ:-0}" = 1 ]; then
  packages+=(clang)
fi
# scripts/lint.sh (run by test.sh); lintian for scripts/package.sh;
# prometheus for promtool, which test_alert_rules runs on deploy/prometheus
# (policy-rc.d below keeps the package's own Prometheus from starting).
if [ "${SHUTTLE_WITH_LINT:-0}" = 1 ]; then
  packages+=(cppcheck clang-format lintian prometheus)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# policy-rc.d keeps the packages from starting their own system-wide
# mosquitto, gpsd and PostgreSQL: shuttle starts private ones.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
