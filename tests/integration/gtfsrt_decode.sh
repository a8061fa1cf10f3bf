#!/usr/bin/env bash
# gtfsrt_decode: every feed fetched during a test (DIR/*.pb, in fetch
# order) decoded by two real clients: npm's gtfs-realtime-bindings (verify
# clean, version 2.0, FULL_DATASET, unique entity ids, header timestamps
# that never go back) and protoc --decode against PROTO_DIR's
# gtfs-realtime.proto. Exits 77 (skipped) without node, protoc or files.
# Usage: gtfsrt_decode.sh DIR NPM_WORK PROTO_DIR
set -euo pipefail
dir=$1 work=$2 protodir=$3
. "$(dirname "$0")/gtfsrt_npm.sh"
gtfsrt_npm_install "$work"
if ! command -v protoc >/dev/null 2>&1; then
  echo "SKIP: protoc is not installed (Debian: apt-get install protobuf-compiler)"
  exit 77
fi
shopt -s nullglob
files=("$dir"/*.pb)
if [ ${#files[@]} -eq 0 ]; then
  echo "SKIP: no feeds in $dir"
  exit 77
fi
for f in "${files[@]}"; do
  if ! protoc -I "$protodir" --decode transit_realtime.FeedMessage \
       gtfs-realtime.proto <"$f" >"$f.txt" 2>"$f.err"; then
    echo "FAIL: protoc --decode refused $f:"
    cat "$f.err"
    exit 1
  fi
done
NODE_PATH="$work/node_modules" node - "${files[@]}" <<'JS'
const fs = require("fs");
const rt = require("gtfs-realtime-bindings").transit_realtime;
const num = (x) => (typeof x === "number" ? x : x.toNumber());
let last = 0, entities = 0, kinds = {trip: 0, vehicle: 0, alert: 0};
for (const f of process.argv.slice(2)) {
  const m = rt.FeedMessage.decode(fs.readFileSync(f));
  const why = rt.FeedMessage.verify(m);
  const fail = (msg) => { console.error(`FAIL ${f}: ${msg}`); process.exit(1); };
  if (why !== null) fail(`verify: ${why}`);
  if (m.header.gtfsRealtimeVersion !== "2.0") fail("version");
  if (m.header.incrementality !== rt.FeedHeader.Incrementality.FULL_DATASET)
    fail("not FULL_DATASET");
  const ts = num(m.header.timestamp);
  if (ts < last) fail(`header timestamp went back: ${ts} < ${last}`);
  last = ts;
  const ids = new Set();
  for (const e of m.entity) {
    if (ids.has(e.id)) fail(`entity id ${e.id} twice`);
    ids.add(e.id);
    if (e.tripUpdate) kinds.trip++;
    if (e.vehicle) kinds.vehicle++;
    if (e.alert) kinds.alert++;
  }
  entities += m.entity.length;
}
console.log(`gtfs-realtime-bindings and protoc decoded ${process.argv.length - 2}` +
            ` feeds: ${entities} entities (${kinds.trip} trip updates, ` +
            `${kinds.vehicle} vehicle positions, ${kinds.alert} alerts)`);
JS
