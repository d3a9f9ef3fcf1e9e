#!/bin/bash
# build-deb.sh OUTDIR: builds the Debian package from this checkout, the way Debian would
# (dpkg-buildpackage with debian/, debhelper, dpkg-buildflags' hardening), in a copy of the
# source under OUTDIR/src (the build writes into its source tree and its parent). Prints the path
# of the .deb on its last line. Needs debhelper and dpkg-dev (scripts/install-deps.sh).
# Tests are not built into the package: DEB_BUILD_OPTIONS=nocheck.
set -euo pipefail
OUT=${1:?usage: build-deb.sh OUTDIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SRC=$OUT/src/ftp-alg-$VERSION
rm -rf "$OUT/src"
mkdir -p "$SRC"
# What the checkout holds (tracked files and new ones not ignored, less tracked files deleted in
# the work tree): no build directories.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
   while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
   cpio --null -pdm --quiet "$SRC")
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
   dpkg-buildpackage -b -us -uc >"$OUT/dpkg-buildpackage.log" 2>&1) || {
  tail -n 40 "$OUT/dpkg-buildpackage.log" >&2
  exit 1
}
ls "$OUT/src/ftp-alg_${VERSION}"_*.deb
