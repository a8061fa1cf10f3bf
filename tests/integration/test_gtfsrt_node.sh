#!/usr/bin/env bash
# test_gtfsrt_node: a real GTFS-Realtime client reads our bytes: npm's
# gtfs-realtime-bindings (gtfsrt_npm.sh installs it into WORK) decodes the
# sample feed test_live_gtfsrt writes. Exits 77 (skipped) without node.
# Usage: test_gtfsrt_node.sh TEST_LIVE_GTFSRT WORK
set -euo pipefail
bin=$1
work=$2

. "$(dirname "$0")/gtfsrt_npm.sh"
gtfsrt_npm_install "$work"
sample=$(mktemp)
trap 'rm -f "$sample"' EXIT
"$bin" --write "$sample"

NODE_PATH="$work/node_modules" node - "$sample" <<'JS'
const fs = require("fs");
const assert = require("assert");
const rt = require("gtfs-realtime-bindings").transit_realtime;

const bytes = fs.readFileSync(process.argv[2]);
const m = rt.FeedMessage.decode(bytes);
assert.strictEqual(rt.FeedMessage.verify(m), null);
const num = (x) => (typeof x === "number" ? x : x.toNumber());
/* 2023-12-09 in Asia/Seoul: 08:01:00, 08:01:05, 08:02:30 */
const fix = 1702076460, now = 1702076465, arrB = 1702076550;

assert.strictEqual(m.header.gtfsRealtimeVersion, "2.0");
assert.strictEqual(m.header.incrementality,
                   rt.FeedHeader.Incrementality.FULL_DATASET);
assert.strictEqual(num(m.header.timestamp), now);
assert.strictEqual(m.header.feedVersion, "2023-12-01");
assert.deepStrictEqual(m.entity.map((e) => e.id),
                       ["trip:OUT", "trip:BACK", "trip:LATE", "vehicle:V1",
                        "alert:cancel:LATE"]);

const tu = m.entity[0].tripUpdate;
assert.strictEqual(tu.trip.tripId, "OUT");
assert.strictEqual(tu.trip.routeId, "R");
assert.strictEqual(tu.trip.directionId, 0);
assert.strictEqual(tu.trip.startTime, "08:00:00");
assert.strictEqual(tu.trip.startDate, "20231209");
assert.strictEqual(tu.vehicle.id, "V1");
assert.strictEqual(num(tu.timestamp), fix);
const u = tu.stopTimeUpdate[0];
assert.strictEqual(u.stopSequence, 2);
assert.strictEqual(u.stopId, "B");
assert.strictEqual(u.scheduleRelationship,
                   rt.TripUpdate.StopTimeUpdate.ScheduleRelationship.SCHEDULED);
assert.strictEqual(num(u.arrival.time), arrB);
assert.strictEqual(u.arrival.delay, 30);
assert.strictEqual(u.arrival.uncertainty, 40);
assert.strictEqual(num(u.departure.time), arrB + 15);

const late = m.entity[2].tripUpdate;
assert.strictEqual(late.trip.scheduleRelationship,
                   rt.TripDescriptor.ScheduleRelationship.CANCELED);
assert.strictEqual(late.stopTimeUpdate.length, 0);

const vp = m.entity[3].vehicle;
assert.ok(Math.abs(vp.position.latitude - 37.5) < 1e-5);
assert.ok(Math.abs(vp.position.longitude - 127.0015) < 1e-4);
assert.strictEqual(vp.position.bearing, 90);
assert.strictEqual(vp.position.speed, 8.25);
assert.strictEqual(vp.currentStopSequence, 2);
assert.strictEqual(vp.stopId, "B");
assert.strictEqual(vp.currentStatus,
                   rt.VehiclePosition.VehicleStopStatus.IN_TRANSIT_TO);
assert.strictEqual(num(vp.timestamp), fix);
assert.strictEqual(vp.occupancyStatus,
                   rt.VehiclePosition.OccupancyStatus.MANY_SEATS_AVAILABLE);
assert.strictEqual(vp.occupancyPercentage, 40);

const al = m.entity[4].alert;
assert.strictEqual(al.effect, rt.Alert.Effect.NO_SERVICE);
assert.strictEqual(al.cause, rt.Alert.Cause.UNKNOWN_CAUSE);
assert.strictEqual(al.informedEntity[0].routeId, "R2");
assert.strictEqual(al.informedEntity[0].trip.tripId, "LATE");
assert.strictEqual(num(al.activePeriod[0].start), now);
/* LATE ends 08:34, and its alert half an hour later */
assert.strictEqual(num(al.activePeriod[0].end), now + 33 * 60 - 5 + 30 * 60);
assert.deepStrictEqual(al.headerText.translation.map((t) => t.language),
                       ["ko", "en"]);
assert.strictEqual(al.headerText.translation[0].text,
                   "R2\uBC88 08:30 C\uD589 \uC6B4\uD589 \uCDE8\uC18C");
assert.strictEqual(al.headerText.translation[1].text,
                   "Route R2 08:30 to C cancelled");
console.log(`gtfs-realtime-bindings decoded ${bytes.length} bytes, ` +
            `${m.entity.length} entities`);
JS
