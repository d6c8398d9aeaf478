# Shared by the integration setup scripts: install Debian packages without ever taking an MTA along.
# Another script on CI machines installs and purges postfix/exim4/sendmail in turn and refuses to run
# when an MTA is present, so a simulated install that would bring one in is refused here.
# Usage (sourced): apt_install_no_mta PKG...

# Packages that are (or provide) a mail transport agent.
MTA_PACKAGES_RE='^(postfix|exim4|exim4-base|exim4-config|exim4-daemon-light|exim4-daemon-heavy|sendmail|sendmail-bin|sendmail-base|ssmtp|msmtp-mta|nullmailer|dma|opensmtpd|courier-mta|esmtp-run|masqmail|citadel-mta)$'

apt_log() { echo "[$(basename "$0")] $*"; }

apt_install_no_mta() {
  local pkgs=("$@") missing=() p
  for p in "${pkgs[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || { apt_log "already installed: ${pkgs[*]}"; return 0; }
  [[ $(id -u) == 0 ]] || { apt_log "not root: cannot install ${missing[*]}"; return 1; }
  command -v apt-get >/dev/null || { apt_log "no apt-get: cannot install ${missing[*]}"; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  local opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600
              -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  local sim
  if ! sim=$(apt-get -s "${opts[@]}" install "${missing[@]}" 2>&1); then
    apt_log "apt-get -s install failed; updating the package lists once"
    apt-get update -qq -o DPkg::Lock::Timeout=600
    sim=$(apt-get -s "${opts[@]}" install "${missing[@]}" 2>&1) || { echo "$sim" >&2; return 1; }
  fi
  # Every package the install would bring in, by name; refuse if one is an MTA.
  local would mta
  would=$(awk '/^Inst /{print $2}' <<< "$sim" | sed 's/:.*//')
  mta=$(grep -E "$MTA_PACKAGES_RE" <<< "$would" || true)
  # ... and any that provides the virtual package mail-transport-agent under another name.
  local p2
  for p2 in $would; do
    apt-cache show --no-all-versions "$p2" 2>/dev/null | grep -qE '^Provides:.*\bmail-transport-agent\b' && mta+=" $p2"
  done
  mta=$(tr ' ' '\n' <<< "$mta" | sed '/^$/d' | sort -u | tr '\n' ' ')
  if [[ -n $mta ]]; then
    apt_log "REFUSING: installing ${missing[*]} would pull in a mail transport agent: $mta"
    return 1
  fi
  apt_log "apt-get install ${missing[*]} ($(wc -w <<< "$would") packages)"
  apt-get "${opts[@]}" install "${missing[@]}" > /tmp/apt-install-$$.log 2>&1 \
    || { tail -n 30 /tmp/apt-install-$$.log >&2; rm -f /tmp/apt-install-$$.log; return 1; }
  rm -f /tmp/apt-install-$$.log
}
