-- 001: raw telemetry, dead letters, per-vehicle acknowledgement state.
-- Raw tables are append-only and keyed by (vehicle_id, seq): a record sent
-- twice (the bus re-sends what was not acknowledged) is stored once. They
-- are partitioned by service day (the date in the feed's zone, see 006), so
-- old days can be dropped whole and a day's queries touch one partition. The key carries
-- service_day because PostgreSQL enforces uniqueness per partition; a
-- record's time never changes between sends, so its day does not either.

CREATE TABLE positions (
    vehicle_id  text        NOT NULL,
    seq         bigint      NOT NULL,
    service_day date        NOT NULL,          -- t's date in the feed's zone
    t           timestamptz NOT NULL,          -- observed (GPS time), UTC
    received_at timestamptz NOT NULL DEFAULT now(),
    backlog     boolean     NOT NULL DEFAULT false,
    time_source smallint    NOT NULL DEFAULT 0, -- 0 gps, 1 carried, 2 system
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    speed       real,                          -- m/s
    track       real,                          -- degrees true
    alt         real,                          -- metres MSL
    hdop        real,
    fix_mode    smallint    NOT NULL,
    sats_used   smallint,
    PRIMARY KEY (vehicle_id, seq, service_day)
) PARTITION BY RANGE (service_day);
-- Trip building reads each vehicle's positions in time order.
CREATE INDEX positions_vehicle_t ON positions (vehicle_id, t);

CREATE TABLE passenger_counts (
    vehicle_id  text        NOT NULL,
    seq         bigint      NOT NULL,
    service_day date        NOT NULL,
    t           timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    backlog     boolean     NOT NULL DEFAULT false,
    time_source smallint    NOT NULL DEFAULT 0,
    door        smallint    NOT NULL,
    boarded     smallint    NOT NULL,
    alighted    smallint    NOT NULL,
    door_open   timestamptz,
    door_close  timestamptz,
    load_after  smallint,
    lat         double precision,
    lon         double precision,
    quality     smallint    NOT NULL DEFAULT 0,
    PRIMARY KEY (vehicle_id, seq, service_day)
) PARTITION BY RANGE (service_day);
CREATE INDEX passenger_counts_vehicle_t ON passenger_counts (vehicle_id, t);

-- Create the partitions of one service day (idempotent; several backends
-- may ask at once). SECURITY DEFINER: the ingest role may insert rows but
-- not create tables.
CREATE FUNCTION shuttle_ensure_partition(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    suffix text := to_char(day, 'YYYYMMDD');
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('shuttle_partition_' || suffix));
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF positions '
                   'FOR VALUES FROM (%L) TO (%L)',
                   'positions_' || suffix, day, day + 1);
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF passenger_counts '
                   'FOR VALUES FROM (%L) TO (%L)',
                   'passenger_counts_' || suffix, day, day + 1);
END $$;

-- Retention of raw positions: drop whole days before `day`. Passenger
-- counts are the ridership figures and are never dropped here.
CREATE FUNCTION shuttle_drop_positions_before(day date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part record;
    n integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'positions'::regclass
          AND c.relname ~ '^positions_[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < day
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- Anything the backend could not accept, with why; never silently dropped.
CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text        NOT NULL,
    vehicle_id  text,                          -- from the topic, if any
    reason      text        NOT NULL,
    payload     bytea       NOT NULL,          -- first bytes only
    payload_len integer     NOT NULL           -- the whole payload's length
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);

-- The acknowledgement watermark: every seq <= acked_seq is committed (or was
-- given up by the bus below its oldest_held).
CREATE TABLE vehicle_progress (
    vehicle_id  text        PRIMARY KEY,
    acked_seq   bigint      NOT NULL DEFAULT 0,
    oldest_held bigint      NOT NULL DEFAULT 0,
    last_seen   timestamptz NOT NULL DEFAULT now()
);

-- Seqs committed above a vehicle's watermark: the watermark walks these
-- instead of every day's partition. Filled from each batch (re-sent rows
-- too), emptied as the watermark passes. Unlogged: after a database crash
-- the buses re-send everything unacknowledged, which fills it again.
CREATE UNLOGGED TABLE pending_seqs (
    vehicle_id  text   NOT NULL,
    seq         bigint NOT NULL,
    PRIMARY KEY (vehicle_id, seq)
);

-- Last status (birth, health, Last Will) of each bus.
CREATE TABLE vehicle_status (
    vehicle_id  text        PRIMARY KEY,
    online      boolean     NOT NULL,
    t           timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    version     text,
    config_hash text,
    spool_records bigint,
    oldest_unacked_age_s bigint,
    gps_mode    smallint,
    counter_state text,
    dropped_positions bigint,
    dropped_counts bigint
);
