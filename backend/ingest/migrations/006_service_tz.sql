-- 006: the service time zone. A service day is a date in the time zone of
-- the loaded GTFS feed (agency.txt's agency_timezone; GTFS requires every
-- agency of a feed to share it, and the loader checks). Everything that
-- turns a time into a service day or back asks this function, in SQL or,
-- through it, in C, so no zone is written anywhere else. With no feed
-- loaded yet there is no service zone: UTC, until a feed says otherwise.
-- Days already stored keep the zone they were written in.
--
-- SECURITY DEFINER: the ingest role needs the zone but not the feed.
CREATE FUNCTION shuttle_service_tz() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS $$
    SELECT coalesce((SELECT agency_timezone FROM gtfs_agency
                     ORDER BY agency_id LIMIT 1), 'UTC')
$$;
