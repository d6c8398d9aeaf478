#!/usr/bin/env bash
# Debian's chromium, for test/integration/chart-render.test.ts (the incident charts rendered as a
# user's browser renders them). Root and apt; never an MTA (apt-lib.sh refuses one). Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
. ./apt-lib.sh
apt_install_no_mta chromium
