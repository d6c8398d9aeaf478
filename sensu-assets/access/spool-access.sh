#!/usr/bin/env bash
# Give a monitoring user (sensu, nagios) what the checks need to read, without sudo where a group
# will do. Idempotent; run as root on the mail server. Prints each command; --dry-run only prints.
#
#   spool-access.sh [--dry-run] [--postfix-acl] [--sendmail-group] USER
#
# What it does:
#   - /var/lib/mailq-checks (state of mailq-growth, spool-disk, maillog-flood), owned by USER, and
#     /var/lib/mailq-checks/metrics for the Sensu *-metrics checks;
#     /var/lib/mailq-checks-postfix owned by postfix, for check-mailq-growth run through sudo as postfix
#   - group adm: read /var/log/mail.log (root:adm 0640 on Debian) for check-maillog-flood
#   - group Debian-exim: read the Exim spool (0640 Debian-exim files) for every queue check
#   - --postfix-acl: ACLs so USER can list (not read) Postfix's queue directories: enough for
#     check-mailq-growth and check-mailq-depth --count-only without sudo. Queue files stay
#     unreadable (Postfix creates them 0600/0700, which masks any inherited ACL), so full reads
#     need sudo (sudoers beside this file) or the postqueue -j fallback. `postfix set-permissions`
#     resets the ACL mask: run this again after it (and after a new hashed subdirectory appears).
#   - --sendmail-group: group smmsp, which reads Debian's Sendmail queues (mqueue smmta:smmsp 2750,
#     qf files root:smmsp 0640; mqueue-client smmsp:smmsp 2770). It also lets USER write the MSP queue:
#     the sudoers rule beside this file (sudo -g smmsp, for the check alone) is the narrower way.
set -euo pipefail
DRY=0
ACL=0
SMMSP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) DRY=1; shift ;;
    --postfix-acl) ACL=1; shift ;;
    --sendmail-group) SMMSP=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^set /!p}' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || { echo "usage: $0 [--dry-run] [--postfix-acl] [--sendmail-group] USER" >&2; exit 2; }
U=$1
run() { echo "+ $*"; ((DRY)) || "$@"; }
has_group() { getent group "$1" >/dev/null; }

if ! ((DRY)); then
  [[ $(id -u) == 0 ]] || { echo "run as root (or --dry-run)" >&2; exit 1; }
  id "$U" >/dev/null 2>&1 || { echo "no such user: $U" >&2; exit 1; }
fi

run install -d -m 0750 -o "$U" -g "$U" /var/lib/mailq-checks /var/lib/mailq-checks/metrics
if id postfix >/dev/null 2>&1; then
  # Not under /var/lib/mailq-checks: USER owns that and could swap postfix's directory for a symlink
  # (the checks refuse such a state dir), and postfix could not pass through its 0750 anyway.
  run install -d -m 0700 -o postfix -g postfix /var/lib/mailq-checks-postfix
fi
has_group adm && run usermod -a -G adm "$U"
has_group Debian-exim && run usermod -a -G Debian-exim "$U"
if ((SMMSP)); then
  ((DRY)) || has_group smmsp || { echo "no group smmsp: is Debian's sendmail installed?" >&2; exit 1; }
  run usermod -a -G smmsp "$U"
fi

if ((ACL)); then
  ((DRY)) || command -v setfacl >/dev/null || { echo "setfacl not found: apt-get install acl" >&2; exit 1; }
  Q=$(postconf -h queue_directory 2>/dev/null || echo /var/spool/postfix)
  for d in incoming active deferred hold maildrop corrupt; do
    [[ -d $Q/$d ]] || continue
    # Directories only: list and traverse; no queue file is made readable.
    run find "$Q/$d" -type d -exec setfacl -m "u:$U:rx" {} +
  done
fi
echo "done; $U must log in again (or the agent be restarted) for new groups to apply"
