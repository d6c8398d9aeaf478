#!/usr/bin/env bash
# Everything test/integration needs on a Debian CI machine (root; idempotent; never an MTA):
#   nagios4-core (+ mailutils for its mailx dependency)  -> nagios.test.ts
#   graphite-carbon + python3-whisper                    -> graphite.test.ts
#   sudo (for visudo -c on sensu-assets/access/sudoers)  -> shipped-commands.test.ts
#   icinga2 (icinga2-bin, icinga2-common)                -> icinga2.test.ts
#   prometheus (promtool), prometheus-node-exporter, influxdb -> formats.test.ts
#   Sensu Go + sensu-pagerduty-handler (go install; refused by the proxy here) -> sensu-go.test.ts, pagerduty.test.ts
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
bash ./icinga-setup.sh
bash ./formats-setup.sh
# Sensu Go from the Go module proxy: exit 2 = the proxy refuses the module (docs/sensu-go.md); the tests then say so.
bash ./sensu-setup.sh || { rc=$?; [ "$rc" = 2 ] || exit "$rc"; }
. ./apt-lib.sh
apt_install_no_mta sudo
bash ./qshape-setup.sh
bash ./chart-setup.sh
