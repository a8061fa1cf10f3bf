#!/usr/bin/env bash
# test_debs: the Debian packages, built by cpack from this build, installed
# into a throw-away root with dpkg --root (maintainer scripts run
# chrootless with DPKG_ROOT set), never into the host: files where the
# README says, conffiles registered, the user and the spool made by the
# postinst inside the root, the units enabled there, each binary's -n on
# the installed configuration; then an upgrade to release 2 (built with
# cpack -D CPACK_DEBIAN_PACKAGE_RELEASE=2) keeps a locally changed
# conffile; remove and purge clean up; the host's /etc is unchanged.
# Exits 77 (skipped) without dpkg-deb.
# Usage: test_debs.sh BUILD_DIR SOURCE_DIR CPACK
set -euo pipefail
build=$1
src=$2
cpack=$3

for tool in dpkg-deb dpkg dpkg-query dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is missing (apt-get install dpkg-dev)"
    exit 77
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_debs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
R=$tmp/root
fail=0
bad() {
  echo "FAIL: $*"
  fail=1
}
die() {
  echo "FAIL: $*"
  exit 1
}

# What of the host this test must leave alone: the user database, any
# /etc/shuttle, the systemd enablement links, dpkg's own database.
host_state() {
  sha256sum /etc/passwd /etc/group /var/lib/dpkg/status
  if [ -e /etc/shuttle ]; then find /etc/shuttle -printf '%p %s %T@\n'; fi
  find /etc/systemd -name 'shuttle*' 2>/dev/null || true
  find /var/lib/shuttle-onboard -maxdepth 0 2>/dev/null || true
}
host_before=$(host_state)

build_debs() { # build_debs OUTDIR [cpack -D ...]
  local out=$1
  shift
  if ! "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$out" "$@" \
    >"$out.log" 2>&1; then
    tail -n 30 "$out.log"
    die "cpack failed (log above)"
  fi
}
mkdir -p "$tmp/r1" "$tmp/r2"
t0=$(date +%s)
build_debs "$tmp/r1"
build_debs "$tmp/r2" -D CPACK_DEBIAN_PACKAGE_RELEASE=2
echo "cpack: two releases of both packages in $(($(date +%s) - t0)) s"
ver=$(dpkg-deb -f "$tmp"/r1/shuttle-onboard_*.deb Version)
for r in 1 2; do
  for p in shuttle-onboard shuttle-backend; do
    ls "$tmp/r$r/${p}_${ver%-*}-${r}_"*.deb >/dev/null ||
      die "no $p release $r in $tmp/r$r"
  done
done
deb() { ls "$tmp/r$1/$2_"*.deb; }

# The control fields: shlibdeps found the libraries' packages.
dpkg-deb -f "$(deb 1 shuttle-onboard)" Depends | grep -q 'libmosquitto1' ||
  bad "shuttle-onboard does not depend on libmosquitto1"
dpkg-deb -f "$(deb 1 shuttle-backend)" Depends | grep -q 'libpq5' ||
  bad "shuttle-backend does not depend on libpq5"

# A minimal root: dpkg's database and the user files postinst edits.
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" \
  "$R/var/lib/dpkg/triggers" "$R/etc" "$R/var/log"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$R/etc/shadow"
echo 'root:*::' >"$R/etc/gshadow"
chmod 0600 "$R/etc/shadow" "$R/etc/gshadow"

rdpkg() {
  # The libraries are the host's, not the root's: --force-depends.
  dpkg --root="$R" --log="$tmp/dpkg.log" --force-script-chrootless \
    --force-not-root --force-depends "$@" </dev/null >>"$tmp/dpkg.out" 2>&1 ||
    {
      tail -n 30 "$tmp/dpkg.out"
      die "dpkg $* failed (output above)"
    }
}
status_of() { # the package's status in the root, or "none"
  dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${db:Status-Abbrev}${Version}' \
    "$1" 2>/dev/null || echo none
}

rdpkg -i "$(deb 1 shuttle-onboard)" "$(deb 1 shuttle-backend)"
for p in shuttle-onboard shuttle-backend; do
  s=$(status_of $p)
  [ "$s" = "ii ${ver%-*}-1" ] || bad "$p after install: '$s', not 'ii ${ver%-*}-1'"
done

