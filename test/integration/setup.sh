#!/usr/bin/env bash
# Everything test/integration needs on a Debian CI machine (root; idempotent; never an MTA):
#   nagios4-core (+ mailutils for its mailx dependency)  -> nagios.test.ts
#   graphite-carbon + python3-whisper                    -> graphite.test.ts
#   sudo (for visudo -c on sensu-assets/access/sudoers)  -> shipped-commands.test.ts
#   Postfix's qshape, out of the postfix .deb (not installed) -> test/queue/qshape-real.test.ts
#   chromium (the incident charts drawn by a real browser)   -> chart-render.test.ts
# Without root or apt it says so and exits 0: those tests then skip with the reason.
set -euo pipefail
cd "$(dirname "$0")"
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "[setup.sh] not root or no apt-get: nagios/graphite integration tests will be skipped"
  exit 0
fi
bash ./nagios-setup.sh
bash ./graphite-setup.sh
. ./apt-lib.sh
apt_install_no_mta sudo
bash ./qshape-setup.sh
bash ./chart-setup.sh
