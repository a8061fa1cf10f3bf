-- 007: prediction accuracy (shuttle-live's self-audit) and the live
-- daemon's role.
--
-- shuttle-live samples its arrival predictions at fixed horizons (1, 2, 5,
-- 10 and 15 min before the predicted arrival: LIVE_AUDIT_HORIZONS_S in
-- backend/live/live.h) and scores each one when the bus arrives. One row is
-- one struct live_audit_sample: `accurate` (the Transit app ETA-benchmark
-- window of its horizon) and `covered` (arrival inside the 80 % interval)
-- are decided in C, once, so SQL only counts them.
--
-- Kept forever like the derived tables, not partitioned and not dropped
-- with the raw positions: it is the only record of what was predicted (a
-- rebuild cannot recreate it), and it is small: one row per stop, trip and
-- horizon, ~2,000 rows a day for our 6 buses, ~400,000 for 1,000 buses, the
-- size of that fleet's stop_visits, which are kept too. The key leads with
-- service_day, so a day's report reads one range of it and an operator who
-- wants retention deletes old days by that index.
CREATE TABLE eta_samples (
    service_day   date        NOT NULL,  -- the trip's service day
    vehicle_id    text        NOT NULL,
    trip_id       text        NOT NULL,
    route_id      text        NOT NULL,
    stop_id       text        NOT NULL,
    stop_sequence integer     NOT NULL,  -- of the stop in the trip (GTFS)
    horizon_s     integer     NOT NULL,  -- sampled this long before arrival
    made_at       timestamptz NOT NULL,  -- when the prediction was made
    predicted     timestamptz NOT NULL,  -- the arrival it predicted
    lo            timestamptz NOT NULL,  -- its 80 % interval
    hi            timestamptz NOT NULL,
    actual        timestamptz NOT NULL,  -- the arrival that happened
    accurate      boolean     NOT NULL,  -- inside the ETA-benchmark window
    covered       boolean     NOT NULL,  -- lo <= actual <= hi
    -- One sample per stop of a trip and horizon: a sample sent again (the
    -- daemon retries a failed batch, or restarts and scores again) is
    -- stored once, with INSERT ... ON CONFLICT DO NOTHING.
    PRIMARY KEY (service_day, trip_id, stop_sequence, horizon_s)
);

-- Roles (see 003). shuttle_live is the live daemon's writer: it reads
-- everything, rebuilds the derived tables (backend/trips/trips_db.c
-- replaces a day with DELETE ... WHERE service_day and COPY, so DELETE and
-- INSERT; it updates no row and truncates nothing) and appends audit
-- samples. It never writes raw telemetry. Its read-only connection uses
-- shuttle_read, which already reads every table (003's default
-- privileges) and may call shuttle_service_tz() and gtfs_services_on():
-- nothing the live side reads is missing there.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shuttle_live') THEN
        CREATE ROLE shuttle_live NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO shuttle_live;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO shuttle_live;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES
    TO shuttle_live;
GRANT INSERT, DELETE ON stop_visits, trip_outcomes, daily_ridership
    TO shuttle_live;
GRANT INSERT ON eta_samples TO shuttle_live;
-- Explicit, as 004 does: the default privileges of 003 only cover tables
-- created by the role that ran 003.
GRANT SELECT ON eta_samples TO shuttle_read;
