#!/usr/bin/env bash
# The suite again on the PostgreSQL store (`npm run test:postgres`, run by .ci/run after `npm test`):
# one throwaway cluster (test/helpers/pg-cluster.sh), every spawned test server on a database of
# its own there (AGENTD_TEST_PG, test/helpers/pg-agentd.mjs). Skips, saying why, only when no
# cluster can start. Expects a build (`npm test` or `npm run build`).
set -uo pipefail
cd "$(dirname "$0")/.."

# Not run again here: files with no server or store in them, and those that run on PostgreSQL already
# (their own cluster) or on both stores themselves.
skip='
test/acp/registry.test.ts
test/approval/policy.test.ts
test/architecture/dead-exports.test.ts
test/architecture/imports.test.ts
test/bench/quick.test.ts
test/protocol/generated.test.ts
test/tools/builtin.test.ts
test/tools/confinement.test.ts
test/transport/ws-internals.test.ts
test/tui/components.test.ts
test/core/replay-live.test.ts
test/conformance/postgres.test.ts
test/durability/postgres.test.ts
test/durability/affinity.test.ts
'
# Files or folders given as arguments run instead of the whole list (`npm run test:postgres -- test/core`).
if [ $# -gt 0 ]; then files="$*"; else files=$(ls test/*/*.test.ts | grep -vxF -f <(grep . <<<"$skip")); fi

dir=$(mktemp -d -t agentd-pgpass-XXXXXX)
err=$(mktemp)
if ! url=$(bash test/helpers/pg-cluster.sh start "$dir" 2>"$err"); then
  echo "# PostgreSQL pass skipped: no cluster would start: $(head -c 300 "$err")"
  rm -rf "$dir" "$err"
  exit 0
fi
rm -f "$err"
trap 'bash test/helpers/pg-cluster.sh stop "$dir"' EXIT
echo "# PostgreSQL pass: $(wc -w <<<"$files") test files or folders, on $url"
AGENTD_TEST_PG=$url npx tap --disable-coverage $files