# Files at the documented paths (README "Install from Debian packages").
for f in usr/sbin/shuttle-onboard usr/sbin/shuttle-backend \
  usr/sbin/shuttle-live usr/bin/shuttle-report usr/share/shuttle/pki.sh \
  usr/share/shuttle/backup.sh usr/share/shuttle/restore.sh; do
  [ -x "$R/$f" ] || bad "$f is not an executable in the root"
done
for f in etc/shuttle/onboard.conf etc/shuttle/backend.conf \
  etc/shuttle/live.conf etc/shuttle/report.conf \
  lib/systemd/system/shuttle-onboard.service \
  lib/systemd/system/shuttle-backend.service \
  lib/systemd/system/shuttle-live.service \
  usr/share/shuttle/mosquitto/mosquitto.conf usr/share/shuttle/mosquitto/acl \
  usr/share/shuttle/roles.sql usr/share/shuttle/gtfs/stops.txt \
  usr/share/shuttle/prometheus/shuttle-alerts.yml \
  usr/share/doc/shuttle-backend/RUNBOOK.md \
  usr/share/shuttle/gtfs/stop_times.txt \
  usr/share/doc/shuttle-onboard/copyright \
  usr/share/doc/shuttle-onboard/changelog.Debian.gz \
  usr/share/doc/shuttle-backend/copyright \
  usr/share/doc/shuttle-backend/changelog.Debian.gz \
  usr/share/lintian/overrides/shuttle-onboard \
  usr/share/lintian/overrides/shuttle-backend; do
  [ -f "$R/$f" ] || bad "$f is missing from the root"
done
for m in man8/shuttle-onboard.8 man5/onboard.conf.5 man8/shuttle-backend.8 \
  man8/shuttle-live.8 man1/shuttle-report.1; do
  gzip -dc "$R/usr/share/man/$m.gz" 2>/dev/null | grep -q '^\.TH ' ||
    bad "usr/share/man/$m.gz is not a gzipped manual page"
done
for c in onboard backend live report; do
  cmp -s "$src/deploy/$c.conf" "$R/etc/shuttle/$c.conf" ||
    bad "/etc/shuttle/$c.conf is not deploy/$c.conf"
done
zcat "$R/usr/share/doc/shuttle-onboard/changelog.Debian.gz" | head -n 1 |
  grep -q "(${ver%-*}-1)" || bad "changelog's first entry is not ${ver%-*}-1"

