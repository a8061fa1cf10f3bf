-- 008: the static GTFS feed's files, byte for byte as loaded.
--
-- shuttle-live serves the feed it runs on at /gtfs/static.zip, so a
-- GTFS-Realtime client gets exactly the timetable whose trip_ids, stop_ids
-- and stop_sequences the realtime feed names. The tables of 002 hold the
-- parsed rows, not the files (column order, quoting, vendor columns and
-- line ends are gone), so the loader (backend/trips/gtfs.c) also stores
-- each file it COPYs here, in the same transaction: the bytes and the
-- rows never disagree, and a reader sees one whole feed or the one before.
-- A load replaces every row. A feed is a few MB: bytea, not large objects.
CREATE TABLE gtfs_files (
    name      text        PRIMARY KEY  -- "stops.txt"
              CHECK (name ~ '^[a-z_]+\.txt$'),
    body      bytea       NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);

-- Read by the feeds and reports like the other gtfs tables; explicit, as
-- 004 does: the default privileges of 003 and 007 only cover tables created
-- by the role that ran them.
GRANT SELECT ON gtfs_files TO shuttle_read, shuttle_live;
