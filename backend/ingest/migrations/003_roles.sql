-- 003: database roles. Group roles without LOGIN; an operator grants them
-- to login users, e.g.
--   CREATE ROLE ingest1 LOGIN PASSWORD '...' IN ROLE shuttle_ingest;
--   CREATE ROLE grafana LOGIN PASSWORD '...' IN ROLE shuttle_read;
-- Roles belong to the whole cluster, so they may exist already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shuttle_ingest') THEN
        CREATE ROLE shuttle_ingest NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shuttle_read') THEN
        CREATE ROLE shuttle_read NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO shuttle_ingest, shuttle_read;

-- Ingest appends raw rows and nothing else: no UPDATE or DELETE of raw
-- data, and of positions it may read only the key (for the watermark).
GRANT INSERT ON positions, passenger_counts, dead_letters TO shuttle_ingest;
-- ON CONFLICT (key) DO NOTHING reads the key columns.
GRANT SELECT (vehicle_id, seq, service_day) ON positions, passenger_counts
    TO shuttle_ingest;
GRANT USAGE ON SEQUENCE dead_letters_id_seq TO shuttle_ingest;
GRANT SELECT, INSERT, UPDATE ON vehicle_progress, vehicle_status
    TO shuttle_ingest;
GRANT SELECT, INSERT, DELETE ON pending_seqs TO shuttle_ingest;
REVOKE EXECUTE ON FUNCTION shuttle_ensure_partition(date),
    shuttle_drop_positions_before(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION shuttle_ensure_partition(date),
    shuttle_drop_positions_before(date) TO shuttle_ingest;

-- Reports and feeds read everything, now and in later migrations.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO shuttle_read;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES
    TO shuttle_read;
