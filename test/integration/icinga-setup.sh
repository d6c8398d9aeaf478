#!/usr/bin/env bash
# Installs Debian's Icinga 2 daemon for test/integration/icinga2.test.ts (root, Debian; idempotent).
# Only icinga2-bin (the daemon) and icinga2-common (the ITL under /usr/share/icinga2/include, the
# nagios user): not the icinga2 metapackage, whose monitoring-plugins recommendations are not needed
# and whose mail notification scripts want a mailer. No MTA comes along (checked by apt-lib.sh).
# icinga2-bin's postinst enables checker/notification/mainlog in /etc/icinga2 and asks invoke-rc.d
# to start the packaged service (denied where policy-rc.d says 101, as in containers). If this
# install started it, it is stopped again: the test runs its own daemon on a config in a temp dir.
set -euo pipefail
. "$(dirname "$0")/apt-lib.sh"
fresh=0
[[ $(dpkg-query -W -f='${Status}' icinga2-bin 2>/dev/null) == "install ok installed" ]] || fresh=1
apt_install_no_mta icinga2-bin icinga2-common
command -v icinga2 >/dev/null || { echo "icinga2 not on PATH after install" >&2; exit 1; }
if ((fresh)) && [[ -s /run/icinga2/icinga2.pid ]] && kill -0 "$(cat /run/icinga2/icinga2.pid)" 2>/dev/null; then
  apt_log "stopping the packaged icinga2 service this install started"
  invoke-rc.d --force icinga2 stop >/dev/null 2>&1 || kill "$(cat /run/icinga2/icinga2.pid)" || true
fi
echo "icinga2: $(icinga2 --version 2>/dev/null | grep -m1 -o 'version: [^)]*' || true)"
