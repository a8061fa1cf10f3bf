#!/usr/bin/env bash
# The Debian packages shuttle-onboard and shuttle-backend (deploy/CMakeLists.txt):
# a Release build in build/pkg, cpack, lintian when installed; prints the
# .deb paths. README "Install from Debian packages".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=$PWD/build/pkg
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DSHUTTLE_TESTS=OFF >/dev/null
cmake --build "$out" -j"$(nproc)"
rm -f "$out"/*.deb
(cd "$out" && cpack -G DEB -B "$out" >"$out/cpack.log") || {
  tail -n 30 "$out/cpack.log"
  echo "package: cpack failed (log above: $out/cpack.log)" >&2
  exit 1
}
debs=("$out"/*.deb)
if command -v lintian >/dev/null; then
  # Our overrides ship in the packages (usr/share/lintian/overrides);
  # what remains is printed, and an error fails the build.
  lintian --fail-on error "${debs[@]}"
else
  echo "package: lintian is not installed (apt-get install lintian): not checked" >&2
fi
printf '%s\n' "${debs[@]}"
