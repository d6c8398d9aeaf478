#!/usr/bin/env bash
# Installs Debian's Nagios 4 core for test/integration/nagios.test.ts (root, Debian; idempotent).
# nagios4-common depends on "bsd-mailx | mailx", and bsd-mailx on an MTA: mailutils satisfies "mailx"
# with an MTA only recommended, so with --no-install-recommends no MTA comes along (checked anyway).
# Nothing is started: the test runs its own Nagios on a config in a temp dir.
set -euo pipefail
. "$(dirname "$0")/apt-lib.sh"
apt_install_no_mta nagios4-core mailutils
command -v nagios4 >/dev/null || { echo "nagios4 not on PATH after install" >&2; exit 1; }
echo "nagios4: $(nagios4 --version 2>/dev/null | grep -m1 -o 'Nagios Core [0-9.]*')"
