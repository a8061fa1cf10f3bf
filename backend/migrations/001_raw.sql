-- 001: raw telemetry, dead letters, per-vehicle acknowledgement state.
-- Raw tables are append-only and keyed by (vehicle_id, seq): a record sent
-- twice (the bus re-sends what was not acknowledged) is stored once.

CREATE TABLE positions (
    vehicle_id  text        NOT NULL,
    seq         bigint      NOT NULL,
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
    PRIMARY KEY (vehicle_id, seq)
);
CREATE INDEX positions_vehicle_t ON positions (vehicle_id, t);

CREATE TABLE passenger_counts (
    vehicle_id  text        NOT NULL,
    seq         bigint      NOT NULL,
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
    PRIMARY KEY (vehicle_id, seq)
);
CREATE INDEX passenger_counts_vehicle_t ON passenger_counts (vehicle_id, t);

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
-- given up by the bus below its oldest_held_seq).
CREATE TABLE vehicle_progress (
    vehicle_id  text        PRIMARY KEY,
    acked_seq   bigint      NOT NULL DEFAULT 0,
    oldest_held bigint      NOT NULL DEFAULT 0,
    last_seen   timestamptz NOT NULL DEFAULT now()
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
