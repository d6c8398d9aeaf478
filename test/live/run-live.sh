#!/usr/bin/env bash
# Live tests (root, Debian): install each real MTA in turn (Postfix, Exim, Sendmail, nullmailer,
# OpenSMTPD; the -partial cases add messages delivered in part), fill its queue (relay on a closed loopback
# port, so mail defers), run test/live against the running MTA (spool vs listing command, auto
# detection, unprivileged fallback), then run the fixture comparisons on the fresh capture.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${LIVE_OUT:-$(mktemp -d /tmp/mailq-live.XXXXXX)}
rm -rf "$out"
npm run build --silent
LIVE_HOOK='npx vitest run test/live' bash test/fixtures/capture-fixtures.sh "$out"
FIXTURE_ROOT="$out" npx vitest run test/checks/mailq-depth.test.ts test/mta/partial-delivery.test.ts
echo "live captures kept in $out"
