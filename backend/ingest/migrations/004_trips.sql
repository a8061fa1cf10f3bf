-- 004: derived tables of the trip builder: stop visits, runs matched to the
-- timetable, and each day's ridership. All of it can be rebuilt from the raw
-- tables (shuttle-backend --rebuild DATE) and is written per service day and
-- vehicle in one transaction, so a rebuild replaces a day whole.

-- A bus at (or passing) a stop. Arrival and departure come from the fixes
-- near the stop and, when the doors opened, from the door times.
CREATE TABLE stop_visits (
    service_day   date        NOT NULL,
    vehicle_id    text        NOT NULL,
    stop_id       text        NOT NULL,
    arrival       timestamptz NOT NULL,
    departure     timestamptz NOT NULL,
    stopped       boolean     NOT NULL,  -- false: passed without stopping
    run_start     timestamptz,           -- the run it belongs to, if any
    trip_id       text,                  -- the scheduled trip of that run
    stop_sequence integer,               -- in that trip
    scheduled_arrival timestamptz,
    boarded       integer     NOT NULL DEFAULT 0,
    alighted      integer     NOT NULL DEFAULT 0,
    load_after    integer,
    door_events   integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (service_day, vehicle_id, arrival, stop_id)
);
CREATE INDEX stop_visits_trip ON stop_visits (service_day, trip_id);
CREATE INDEX stop_visits_stop ON stop_visits (service_day, stop_id);

-- What happened to each scheduled trip of the day, and runs that matched no
-- trip (trip_id NULL is impossible here: those are kept in stop_visits
-- only, with run_start set and trip_id NULL).
CREATE TABLE trip_outcomes (
    service_day     date        NOT NULL,
    trip_id         text        NOT NULL,
    route_id        text        NOT NULL,
    direction_id    smallint,
    block_id        text,
    scheduled_start timestamptz NOT NULL,  -- departure from the first stop
    scheduled_end   timestamptz NOT NULL,  -- arrival at the last stop
    status          text        NOT NULL
                    CHECK (status IN ('operated', 'partial', 'missed')),
    vehicle_id      text,
    actual_start    timestamptz,
    actual_end      timestamptz,
    start_delay_s   integer,               -- actual - scheduled departure
    end_delay_s     integer,
    stops_scheduled integer     NOT NULL,
    stops_visited   integer     NOT NULL DEFAULT 0,
    boarded         integer     NOT NULL DEFAULT 0,
    alighted        integer     NOT NULL DEFAULT 0,
    peak_load       integer,
    PRIMARY KEY (service_day, trip_id)
);

-- One row per service day: what the district reports against its target.
-- Boardings are the sum of every door episode of the day, attributed to a
-- stop or not, so a count is never lost to trip matching.
CREATE TABLE daily_ridership (
    service_day    date    PRIMARY KEY,
    boarded        integer NOT NULL,
    alighted       integer NOT NULL,
    runs_scheduled integer NOT NULL,
    runs_operated  integer NOT NULL,
    runs_partial   integer NOT NULL,
    runs_missed    integer NOT NULL,
    runs_late      integer NOT NULL,   -- ran (fully or partly), started > 5 min late
    unattributed_boarded integer NOT NULL, -- door episodes at no known stop
    built_at       timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON stop_visits, trip_outcomes, daily_ridership TO shuttle_read;
