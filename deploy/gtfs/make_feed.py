#!/usr/bin/env python3
# Generates the illustrative GTFS feed in this folder (deploy/gtfs/*.txt).
#
# The district's plan names no stops, so the stops, roads and timetable here
# are invented to be plausible: hubs on Incheon Line 2 south and east of the
# Geomdan General Industrial Complex, stops inside the complex, and a
# timetable of 26 commute-in + 26 commute-out runs that 6 buses can actually
# drive. Kept beside the feed so the feed can be re-made after an edit;
# an operator with a real feed does not need it (see README.md).
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Scheduling rules. Why these numbers: a layover of at least 5 minutes at a
# terminal is the project's rule for drivability; the empty run back
# (deadhead) goes over the same roads as the opposite direction without
# stopping, so it is a bit faster than the scheduled running speed.
RUN_KMH = 22.0        # scheduled average, stops included
DEADHEAD_KMH = 28.0
STOP_S = 20           # scheduled dwell budget per intermediate stop
LAYOVER_MIN = 5
TRIPS_PER_ROUTE = 13  # x 2 routes = 26 each way, as the seed says
BUSES_PER_ROUTE = 3   # x 2 routes = 6 buses

# id, Korean name, English name, lat, lon. Coordinates are approximate
# (from general knowledge of the area, not surveyed): good enough for a
# simulator and a map, not for a timetable printed at a real stop.
STOPS = [
    ("GA01", "검암역", "Geomam Station (AREX, Incheon Line 2)", 37.56930, 126.67380),
    ("GA02", "독정역", "Dokjeong Station (Incheon Line 2)", 37.58530, 126.67500),
    ("GA03", "완정역", "Wanjeong Station (Incheon Line 2)", 37.59310, 126.67330),
    ("NT01", "검단신도시 중심상업지구", "Geomdan New Town centre", 37.60480, 126.66950),
    ("NT02", "마전역", "Majeon Station (Incheon Line 2)", 37.59760, 126.66720),
    ("NT03", "검단사거리역", "Geomdan Sageori Station (Incheon Line 2)", 37.60180, 126.65670),
    ("NT04", "왕길역", "Wanggil Station (Incheon Line 2)", 37.59530, 126.64220),
    ("NT05", "검단오류역", "Geomdan Oryu Station (Incheon Line 2)", 37.59460, 126.62780),
    ("GD01", "검단산단 동문", "Geomdan Industrial Complex, east gate", 37.59050, 126.65050),
    ("GD02", "검단산단 관리사무소", "Geomdan Industrial Complex, management office", 37.58900, 126.64400),
    ("GD03", "검단산단 중앙", "Geomdan Industrial Complex, centre", 37.58780, 126.63750),
    ("GD04", "검단산단 서문", "Geomdan Industrial Complex, west gate", 37.58950, 126.63150),
    ("GD05", "검단산단 남측", "Geomdan Industrial Complex, south", 37.58500, 126.64250),
]

# Commute-in path (direction 0) of each route as a list of stop ids and
# (lat, lon) corners where the road turns; commute-out (direction 1) runs it
# backwards. The roads of the new town and the complex are a grid, so the
# corners are mostly right angles.
ROUTES = [
    {
        "id": "R1", "short": "1", "long_ko": "검암역 - 검단산단",
        "long_en": "Geomam Station - Geomdan Industrial Complex",
        "color": "1E88E5",
        "path": ["GA01", (37.57700, 126.67470), "GA02", (37.59000, 126.67450),
                 "GA03", (37.59340, 126.66600), (37.59300, 126.65080),
                 "GD01", (37.58920, 126.64900), "GD02", (37.58800, 126.64000),
                 "GD03", (37.58800, 126.63200), "GD04"],
        "first_in": 6 * 60, "first_out": 17 * 60,
    },
    {
        "id": "R2", "short": "2", "long_ko": "검단신도시 - 검단산단",
        "long_en": "Geomdan New Town - Geomdan Industrial Complex",
        "color": "43A047",
        "path": ["NT01", (37.60000, 126.66900), "NT02", (37.59950, 126.66300),
                 (37.60150, 126.65900), "NT03", (37.59900, 126.64900),
                 "NT04", (37.59480, 126.63500), "NT05", (37.59050, 126.62900),
                 "GD04", (37.58780, 126.63400), "GD03", (37.58600, 126.63800),
                 (37.58520, 126.64000), "GD05", (37.58600, 126.64600),
                 (37.58980, 126.64750), "GD01"],
        "first_in": 5 * 60 + 50, "first_out": 17 * 60,
    },
]


