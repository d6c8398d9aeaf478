#!/usr/bin/env bash
# Installs Debian's carbon-cache and whisper for test/integration/graphite.test.ts (root, Debian;
# idempotent). The packaged service is left disabled (/etc/default/graphite-carbon): the test runs
# its own carbon-cache on 127.0.0.1 with a config in a temp dir.
set -euo pipefail
. "$(dirname "$0")/apt-lib.sh"
apt_install_no_mta graphite-carbon python3-whisper
command -v carbon-cache >/dev/null || { echo "carbon-cache not on PATH after install" >&2; exit 1; }
echo "carbon-cache: $(dpkg-query -W -f='${Version}' graphite-carbon), whisper: $(dpkg-query -W -f='${Version}' python3-whisper)"