# Each unit starts a binary and reads a configuration the packages installed.
for u in "$R"/lib/systemd/system/shuttle-*.service; do
  for w in $(sed -n 's/^ExecStart\(Pre\)\?=//p' "$u"); do
    case $w in
    /*) [ -e "$R$w" ] || bad "$(basename "$u") names $w, not installed" ;;
    esac
  done
done

# Conffiles registered as such.
conffiles() {
  dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Conffiles}\n' "$1" |
    awk 'NF { print $1 }' | sort | tr '\n' ' '
}
[ "$(conffiles shuttle-onboard)" = "/etc/shuttle/onboard.conf " ] ||
  bad "shuttle-onboard's conffiles: '$(conffiles shuttle-onboard)'"
[ "$(conffiles shuttle-backend)" = \
  "/etc/shuttle/backend.conf /etc/shuttle/live.conf /etc/shuttle/report.conf " ] ||
  bad "shuttle-backend's conffiles: '$(conffiles shuttle-backend)'"

# The user, in the root's passwd: a system uid, no login shell; the spool
# its own.
pw=$(grep '^shuttle:' "$R/etc/passwd") || die "postinst made no user shuttle in $R/etc/passwd"
uid=$(echo "$pw" | cut -d: -f3)
[ "$uid" -lt 1000 ] || bad "user shuttle has uid $uid, not a system uid"
[ "$(echo "$pw" | cut -d: -f7)" = /usr/sbin/nologin ] ||
  bad "user shuttle's shell is not /usr/sbin/nologin: $pw"
grep -q '^shuttle:' "$R/etc/group" || bad "postinst made no group shuttle"
[ "$(grep -c '^shuttle:' "$R/etc/passwd")" = 1 ] ||
  bad "two packages made the user twice"
st=$(stat -c '%u %a' "$R/var/lib/shuttle-onboard" 2>/dev/null) ||
  die "postinst made no /var/lib/shuttle-onboard"
[ "$st" = "$uid 700" ] || bad "/var/lib/shuttle-onboard is '$st', not '$uid 700'"

# Enabled (links in the root's /etc/systemd), not started (no systemd there).
for u in shuttle-onboard shuttle-backend shuttle-live; do
  l=$R/etc/systemd/system/multi-user.target.wants/$u.service
  [ "$(readlink "$l" 2>/dev/null)" = "/lib/systemd/system/$u.service" ] ||
    bad "$u.service is not enabled in the root ($l)"
done

# Each binary checks the installed configuration (-n exits 0 on a good
# file, 2 on a bad one: both are tried).
for b in sbin/shuttle-onboard:onboard sbin/shuttle-backend:backend \
  sbin/shuttle-live:live bin/shuttle-report:report; do
  exe=$R/usr/${b%%:*}
  conf=$R/etc/shuttle/${b##*:}.conf
  out=$("$exe" -n -f "$conf" 2>&1) || bad "$exe -n -f $conf: $out"
  [ "$out" = "configuration OK" ] || bad "$exe -n -f $conf said '$out'"
  cp "$conf" "$tmp/broken.conf"
  echo "no_such_option 1" >>"$tmp/broken.conf"
  if "$exe" -n -f "$tmp/broken.conf" >/dev/null 2>&1; then
    bad "$exe -n accepted an unknown option"
  fi
done
echo "installed: files, conffiles, user uid $uid, spool, units enabled, -n OK"

# Upgrade to release 2 with two conffiles changed here: both are kept.
echo "batch_records 1000" >>"$R/etc/shuttle/backend.conf"
echo "spool_max_mb 32" >>"$R/etc/shuttle/onboard.conf"
sum_before=$(sha256sum "$R/etc/shuttle/backend.conf" "$R/etc/shuttle/onboard.conf")
rdpkg -i "$(deb 2 shuttle-onboard)" "$(deb 2 shuttle-backend)"
for p in shuttle-onboard shuttle-backend; do
  s=$(status_of $p)
  [ "$s" = "ii ${ver%-*}-2" ] || bad "$p after upgrade: '$s', not 'ii ${ver%-*}-2'"
done
[ "$(sha256sum "$R/etc/shuttle/backend.conf" "$R/etc/shuttle/onboard.conf")" = \
  "$sum_before" ] || bad "the upgrade replaced a locally changed conffile"
zcat "$R/usr/share/doc/shuttle-backend/changelog.Debian.gz" | head -n 1 |
  grep -q "(${ver%-*}-2)" || bad "release 2's changelog does not say ${ver%-*}-2"
"$R/usr/sbin/shuttle-backend" -n -f "$R/etc/shuttle/backend.conf" >/dev/null ||
  bad "the kept backend.conf fails -n"
[ "$(grep -c '^shuttle:' "$R/etc/passwd")" = 1 ] || bad "the upgrade made the user again"
[ "$(stat -c %u "$R/var/lib/shuttle-onboard")" = "$uid" ] ||
  bad "the upgrade changed the spool's owner"
echo "upgraded to ${ver%-*}-2: changed conffiles kept"

# Remove: programs gone, configuration kept; purge: everything gone.
rdpkg -r shuttle-onboard shuttle-backend
for p in shuttle-onboard shuttle-backend; do
  s=$(status_of $p)
  [ "$s" = "rc ${ver%-*}-2" ] || bad "$p after remove: '$s', not 'rc ${ver%-*}-2'"
done
for f in usr/sbin/shuttle-onboard usr/sbin/shuttle-backend usr/sbin/shuttle-live \
  usr/bin/shuttle-report lib/systemd/system/shuttle-onboard.service; do
  [ ! -e "$R/$f" ] || bad "$f is still there after remove"
done
[ -f "$R/etc/shuttle/backend.conf" ] || bad "remove deleted a conffile"
rdpkg -P shuttle-onboard shuttle-backend
for p in shuttle-onboard shuttle-backend; do
  s=$(status_of $p)
  case $s in none | "un "* | "pn "*) ;; *) bad "$p after purge: '$s'" ;; esac
done
left=$(cd "$R" && find etc/shuttle var/lib/shuttle-onboard usr/share/shuttle \
  usr/share/doc/shuttle-onboard usr/share/doc/shuttle-backend \
  etc/systemd -name '*shuttle*' 2>/dev/null || true)
[ -z "$left" ] || bad "purge left: $left"

[ "$(host_state)" = "$host_before" ] ||
  bad "the host's /etc/passwd, /etc/group, /etc/shuttle, systemd links or dpkg status changed"
if [ $fail = 0 ]; then
  echo "debs: install, -n, upgrade keeping conffiles, remove, purge; host untouched"
fi
exit $fail