def dist_m(a, b):
    # Equirectangular: exact enough over a few hundred metres.
    lat = math.radians((a[0] + b[0]) / 2)
    dy = math.radians(b[0] - a[0]) * 6371008.8
    dx = math.radians(b[1] - a[1]) * 6371008.8 * math.cos(lat)
    return math.hypot(dx, dy)


def hms(minutes_or_s, seconds=False):
    s = int(round(minutes_or_s if seconds else minutes_or_s * 60))
    return "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def build_shape(path, stops):
    """Points every <= 150 m along the path; returns (points, stop_dists)
    where points are (lat, lon, dist) and stop_dists the distance of each
    stop along the shape, in path order."""
    corners = [stops[p][:2] if isinstance(p, str) else p for p in path]
    pts, stop_d, d = [(corners[0][0], corners[0][1], 0.0)], [], 0.0
    for i in range(1, len(corners)):
        a, b = corners[i - 1], corners[i]
        leg = dist_m(a, b)
        n = max(1, math.ceil(leg / 150.0))
        for k in range(1, n + 1):
            f = k / n
            pts.append((a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f,
                        d + leg * f))
        d += leg
    d = 0.0
    for i, p in enumerate(path):
        if i:
            d += dist_m(corners[i - 1], corners[i])
        if isinstance(p, str):
            stop_d.append(d)
    return pts, stop_d


