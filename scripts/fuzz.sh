#!/usr/bin/env bash
# fuzz: build the libFuzzer targets (tests/fuzz) with clang into build/fuzz
# and run them.
#   scripts/fuzz.sh short [SECONDS]  replay tests/fuzz/regressions, then
#                                    fuzz each target SECONDS (10) from its
#                                    corpus; new inputs go to a temp dir
#   scripts/fuzz.sh long HOURS       each target HOURS in turn, new inputs
#                                    kept in build/fuzz/corpus/<target>;
#                                    prints exec/s, cov and ft per target
#   scripts/fuzz.sh build            build only
# A crash leaves its input as build/fuzz/crash-<target>-*; once fixed, copy
# it to tests/fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
targets=(wire apc conf gtfs http gtfsrt)
mode=${1:-short}
bin=build/fuzz/bin

build() {
  cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DSHUTTLE_FUZZ=ON \
    -DSHUTTLE_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/fuzz -j"$(nproc)" \
    --target "${targets[@]/#/fuzz_}" >/dev/null
}

# The last "#N ... cov: C ft: F ... exec/s: E" status line of LOG.
stats() {
  grep -E '^#[0-9]+.*cov: ' "$1" | tail -1 |
    sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+).* exec\/s: ([0-9]+).*/cov: \1 ft: \2 exec\/s: \3/'
}

# Run target $1 for $2 seconds over corpus dirs $3 (written) and $4 (read).
run() {
  local t=$1 secs=$2 out=$3 seed=$4 log=$5
  # stdin from /dev/null: a fuzzed config may name /dev/stdin as a secret.
  "$bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build/fuzz/crash-$t-" \
    "$out" "$seed" </dev/null >"$log" 2>&1
}

build
case $mode in
build) ;;
short)
  secs=${2:-10}
  tmp=$(mktemp -d /tmp/shuttle-fuzz-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  for t in "${targets[@]}"; do
    reg=tests/fuzz/regressions/$t
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
      # Every input that once crashed must now run clean.
      "$bin/fuzz_$t" -runs=0 "$reg"/* </dev/null >"$tmp/$t-reg.log" 2>&1 || {
        echo "fuzz_$t: a regression input fails again:" >&2
        tail -30 "$tmp/$t-reg.log" >&2
        exit 1
      }
    fi
    mkdir -p "$tmp/$t"
    if ! run "$t" "$secs" "$tmp/$t" "tests/fuzz/corpus/$t" "$tmp/$t.log"; then
      echo "fuzz_$t: failed (input kept as build/fuzz/crash-$t-*):" >&2
      tail -40 "$tmp/$t.log" >&2
      exit 1
    fi
    echo "fuzz_$t: $(stats "$tmp/$t.log") (${secs}s)"
  done
  ;;
long)
  hours=${2:?usage: scripts/fuzz.sh long HOURS}
  secs=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
  for t in "${targets[@]}"; do
    mkdir -p "build/fuzz/corpus/$t"
    log=build/fuzz/$t-long.log
    rc=0
    run "$t" "$secs" "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t" "$log" || rc=$?
    echo "fuzz_$t: $(stats "$log") (${secs}s, corpus $(ls "build/fuzz/corpus/$t" | wc -l) inputs)"
    [ "$rc" -eq 0 ] || { echo "fuzz_$t: crashed, see $root/$log" >&2; exit 1; }
  done
  ;;
*)
  echo "usage: scripts/fuzz.sh short [SECONDS] | long HOURS | build" >&2
  exit 2
  ;;
esac
