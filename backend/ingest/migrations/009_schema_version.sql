-- 009: every shuttle role may read the schema's version, so a daemon that
-- logs in as a shuttle_ingest member (no CREATE on the schema) can tell a
-- current schema, which it starts on, from one that is behind, which only
-- the owner may migrate (db_migrate in backend/ingest/db.c).
-- schema_migrations exists before 003, so shuttle_read (003) and
-- shuttle_live (007) read it already through SELECT ON ALL TABLES.
GRANT SELECT ON schema_migrations TO shuttle_ingest, shuttle_read, shuttle_live;