def main():
    stops = {s[0]: (s[3], s[4], s[1], s[2]) for s in STOPS}
    out = {}
    out["agency.txt"] = [
        "agency_id,agency_name,agency_url,agency_timezone,agency_lang,agency_phone",
        "SEOGU,인천광역시 서구 검단산단 무료통근버스,https://www.seo.incheon.kr,"
        "Asia/Seoul,ko,032-560-4114",
    ]
    out["stops.txt"] = ["stop_id,stop_code,stop_name,stop_desc,stop_lat,stop_lon"]
    for sid, ko, en, lat, lon in STOPS:
        out["stops.txt"].append('%s,%s,%s,"%s",%.6f,%.6f' %
                                (sid, sid, ko, en, lat, lon))
    out["routes.txt"] = [
        "route_id,agency_id,route_short_name,route_long_name,route_desc,"
        "route_type,route_color,route_text_color"]
    out["shapes.txt"] = ["shape_id,shape_pt_lat,shape_pt_lon,"
                         "shape_pt_sequence,shape_dist_traveled"]
    out["trips.txt"] = ["route_id,service_id,trip_id,trip_headsign,"
                        "direction_id,block_id,shape_id"]
    out["stop_times.txt"] = ["trip_id,arrival_time,departure_time,stop_id,"
                             "stop_sequence,shape_dist_traveled,timepoint"]
    out["translations.txt"] = ["table_name,field_name,language,translation,"
                               "record_id"]
    out["translations.txt"].append(
        "agency,agency_name,en,Seo-gu Geomdan Industrial Complex free "
        "commuter bus,SEOGU")
    for sid, ko, en, lat, lon in STOPS:
        out["translations.txt"].append('stops,stop_name,en,"%s",%s' % (en, sid))

    blocks = {}  # block id -> [(start_min, end_min, start_stop, end_stop)]
    bus = 0
    for r in ROUTES:
        out["routes.txt"].append(
            '%s,SEOGU,%s,%s,"Free commuter bus: %s",3,%s,FFFFFF' %
            (r["id"], r["short"], r["long_ko"], r["long_en"], r["color"]))
        out["translations.txt"].append(
            'routes,route_long_name,en,"%s",%s' % (r["long_en"], r["id"]))
        pts, sd = build_shape(r["path"], stops)
        seq_in = [p for p in r["path"] if isinstance(p, str)]
        length = pts[-1][2]
        shapes = {
            0: ("%s-IN" % r["id"], pts, seq_in, sd),
            1: ("%s-OUT" % r["id"],
                [(la, lo, length - d) for la, lo, d in reversed(pts)],
                list(reversed(seq_in)), [length - d for d in reversed(sd)]),
        }
        for sid_, spts, _, _ in shapes.values():
            for i, (la, lo, d) in enumerate(spts):
                out["shapes.txt"].append("%s,%.6f,%.6f,%d,%.1f" %
                                         (sid_, la, lo, i + 1, d))
        # Scheduled offsets (minutes from the first stop) of each stop.
        offs = []
        for i, d in enumerate(sd):
            t = d / (RUN_KMH / 3.6) + STOP_S * i
            offs.append(round(t / 60.0))
        run = offs[-1]
        deadhead = math.ceil(length / (DEADHEAD_KMH / 3.6) / 60.0)
        cycle = run + LAYOVER_MIN + deadhead + 2
        cycle = int(math.ceil(cycle / float(BUSES_PER_ROUTE))) * BUSES_PER_ROUTE
        headway = cycle // BUSES_PER_ROUTE
        print("%s: %.0f m, run %d min, deadhead %d min, cycle %d min, "
              "headway %d min" % (r["id"], length, run, deadhead, cycle, headway))
        for direction, first, word in ((0, r["first_in"], "IN"),
                                       (1, r["first_out"], "OUT")):
            shape_id, _, seq, dists = shapes[direction]
            offs_dir = offs if direction == 0 else [run - o for o in reversed(offs)]
            headsign = "검단산단" if direction == 0 else \
                stops[seq[-1]][2]
            for k in range(TRIPS_PER_ROUTE):
                dep = first + k * headway
                block = "BLK%d" % (bus + k % BUSES_PER_ROUTE + 1)
                trip_id = "%s-%s-%s" % (r["id"], word, hms(dep)[:5].replace(":", ""))
                out["trips.txt"].append("%s,DAILY,%s,%s,%d,%s,%s" % (
                    r["id"], trip_id, headsign, direction, block, shape_id))
                for i, sid in enumerate(seq):
                    t = hms(dep + offs_dir[i])
                    tp = 1 if i in (0, len(seq) - 1) else 0
                    out["stop_times.txt"].append("%s,%s,%s,%s,%d,%.1f,%d" % (
                        trip_id, t, t, sid, i + 1, dists[i], tp))
                blocks.setdefault(block, []).append(
                    (dep, dep + run, seq[0], seq[-1], deadhead))
        bus += BUSES_PER_ROUTE

    # Check that every block can be driven: a bus ends a run, lays over at
    # least LAYOVER_MIN, and, when the next run starts elsewhere, drives
    # there empty before it.
    for b, trips in sorted(blocks.items()):
        trips.sort()
        for prev, nxt in zip(trips, trips[1:]):
            need = LAYOVER_MIN + (prev[4] if prev[3] != nxt[2] else 0)
            assert nxt[0] - prev[1] >= need, (b, prev, nxt)
        print("%s: %d trips, %s-%s" % (b, len(trips), hms(trips[0][0]),
                                       hms(trips[-1][1])))
    assert len(blocks) == 6

    out["calendar.txt"] = [
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        "start_date,end_date",
        "DAILY,1,1,1,1,1,1,1,20250101,20301231"]
    out["feed_info.txt"] = [
        "feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,"
        "feed_end_date,feed_version",
        "shuttle project (illustrative feed),"
        "https://www.seo.incheon.kr,ko,20250101,20301231,illustrative-2025.1"]
    for name, lines in out.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8",
                  newline="") as f:
            f.write("\r\n".join(lines) + "\r\n")


if __name__ == "__main__":
    main()
