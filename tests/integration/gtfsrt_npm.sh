# gtfsrt_npm.sh: sourced by the tests that decode our GTFS-Realtime bytes
# with npm's gtfs-realtime-bindings 2.2.0 (protobufjs code generated from
# the official gtfs-realtime.proto). gtfsrt_npm_install WORK installs it
# into WORK once; it exits 77 (ctest: skipped), with the reason, when node
# or npm is missing or the package cannot be had.
gtfsrt_npm_install() {
  local work=$1 tool
  for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "SKIP: $tool is not installed (Debian: apt-get install nodejs npm)"
      exit 77
    fi
  done
  mkdir -p "$work"
  if [ ! -f "$work/node_modules/gtfs-realtime-bindings/package.json" ]; then
    if ! (cd "$work" && npm install --no-audit --no-fund --no-save \
          gtfs-realtime-bindings@2.2.0 >npm.log 2>&1); then
      echo "SKIP: npm install gtfs-realtime-bindings@2.2.0 failed:"
      tail -5 "$work/npm.log"
      exit 77
    fi
  fi
}
