#!/usr/bin/env bash
# live-postfix.sh: incidents 000 (a flood to one alias over direct SMTP) and 004 (silent deferral)
# replayed against Debian's own postfix, in real time compressed to about three minutes.
#
# Installs postfix (only if no MTA is installed; refuses otherwise), relays to a next hop on
# 127.0.0.1:2525 that test/incidents/live/drive.mjs runs (nothing leaves loopback), submits mail over
# SMTP to 127.0.0.1:25, runs the checks (built from this tree, as dist/ ships them) every 16 s and
# asserts detection (see drive.mjs). Then stops postfix by its pid, purges exactly the packages it
# installed, and restores /etc/hosts, /etc/mailname, /etc/aliases, whatever exit path is taken.
#
# Needs root on Debian 12 with apt reachable; without root it says so and exits 0 (skipped).
# Exit 0: all assertions passed; 1: an assertion or a step failed (details on stderr).
# Prints the detection table (markdown) on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
readonly PROTECTED_FILES=(/etc/hosts /etc/mailname /etc/aliases /etc/aliases.db)
readonly MTA_PKGS=(postfix exim4-base exim4-daemon-light exim4-daemon-heavy sendmail-bin sendmail ssmtp msmtp-mta nullmailer dma opensmtpd courier-mta)
readonly NEW_ACCOUNTS=(postfix postdrop)
readonly STARTED=$SECONDS

