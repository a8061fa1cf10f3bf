-- deploy/roles.sql: the database logins of a depot, one per program, each
-- in the group role its program needs (README "Database roles"). Run it
-- as a superuser (or a CREATEROLE role) AFTER the first migration, which
-- creates the group roles:
--
--   sudo -u postgres createuser --createrole shuttle_owner
--   sudo -u postgres createdb --owner shuttle_owner shuttle
--   sudo -u shuttle shuttle-backend -o 'database=dbname=shuttle user=shuttle_owner' --migrate
--   sudo -u postgres psql shuttle -v ingest_pw="$(openssl rand -hex 16)" \
--        -v read_pw="$(openssl rand -hex 16)" -v live_pw="$(openssl rand -hex 16)" \
--        -v report_pw="$(openssl rand -hex 16)" -f deploy/roles.sql
--
-- (the passwords are then only in the passfile you write from them: see
-- the end of this file.) The owner (shuttle_owner) migrates and loads the
-- feed; it needs CREATEROLE because migration 003 creates the group roles.
-- It may log in by peer authentication on the local socket (pg_hba:
-- "local shuttle shuttle_owner peer map=shuttle", the OS user shuttle
-- mapped to it), so its password exists nowhere.
\set ON_ERROR_STOP on

-- shuttle-backend's `database`: appends raw rows, never changes one.
CREATE ROLE shuttle_ingest_1 LOGIN PASSWORD :'ingest_pw' IN ROLE shuttle_ingest;
-- shuttle-live's `database`: reads everything, writes nothing.
CREATE ROLE shuttle_live_read LOGIN PASSWORD :'read_pw' IN ROLE shuttle_read;
-- shuttle-live's `writer_database`: the derived tables and eta_samples.
CREATE ROLE shuttle_live_write LOGIN PASSWORD :'live_pw' IN ROLE shuttle_live;
-- shuttle-report (and any dashboard): reads everything, writes nothing.
CREATE ROLE shuttle_report LOGIN PASSWORD :'report_pw' IN ROLE shuttle_read;

-- pg_hba.conf, before any broader line: these logins by password only.
--   hostssl shuttle shuttle_ingest_1,shuttle_live_read,shuttle_live_write,shuttle_report 10.0.0.0/8 scram-sha-256
--   local   shuttle shuttle_ingest_1,shuttle_live_read,shuttle_live_write,shuttle_report            scram-sha-256
-- (password_encryption = scram-sha-256, PostgreSQL 14's default on.)
--
-- The passfile of each daemon's user, mode 0600 (libpq ignores a looser
-- one), one line per login, host:port:database:user:password; host is the
-- server's name, or the socket's folder for a Unix socket:
--   /var/run/postgresql:5432:shuttle:shuttle_ingest_1:PASSWORD
-- Name it in the connection string (passfile=/etc/shuttle/pgpass) or by
-- PGPASSFILE in the unit's environment; ~/.pgpass is the default.
