#!/bin/sh
# Every option a program declares is in its manual page, and the example
# configurations in deploy/ pass the program's own check (-n).
# usage: check_docs.sh ONBOARD BACKEND REPORT SOURCE_DIR LIVE
set -u
onboard=$1 backend=$2 report=$3 src=$4 live=$5
fail=0
check() { # check PROGRAM MANPAGE
  for opt in $("$1" --example-config | sed -n 's/^#\([a-z_][a-z_0-9]*\) .*/\1/p'); do
    if ! grep -q "^\.B $opt\$" "$2"; then
      echo "FAIL: option $opt of $(basename "$1") is missing from $2"
      fail=1
    fi
  done
}
check "$onboard" "$src/deploy/man/onboard.conf.5"
check "$backend" "$src/deploy/man/shuttle-backend.8"
check "$report" "$src/deploy/man/shuttle-report.1"
check "$live" "$src/deploy/man/shuttle-live.8"
"$onboard" -n -f "$src/deploy/onboard.conf" || fail=1
"$backend" -n -f "$src/deploy/backend.conf" || fail=1
"$live" -n -f "$src/deploy/live.conf" || fail=1
"$report" -n -f "$src/deploy/report.conf" || fail=1
if [ $fail = 0 ]; then echo "docs: every option documented, example configs valid"; fi
exit $fail
