#!/usr/bin/env bash
# `npm test`: provisions what is missing, starts the stack, type-checks, runs every jest suite
# against the real services, and ends with one line "N passed, N failed".
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/env.sh"
. "$ROOT/scripts/lib/ensure-deps.sh"
cd "$ROOT"
set -e
cfd_ensure_deps
bash scripts/stack.sh up
bash scripts/lib/ensure-test-server.sh
npx tsx scripts/migrate.ts
if [[ -f web/package.json ]]; then
  bash scripts/lib/ensure-chromium.sh
  bash scripts/lib/ensure-web.sh
fi
set +e

failed_checks=0
echo "[test    ] type-checking"
if ! npx tsc --noEmit -p tsconfig.json; then failed_checks=1; echo "[test    ] type-check FAILED"; fi

mkdir -p .data/test
results=.data/test/jest-results.json
rm -f "$results"
npx jest --runInBand --json --outputFile="$results" "$@"
jest_status=$?

node -e '
  const fs = require("fs");
  const [file, extra] = [process.argv[1], Number(process.argv[2])];
  let passed = 0, failed = extra;
  if (fs.existsSync(file)) {
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
  } else failed += 1;
  console.log(`${passed} passed, ${failed} failed`);
' "$results" "$failed_checks"

if (( jest_status != 0 || failed_checks != 0 )); then exit 1; fi
