#!/usr/bin/env bash
# restore.sh: restore a dump of backup.sh into a fresh, empty database
# (README "Backup and restore", RUNBOOK section 6).
#
#   restore.sh FILE [CONNINFO]
#
# CONNINFO (a libpq connection string or URI; by default "dbname=shuttle"
# with libpq's PG* environment variables) names the target: an existing,
# empty database, e.g. made by
#   sudo -u postgres createuser --createrole shuttle_owner
#   sudo -u postgres createdb --owner shuttle_owner shuttle
# Connect as a role that may create roles (CREATEROLE, or a superuser) and
# that is, or is a member of, the owner of the dumped objects.
#
# What it does: refuses a database that has any table, view, sequence or
# function of its own (a restore never merges into data); creates the group
# roles the migrations create (shuttle_ingest, shuttle_read, shuttle_live)
# when the cluster lacks them, since roles are not in a pg_dump; checks
# that every other role the dump names exists; then pg_restore
# --exit-on-error --single-transaction: all of the dump or nothing. The
# login roles (deploy/roles.sql) are the operator's to make again: their
# passwords are not in a dump. PG_BINDIR as for backup.sh.
#
# Exit status 0, 1 on an error (the reason on stderr; the target is left
# as it was), 2 on bad usage.
set -euo pipefail

usage() {
  echo "usage: restore.sh FILE [CONNINFO]" >&2
  exit 2
}
die() {
  echo "restore.sh: $*" >&2
  exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -*) usage ;; esac
dump=$1
conn=${2:-dbname=shuttle}
bin=${PG_BINDIR:+$PG_BINDIR/}

[ -r "$dump" ] || die "$dump: cannot read it"
toc=$("${bin}pg_restore" --list "$dump") ||
  die "$dump is not a readable pg_dump custom-format file"

psql_q() {
  "${bin}psql" -X -q -At -v ON_ERROR_STOP=1 -d "$conn" "$@"
}

# The target must be empty: objects of any schema but the system's.
n=$(psql_q -c "SELECT count(*) FROM pg_class c JOIN pg_namespace s
  ON s.oid = c.relnamespace WHERE s.nspname NOT IN ('pg_catalog',
  'information_schema', 'pg_toast') AND s.nspname NOT LIKE 'pg_temp%'
  AND s.nspname NOT LIKE 'pg_toast_temp%'") ||
  die "cannot query the target '$conn' (see above)"
f=$(psql_q -c "SELECT count(*) FROM pg_proc p JOIN pg_namespace s
  ON s.oid = p.pronamespace WHERE s.nspname = 'public'")
if [ "$n" != 0 ] || [ "$f" != 0 ]; then
  die "the target '$conn' is not empty ($n relations, $f functions):" \
    "restore only into a new database (createdb); nothing changed"
fi

# The group roles of migrations 003 and 007 (roles are per cluster).
psql_q <<'SQL' || die "cannot create the group roles (is the login CREATEROLE?)"
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['shuttle_ingest', 'shuttle_read', 'shuttle_live']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            RAISE NOTICE 'created group role %', r;
        END IF;
    END LOOP;
END $$;
SQL

# Every owner the dump names (the last word of a TOC entry's line) must
# exist, or pg_restore stops half-way into its transaction.
missing=""
for o in $(printf '%s\n' "$toc" | grep -v '^;' | awk 'NF { print $NF }' |
  sort -u); do
  e=$(psql_q -c "SELECT count(*) FROM pg_roles WHERE rolname = '$o'")
  [ "$e" = 1 ] || missing="$missing $o"
done
[ -z "$missing" ] ||
  die "the dump's objects belong to role(s)$missing, which this cluster" \
    "lacks: create them first (createuser --createrole NAME)"

"${bin}pg_restore" --exit-on-error --single-transaction -d "$conn" "$dump" ||
  die "pg_restore failed (see above); the transaction was rolled back"

tables=$(psql_q -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
parts=$(psql_q -c "SELECT count(*) FROM pg_inherits i JOIN pg_class p
  ON p.oid = i.inhparent WHERE p.relname IN ('positions', 'passenger_counts')")
echo "restore.sh: restored $dump into '$conn': $tables tables," \
  "$parts day partitions; make the logins again with roles.sql" \
  "(passwords are not in a dump)"
