#!/usr/bin/env bash
# Installs the real programs test/integration/formats.test.ts runs (root, Debian 12; idempotent; never an MTA):
#   prometheus               -> promtool check metrics (the exposition-format linter)
#   prometheus-node-exporter -> its textfile collector, scraped over loopback
#   influxdb (1.6.x)         -> influxd, written to with /write and read back with /query
# Nothing the packages ship is used as a service: the test starts its own node_exporter and influxd on
# 127.0.0.1 with ports it picks and data in a temp dir. Where the packaging started the services
# (a systemd host), they are stopped and disabled so that nothing listens that the test did not start.
set -euo pipefail
. "$(dirname "$0")/apt-lib.sh"
apt_install_no_mta prometheus prometheus-node-exporter influxdb
for p in promtool prometheus-node-exporter influxd; do
  command -v "$p" >/dev/null || { echo "$p not on PATH after install" >&2; exit 1; }
done
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  systemctl disable --now prometheus.service prometheus-node-exporter.service influxdb.service >/dev/null 2>&1 || true
fi
echo "promtool: $(dpkg-query -W -f='${Version}' prometheus), node_exporter: $(dpkg-query -W -f='${Version}' prometheus-node-exporter), influxd: $(dpkg-query -W -f='${Version}' influxdb)"
