-- 002: the GTFS static timetable (routes, stops, shapes, trips, stop times,
-- calendar), loaded by `shuttle-backend --load-gtfs DIR` with COPY.
-- Column names are GTFS's own, so a feed's header line is the COPY column
-- list. Times stay text as in GTFS ("25:10:00" is legal: after midnight of
-- the service day) with a generated seconds-since-midnight column for SQL.
-- The loader replaces the whole feed in one transaction; the foreign keys
-- are deferred so the order of the files does not matter.

-- "H:MM:SS" or "HH:MM:SS" (hours may pass 24) to seconds after midnight of
-- the service day (noon minus 12 h in the feed's agency_timezone: local
-- midnight except on days the clocks change; see 006).
CREATE FUNCTION gtfs_time_secs(t text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT split_part(btrim(t), ':', 1)::integer * 3600
         + split_part(btrim(t), ':', 2)::integer * 60
         + split_part(btrim(t), ':', 3)::integer
$$;

CREATE TABLE gtfs_agency (
    agency_id       text,
    agency_name     text NOT NULL,
    agency_url      text NOT NULL,
    agency_timezone text NOT NULL,
    agency_lang     text,
    agency_phone    text,
    agency_fare_url text,
    agency_email    text
);
-- agency_id may be empty in a one-agency feed, so it cannot be a primary key.
CREATE UNIQUE INDEX gtfs_agency_id ON gtfs_agency (agency_id);

CREATE TABLE gtfs_stops (
    stop_id             text PRIMARY KEY,
    stop_code           text,
    stop_name           text,
    tts_stop_name       text,
    stop_desc           text,
    stop_lat            double precision CHECK (stop_lat BETWEEN -90 AND 90),
    stop_lon            double precision CHECK (stop_lon BETWEEN -180 AND 180),
    zone_id             text,
    stop_url            text,
    location_type       smallint,
    parent_station      text,
    stop_timezone       text,
    wheelchair_boarding smallint,
    level_id            text,
    platform_code       text
);

CREATE TABLE gtfs_routes (
    route_id            text PRIMARY KEY,
    agency_id           text,
    route_short_name    text,
    route_long_name     text,
    route_desc          text,
    route_type          integer NOT NULL,
    route_url           text,
    route_color         text,
    route_text_color    text,
    route_sort_order    integer,
    continuous_pickup   smallint,
    continuous_drop_off smallint,
    network_id          text
);

CREATE TABLE gtfs_shapes (
    shape_id            text NOT NULL,
    shape_pt_lat        double precision NOT NULL,
    shape_pt_lon        double precision NOT NULL,
    shape_pt_sequence   integer NOT NULL,
    shape_dist_traveled double precision,
    PRIMARY KEY (shape_id, shape_pt_sequence)
);

CREATE TABLE gtfs_trips (
    route_id              text NOT NULL REFERENCES gtfs_routes
                          DEFERRABLE INITIALLY DEFERRED,
    service_id            text NOT NULL,
    trip_id               text PRIMARY KEY,
    trip_headsign         text,
    trip_short_name       text,
    direction_id          smallint CHECK (direction_id IN (0, 1)),
    block_id              text,
    shape_id              text,
    wheelchair_accessible smallint,
    bikes_allowed         smallint
);
CREATE INDEX gtfs_trips_block ON gtfs_trips (block_id);

CREATE TABLE gtfs_stop_times (
    trip_id             text NOT NULL REFERENCES gtfs_trips
                        DEFERRABLE INITIALLY DEFERRED,
    arrival_time        text CHECK (arrival_time ~ '^\s*\d{1,3}:\d\d:\d\d\s*$'),
    departure_time      text CHECK (departure_time ~ '^\s*\d{1,3}:\d\d:\d\d\s*$'),
    stop_id             text NOT NULL REFERENCES gtfs_stops
                        DEFERRABLE INITIALLY DEFERRED,
    stop_sequence       integer NOT NULL,
    stop_headsign       text,
    pickup_type         smallint,
    drop_off_type       smallint,
    continuous_pickup   smallint,
    continuous_drop_off smallint,
    shape_dist_traveled double precision,
    timepoint           smallint,
    arrival_secs        integer GENERATED ALWAYS AS
                        (gtfs_time_secs(arrival_time)) STORED,
    departure_secs      integer GENERATED ALWAYS AS
                        (gtfs_time_secs(departure_time)) STORED,
    PRIMARY KEY (trip_id, stop_sequence)
);
CREATE INDEX gtfs_stop_times_stop ON gtfs_stop_times (stop_id, departure_secs);

CREATE TABLE gtfs_calendar (
    service_id text PRIMARY KEY,
    monday     smallint NOT NULL,
    tuesday    smallint NOT NULL,
    wednesday  smallint NOT NULL,
    thursday   smallint NOT NULL,
    friday     smallint NOT NULL,
    saturday   smallint NOT NULL,
    sunday     smallint NOT NULL,
    start_date date NOT NULL,  -- GTFS YYYYMMDD is valid date input
    end_date   date NOT NULL
);

CREATE TABLE gtfs_calendar_dates (
    service_id     text NOT NULL,
    date           date NOT NULL,
    exception_type smallint NOT NULL CHECK (exception_type IN (1, 2)),
    PRIMARY KEY (service_id, date)
);

CREATE TABLE gtfs_feed_info (
    feed_publisher_name text NOT NULL,
    feed_publisher_url  text NOT NULL,
    feed_lang           text NOT NULL,
    default_lang        text,
    feed_start_date     date,
    feed_end_date       date,
    feed_version        text,
    feed_contact_email  text,
    feed_contact_url    text
);

CREATE TABLE gtfs_translations (
    table_name    text NOT NULL,
    field_name    text NOT NULL,
    language      text NOT NULL,
    translation   text NOT NULL,
    record_id     text,
    record_sub_id text,
    field_value   text
);

-- The service ids running on a service day (calendar plus exceptions).
CREATE FUNCTION gtfs_services_on(d date) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT service_id FROM gtfs_calendar
     WHERE d BETWEEN start_date AND end_date
       AND CASE extract(isodow FROM d)
           WHEN 1 THEN monday WHEN 2 THEN tuesday WHEN 3 THEN wednesday
           WHEN 4 THEN thursday WHEN 5 THEN friday WHEN 6 THEN saturday
           ELSE sunday END = 1
       AND service_id NOT IN (SELECT service_id FROM gtfs_calendar_dates
                               WHERE date = d AND exception_type = 2)
    UNION
    SELECT service_id FROM gtfs_calendar_dates
     WHERE date = d AND exception_type = 1
$$;
