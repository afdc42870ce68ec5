#!/usr/bin/env bash
# `npm test`: provisions what is missing, starts the stack, type-checks, runs every jest suite
# against the real services and a short Schemathesis run, and ends with one line "N passed, N failed"
# (a failed type-check or Schemathesis run counts as one failure each).
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/env.sh"
. "$ROOT/scripts/lib/ensure-deps.sh"
cd "$ROOT"
set -e
cfd_ensure_deps
# Some tests stop and start this stack's SMTP catcher (MailDev): say so loudly when an `npm start`
# runs on the same stack (its mail would pause), and give time to cancel. CFD_TEST_NO_COUNTDOWN=1 skips the wait.
start_pid="$(tr -dc '0-9' 2>/dev/null <"$CFD_DATA_DIR/run/start.pid" || true)"
if [[ -n "$start_pid" ]] && kill -0 "$start_pid" 2>/dev/null; then
  printf '\n%s\n[test    ] npm start (pid %s) runs on this stack: the tests will STOP AND RESTART its SMTP catcher\n' "$(printf '!%.0s' {1..100})" "$start_pid"
  printf '[test    ] (MailDev on %s) and add load to its Postgres, Redis, Kafka and Temporal. Ctrl-C to cancel;\n' "$SMTP_URL"
  printf '[test    ] to keep them apart, run the tests from a checkout whose .env sets other ports.\n%s\n' "$(printf '!%.0s' {1..100})"
  if [[ "${CFD_TEST_NO_COUNTDOWN:-}" != 1 ]]; then
    for i in 10 9 8 7 6 5 4 3 2 1; do printf '[test    ] starting in %s s\r' "$i"; sleep 1; done; echo
  fi
fi
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
if ! bash scripts/typecheck.sh; then failed_checks=1; echo "[test    ] type-check FAILED"; fi

mkdir -p .data/test
results=.data/test/jest-results.json
rm -f "$results"
npx jest --runInBand --json --outputFile="$results" "$@"
jest_status=$?

# The short Schemathesis run (every check, fixed seed) against a fresh API; on a full run, or with
# CFD_TEST_FUZZ=1 when jest was given a selection. `npm run fuzz` is the full campaign.
if (( $# == 0 )) || [[ "${CFD_TEST_FUZZ:-}" == 1 ]]; then
  echo "[test    ] schemathesis, short run (test/fuzz/schemathesis.sh --quick)"
  if ! bash test/fuzz/schemathesis.sh --quick; then failed_checks=$((failed_checks + 1)); echo "[test    ] schemathesis FAILED"; fi
fi

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
