#!/usr/bin/env bash
# The whole test suite: install what is missing, build with warnings as
# errors, run unit and integration tests (real mosquitto, PostgreSQL and
# gpsd, started by the tests), then the unit tests and the tests that feed
# the backend garbage again under ASan/UBSan, then a short fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The HTML report test renders in headless Chromium; test_gtfsrt_node
# needs node and npm.
SHUTTLE_WITH_BROWSER=1 SHUTTLE_WITH_LINT=1 SHUTTLE_WITH_NODE=1 SHUTTLE_WITH_BENCH=1 SHUTTLE_WITH_FUZZ=1 scripts/setup.sh
jobs=$(nproc)

# Lint first: cppcheck and the formatting check take seconds.
scripts/lint.sh

cmake -S . -B build/test -DSHUTTLE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/test -j"$jobs"
# Two tests at a time: most wait on daemons and simulated clocks; the few
# that load the machine are RUN_SERIAL (tests/integration/CMakeLists.txt).
(cd build/test && ctest -j2 --output-on-failure 2>&1)

cmake -S . -B build/sanitize -DSHUTTLE_WERROR=ON -DSHUTTLE_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
# Only what runs under the sanitizers (and the daemons those tests start):
# the benchmarks and the simulator's tools need no second build.
# (check_docs is a script over the daemons, not a target of its own)
mapfile -t san_tests < <(cd build/sanitize && ctest -N -L unit |
  sed -n 's/^ *Test *#[0-9]*: //p' | grep -vx check_docs)
cmake --build build/sanitize -j"$jobs" --target "${san_tests[@]}" \
  test_dead_letters test_http test_backend_kill test_poison test_forged_ack \
  shuttle-backend shuttle-onboard shuttle-live shuttle-report shuttle-sim
(cd build/sanitize &&
  ctest -j2 -L unit --output-on-failure 2>&1 &&
  ctest -j2 -R '^(test_dead_letters|test_http|test_backend_kill|test_poison|test_forged_ack)$' \
    --output-on-failure 2>&1)

# The fuzz targets (tests/fuzz, clang's libFuzzer): every regression
# input replayed, then 3 s of fuzzing each (about 20 s; the build of
# build/fuzz about a minute).
scripts/fuzz.sh short 3

# The demo from a checkout other users cannot enter (as under root's home),
# --keep/--stop, and a failing step's message (about three minutes), on
# the binaries just built and tested (a user's demo builds build/release
# itself).
SHUTTLE_DEMO_BIN=$PWD/build/test/bin scripts/demo-test.sh
