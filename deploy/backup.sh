#!/usr/bin/env bash
# backup.sh: a backup of shuttle's database, as pg_dump's custom format
# (README "Backup and restore", RUNBOOK section 6).
#
#   backup.sh FILE [CONNINFO]
#
# FILE is the dump to write (e.g. /var/backups/shuttle/shuttle-$(date
# +%F).dump); CONNINFO a libpq connection string or URI, by default
# "dbname=shuttle" with libpq's PG* environment variables (PGHOST, PGUSER,
# PGPASSFILE...). Connect as the owner (shuttle_owner) or a superuser:
# pg_dump must read every table and sequence, and the group roles may
# not (shuttle_read has no SELECT on dead_letters_id_seq).
#
# The dump is written to FILE.partial.XXXXXX beside FILE, checked with
# `pg_restore --list`, and only then renamed to FILE: a FILE that exists is
# a complete, readable dump; an interrupted run leaves no FILE (and removes
# its partial one). PG_BINDIR, when set, is the folder of pg_dump and
# pg_restore (e.g. /usr/lib/postgresql/15/bin); else they are found in PATH.
#
# Exit status 0, 1 when the dump or its check failed (the reason on
# stderr), 2 on bad usage.
set -euo pipefail

usage() {
  echo "usage: backup.sh FILE [CONNINFO]" >&2
  exit 2
}
die() {
  echo "backup.sh: $*" >&2
  exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case $1 in -*) usage ;; esac
out=$1
conn=${2:-dbname=shuttle}
bin=${PG_BINDIR:+$PG_BINDIR/}

dir=$(dirname -- "$out")
[ -d "$dir" ] || die "$dir: no such folder (make it first)"
[ -w "$dir" ] || die "$dir: not writable by $(id -un)"

tmp=$(mktemp -- "$out.partial.XXXXXX") || die "cannot make a file in $dir"
trap 'rm -f -- "$tmp"' EXIT

# -Fc: compressed, and pg_restore can pick or reorder parts of it.
"${bin}pg_dump" -Fc -f "$tmp" -d "$conn" ||
  die "pg_dump of '$conn' failed (see above); nothing written to $out"
# The table of contents reads back: the file is whole.
"${bin}pg_restore" --list "$tmp" >/dev/null ||
  die "the dump does not read back (pg_restore --list); $out not written"
# The rename is atomic; the data reaches the disk before it.
sync -- "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$out"
trap - EXIT
echo "backup.sh: wrote $out ($(stat -c %s -- "$out") bytes)"