log() { printf '[live-postfix %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $(id -u) != 0 ]]; then log "skipped: needs root (installs postfix)"; exit 0; fi
command -v apt-get >/dev/null || { log "skipped: no apt-get (Debian only)"; exit 0; }
command -v node >/dev/null || die "node not found"

is_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
for p in "${MTA_PKGS[@]}"; do is_installed "$p" && die "an MTA is installed ($p): this script installs and purges postfix, refusing to touch it"; done
[[ -e /usr/sbin/sendmail ]] && die "/usr/sbin/sendmail exists (an MTA not known to dpkg?): refusing"
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy 25 && die "something listens on 127.0.0.1:25 already"
port_busy 2525 && die "something listens on 127.0.0.1:2525 already"

# ---------------------------------------------------------------- machine state, restored on exit

WORK=""
DIST=""
STATE_SAVED=0
POLICY_RC_OURS=0
OUR_PKGS=()
DRIVER_PID=""
declare -A FILE_SAVED=()
var_entries() { find /var/log /var/spool /var/lib /var/mail -mindepth 1 -maxdepth 1 2>/dev/null | sort; }
installed_pkgs() { dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' | awk '$1 ~ /^.i/ {sub(/:.*/, "", $2); print $2}' | sort -u; }

master_pid() { local f=/var/spool/postfix/pid/master.pid; [[ -s $f ]] && tr -dc 0-9 < "$f" || true; }

# wait_until SECONDS CMD...: poll every 0.3 s, bounded.
wait_until() {
  local limit=$1; shift
  local deadline=$((SECONDS + limit))
  until "$@"; do ((SECONDS < deadline)) || return 1; sleep 0.3; done
}

stop_postfix() {
  local pid
  pid=$(master_pid)
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  log "stopping postfix (master pid $pid)"
  postfix stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  wait_until 20 bash -c "! kill -0 $pid 2>/dev/null" || { log "postfix master $pid still running: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
  # Its children (smtpd, qmgr, ...) exit with it; any left are ours: end them by pid.
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null || true)
    [[ $exe == /usr/lib/postfix/sbin/* ]] && kill -TERM "${p#/proc/}" 2>/dev/null || true
  done
  return 0
}

purge_ours() {
  ((${#OUR_PKGS[@]})) || return 0
  local extra
  extra=$(apt-get -s purge "${OUR_PKGS[@]}" 2>/dev/null | awk '/^Purg /{print $2}' | sed 's/:.*//' | sort -u | comm -23 - <(printf '%s\n' "${OUR_PKGS[@]}" | sort -u))
  [[ -z $extra ]] || { log "purging would also remove: $extra -- not purging, do it by hand"; return 1; }
  log "apt-get purge ${OUR_PKGS[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=120 "${OUR_PKGS[@]}" > "$WORK/apt-purge.log" 2>&1 \
    || { tail -n 20 "$WORK/apt-purge.log" >&2; return 1; }
  OUR_PKGS=()
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [[ -n $DRIVER_PID ]] && kill -TERM "$DRIVER_PID" 2>/dev/null
  if [[ $STATE_SAVED != 1 ]]; then
    # Failed before anything was changed (the build, or saving what to restore).
    [[ $POLICY_RC_OURS == 1 ]] && rm -f /usr/sbin/policy-rc.d
    rm -rf "$WORK"
    exit $((rc ? rc : 1))
  fi
  stop_postfix
  purge_ours || rc=1
  for f in "${PROTECTED_FILES[@]}"; do
    b="$WORK/saved${f//\//_}"
    if [[ ${FILE_SAVED[$f]} == 1 ]]; then
      # In place: /etc/hosts may be a bind mount (no rename over it).
      cmp -s "$b" "$f" 2>/dev/null || cat "$b" > "$f"
    else
      rm -f "$f"
    fi
  done
  # What postfix left in /var (its spool, state, our log file): only postfix's own names are removed.
  var_entries | comm -13 "$WORK/var-before" - | while IFS= read -r p; do
    case $p in
      /var/spool/postfix | /var/lib/postfix | /var/log/postfix.log | /var/mail/*) rm -rf -- "$p" ;;
      *) log "left alone (not ours?): $p" ;;
    esac
  done
  for u in "${NEW_ACCOUNTS[@]}"; do
    grep -qx "user $u" "$WORK/accounts-before" || { getent passwd "$u" >/dev/null && userdel "$u" 2>/dev/null; }
    grep -qx "group $u" "$WORK/accounts-before" || { getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null; }
  done
  rmdir /etc/postfix 2>/dev/null
  [[ $POLICY_RC_OURS == 1 ]] && rm -f /usr/sbin/policy-rc.d
  is_installed postfix && { log "postfix is still installed!"; rc=1; }
  rm -rf "$WORK"
  log "done in $((SECONDS - STARTED)) s (exit $rc)"
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

WORK=$(mktemp -d /tmp/live-postfix.XXXXXX)
# The checks as npm run build ships them, built from this tree (a dist/ left from an older build
# would test old code).
DIST=$WORK/dist
node .ci/build.mjs --outdir "$DIST" >/dev/null || die "building the checks failed"
for f in "${PROTECTED_FILES[@]}"; do
  if [[ -e $f ]]; then FILE_SAVED[$f]=1; cp -a "$f" "$WORK/saved${f//\//_}"; else FILE_SAVED[$f]=0; fi
done
var_entries > "$WORK/var-before"
for u in "${NEW_ACCOUNTS[@]}"; do
  getent passwd "$u" >/dev/null && echo "user $u"
  getent group "$u" >/dev/null && echo "group $u"
done > "$WORK/accounts-before" || true
installed_pkgs > "$WORK/pkgs-before"
STATE_SAVED=1
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  # Keep the package scripts from starting postfix with the stock config: it is started below.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  POLICY_RC_OURS=1
fi

# ---------------------------------------------------------------- install and configure

apt_install_postfix() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postfix > "$WORK/apt.log" 2>&1
}
log "installing postfix"
printf 'postfix postfix/main_mailer_type select Local only\npostfix postfix/mailname string lab.example\n' | debconf-set-selections
if ! apt_install_postfix; then
  log "apt-get install failed; updating the package lists once"
  apt-get update -qq -o DPkg::Lock::Timeout=120 >/dev/null 2>&1 || true
  apt_install_postfix || { mapfile -t OUR_PKGS < <(installed_pkgs | comm -13 "$WORK/pkgs-before" -); tail -n 20 "$WORK/apt.log" >&2; die "apt-get install postfix failed"; }
fi
mapfile -t OUR_PKGS < <(installed_pkgs | comm -13 "$WORK/pkgs-before" -)
log "installed ${#OUR_PKGS[@]} packages: ${OUR_PKGS[*]} ($((SECONDS - STARTED)) s)"

# The two SMTP clients by name: Postfix resolves their loopback source addresses through /etc/hosts
# (copied into its chroot below), as the relay resolved the QA server in incident 000.
printf '127.0.0.7 qa-app-07.qa.example\n127.0.0.12 app1.corp.example\n' >> /etc/hosts
postconf -e 'myhostname = mx1.lab.example' 'mydestination = $myhostname, localhost' \
  'default_transport = smtp' 'relay_transport = relay' 'relayhost = [127.0.0.1]:2525' 'maillog_file = /var/log/postfix.log' \
  'inet_interfaces = loopback-only' 'inet_protocols = ipv4' 'smtp_tls_security_level = none' \
  'mynetworks = 127.0.0.0/8'
/usr/lib/postfix/configure-instance.sh - >/dev/null 2>&1 || true
postfix start >/dev/null 2>&1 || die "postfix start failed"
wait_until 30 port_busy 25 || die "postfix is not listening on 127.0.0.1:25 after 30 s"
log "postfix $(postconf -h mail_version) running (master pid $(master_pid)); relayhost [127.0.0.1]:2525"

# ---------------------------------------------------------------- the replay

rc=0
timeout -k 5 480 node test/incidents/live/drive.mjs "$DIST" "$WORK" &
DRIVER_PID=$!
wait "$DRIVER_PID" || rc=$?
DRIVER_PID=""
((rc == 0)) || log "the replay failed (exit $rc)"
exit $rc
