#!/usr/bin/env bash
# README 'Install' and 'Spool access' followed for real, as root, inside a private mount namespace:
#
#   unshare -m --propagation private bash test/helpers/real-install.sh WORK TARBALL FIXTURES
#
# /usr, /etc and /var get overlays whose upper layers live in a tmpfs under WORK, so `npm install -g`
# (npm's own prefix: /usr with Debian's npm), useradd, /etc/sudoers.d and the spools change nothing
# outside this process tree; the namespace goes away with it. Prints one block per step:
#   ### <step> <exit code>
#   <stdout>
#   ### stderr
#   <stderr>
# Used by test/install.test.ts, which judges the blocks.
set -euo pipefail
W=$1 TGZ=$2 FX=$3
mount -t tmpfs -o mode=0755 tmpfs "$W"
for d in usr etc var; do
  mkdir -p "$W/$d.up" "$W/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$W/$d.up,workdir=$W/$d.work" "/$d"
done

step() { # step NAME CMD...: run, print the block (never stops the script)
  local name=$1 out err code
  shift
  out=$(mktemp -p "$W") err=$(mktemp -p "$W")
  code=0
  "$@" >"$out" 2>"$err" || code=$?
  echo "### $name $code"
  cat "$out"
  echo "### stderr"
  cat "$err"
}
# As the monitoring user, with its groups from /etc/group, a clean environment and a plain PATH.
as_nagios() { setpriv --reuid nagios --regid nagios --init-groups env -i PATH=/usr/bin:/bin HOME=/ "$@"; }

# The system users Debian's postfix, sendmail and exim4 packages create, and the monitoring user.
for g in postfix postdrop smmta smmsp Debian-exim nagios; do getent group "$g" >/dev/null || groupadd --system "$g"; done
id -u postfix >/dev/null 2>&1 || useradd --system -M -d /var/spool/postfix -g postfix -s /usr/sbin/nologin postfix
id -u smmta >/dev/null 2>&1 || useradd --system -M -d /var/lib/sendmail -g smmta -s /usr/sbin/nologin smmta
id -u smmsp >/dev/null 2>&1 || useradd --system -M -d /var/lib/sendmail -g smmsp -s /usr/sbin/nologin smmsp
id -u Debian-exim >/dev/null 2>&1 || useradd --system -M -d /var/spool/exim4 -g Debian-exim -s /usr/sbin/nologin Debian-exim
id -u nagios >/dev/null 2>&1 || useradd --system -M -d /var/lib/nagios -g nagios -s /usr/sbin/nologin nagios

# The captured queues at their default paths, with the owners and modes the packages gave them.
place() { # place FIXTURE-CASE SUBDIR-OF-SPOOL DEST
  local src=$FX/$1/spool/$2 dst=$3
  rm -rf "$dst" # whatever this host has there (only in the overlay)
  mkdir -p "$dst"
  cp -a "$src/." "$dst/"
  local prefix=${2:+$2/}
  tail -n +2 "$FX/$1/spool.tsv" | while IFS=$'\t' read -r _type mode owner _size _mtime p; do
    [[ -z $prefix || $p == "$prefix"* ]] || continue
    local rel=${p#"$prefix"}
    [[ -e $dst/$rel ]] || continue
    chown -h "$owner" "$dst/$rel" && chmod "$mode" "$dst/$rel"
  done
}
place postfix '' /var/spool/postfix
for d in incoming active corrupt; do install -d -o postfix -g root -m 0700 "/var/spool/postfix/$d"; done
chown root:root /var/spool/postfix && chmod 0755 /var/spool/postfix
place sendmail mqueue /var/spool/mqueue
place sendmail mqueue-client /var/spool/mqueue-client
chown smmta:smmsp /var/spool/mqueue && chmod 2750 /var/spool/mqueue
chown smmsp:smmsp /var/spool/mqueue-client && chmod 2770 /var/spool/mqueue-client
place exim '' /var/spool/exim4
chown Debian-exim:Debian-exim /var/spool/exim4 && chmod 0750 /var/spool/exim4
install -m 0640 -o root -g adm "$FX/postfix/log/postfix.log" /var/log/mail.log

# README 'Install', word for word (offline; an empty npm cache; no registry reachable).
export npm_config_cache=$W/npm-cache npm_config_registry=http://127.0.0.1:9/ npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
step npm-install npm install -g --offline "$TGZ"
step npm-prefix npm prefix -g
PKG=$(npm prefix -g)/lib/node_modules/mailq-checks
step which bash -c 'command -v check-mailq-depth check-mailer-daemon check-mailq-growth check-spool-disk check-maillog-flood node'

# Before any access is given: what the monitoring user is told.
step denied-sendmail as_nagios check-mailq-depth --mta sendmail --source spool
step denied-exim as_nagios check-mailq-depth --mta exim --source spool
step denied-postfix as_nagios check-mailq-depth --mta postfix --source spool

# 'Spool access': the shipped sudoers from the installed package, and spool-access.sh for the groups.
install -m 0440 -o root -g root "$PKG/sensu-assets/access/sudoers" /etc/sudoers.d/mailq-checks
step visudo visudo -cf /etc/sudoers.d/mailq-checks
step spool-access "$PKG/sensu-assets/access/spool-access.sh" nagios

# Every line of the installed nrpe.cfg, as NRPE runs it (as nagios).
while IFS= read -r line; do
  [[ $line =~ ^command\[([a-z_]+)\]=(.*)$ ]] || continue
  read -ra words <<<"${BASH_REMATCH[2]}"
  step "nrpe:${BASH_REMATCH[1]}" as_nagios "${words[@]}"
done <"$PKG/sensu-assets/nagios/nrpe.cfg"

# The usermod remedy the Sendmail line gave, run as given, then the same check again.
remedy=$(grep -o 'usermod -aG [A-Za-z0-9_-]* nagios' <<<"$(as_nagios check-mailq-depth --mta sendmail --source spool || true)" | head -1 || true)
step remedy-sendmail-usermod bash -c "$remedy"
# (--no-default-thresholds: about reading the spool; the capture is days old, past the age defaults)
step remedied-sendmail as_nagios check-mailq-depth --mta sendmail --source spool --no-default-thresholds --format json
