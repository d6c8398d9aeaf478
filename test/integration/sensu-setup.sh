#!/usr/bin/env bash
# Installs the real Sensu Go programs for test/integration/sensu-go.test.ts and pagerduty.test.ts
# (root or not; idempotent): `go install` of the pinned versions below, nothing else. Never a
# downloaded binary, never a source tree of theirs. Why these versions: docs/sensu-go.md.
#
#   sensu-backend, sensu-agent, sensuctl  github.com/sensu/sensu-go/cmd/NAME   (6.x: embedded etcd,
#                                         so no Debian package is needed for the store)
#   sensu-pagerduty-handler               github.com/sensu/sensu-pagerduty-handler
#
# Into $SENSU_BIN_DIR (default /usr/local/lib/mailq-checks-itest/sensu/bin, which the tests look in;
# not on PATH, so nothing else on the machine picks them up). Module and build caches: the go
# command's usual GOMODCACHE/GOCACHE (under /root when root), so a second run is a cache hit.
#
# Exit status: 0 installed (or already there at the pinned version); 2 the Go module proxy refused
# a pinned version (the tests then skip and print this script's last lines); 1 anything else.
set -euo pipefail

SENSU_GO_MODULE=github.com/sensu/sensu-go
# The commit of tag v6.12.0 (2024-11-15, the last 6.x release; main is 7.0 development). The tag
# itself is no module version: go.mod says `module github.com/sensu/sensu-go` (no /v6), so the go
# command ignores v6.x tags and names the commit with a v0.0.0 pseudo-version.
SENSU_GO_VERSION=v0.0.0-20241115071103-72718bb2759d
SENSU_PD_MODULE=github.com/sensu/sensu-pagerduty-handler
# The commit of tag 2.6.3 (2026-01-08, = main): "2.6.3" has no leading v, so the go command cannot
# use it; the newest v-tag below it is v1.1.0, hence v1.1.1-0.<time>-<commit>.
SENSU_PD_VERSION=v1.1.1-0.20260108064327-8013317b644b

SENSU_BIN_DIR=${SENSU_BIN_DIR:-/usr/local/lib/mailq-checks-itest/sensu/bin}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
log() { echo "[sensu-setup.sh] $*"; }

[[ -x $GO ]] || { log "no go command (looked for go on PATH and /usr/local/go/bin/go)"; exit 1; }
mkdir -p "$SENSU_BIN_DIR"
# One install at a time (two test files may call this at once on CI).
exec 9> "$SENSU_BIN_DIR/.lock"
flock 9

# "module@version" as `go version -m` prints it for an installed binary ("mod" line), or "".
installed_version() {
  [[ -x $1 ]] || return 0
  "$GO" version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $2 "@" $3; exit }'
}

refused=0
install_one() { # module/path@version module@version
  local pkg=$1 want=$2 bin out rc
  bin=$SENSU_BIN_DIR/$(basename "${pkg%@*}")
  if [[ $(installed_version "$bin") == "$want" ]]; then
    log "already installed: $bin ($want)"
    return 0
  fi
  log "go install $pkg"
  local t0=$SECONDS
  set +e
  out=$(GOBIN=$SENSU_BIN_DIR GOFLAGS=-buildvcs=false nice -n 10 "$GO" install "$pkg" 2>&1)
  rc=$?
  set -e
  if ((rc != 0)); then
    echo "$out" | tail -n 5 >&2
    if grep -qE '40[34] (Forbidden|Not Found)|not available|unknown revision|invalid version' <<< "$out"; then
      log "REFUSED by the module proxy: $pkg"
      refused=1
      return 0
    fi
    log "go install failed ($rc): $pkg"
    exit 1
  fi
  log "installed $bin in $((SECONDS - t0)) s"
}

for cmd in sensu-backend sensu-agent sensuctl; do
  install_one "$SENSU_GO_MODULE/cmd/$cmd@$SENSU_GO_VERSION" "$SENSU_GO_MODULE@$SENSU_GO_VERSION"
done
install_one "$SENSU_PD_MODULE@$SENSU_PD_VERSION" "$SENSU_PD_MODULE@$SENSU_PD_VERSION"

if ((refused)); then
  log "the Go module proxy does not serve the pinned Sensu modules here; see docs/sensu-go.md"
  exit 2
fi
for b in sensu-backend sensu-agent sensuctl sensu-pagerduty-handler; do
  log "$b: $(installed_version "$SENSU_BIN_DIR/$b")"
done
