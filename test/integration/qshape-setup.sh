#!/usr/bin/env bash
# Postfix's own qshape(1), for test/queue/qshape-real.test.ts: taken out of Debian's postfix package
# with dpkg-deb -x (the package is downloaded, never installed: no MTA on the machine), into
# ${QSHAPE_DIR:-/opt/mailq-checks-ci/qshape}. qshape is a Perl script that needs no Postfix when it is
# given absolute queue directories. Idempotent; needs apt-get download (any user) and dpkg-deb.
set -euo pipefail
dir=${QSHAPE_DIR:-/opt/mailq-checks-ci/qshape}
if [[ -x $dir/usr/sbin/qshape ]]; then echo "[qshape-setup] already there: $dir/usr/sbin/qshape"; exit 0; fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "[qshape-setup] needs apt-get and dpkg-deb"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q postfix >/dev/null 2>&1) || { apt-get update -qq && (cd "$tmp" && apt-get download -q postfix >/dev/null); }
mkdir -p "$dir"
dpkg-deb -x "$tmp"/postfix_*.deb "$tmp/x"
mkdir -p "$dir/usr/sbin"
cp "$tmp/x/usr/sbin/qshape" "$dir/usr/sbin/qshape"
dpkg-deb -f "$tmp"/postfix_*.deb Version > "$dir/VERSION"
echo "[qshape-setup] qshape of postfix $(cat "$dir/VERSION") in $dir/usr/sbin/qshape"
