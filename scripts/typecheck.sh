#!/usr/bin/env bash
# `npm run typecheck`: every TypeScript project of the repo — the backend with test/, bench/, chaos/ and
# scripts/ (tsconfig.json), the web app (web/tsconfig.json) and its browser tests (web/e2e/tsconfig.json,
# which jest runs through @swc/jest without type-checking). Runs each, fails when any fails.
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/env.sh"
cd "$ROOT"
failed=0
check() {
  local project="$1"
  echo "[tsc     ] $project"
  npx tsc --noEmit -p "$project" || { failed=1; echo "[tsc     ] $project: type errors"; }
}
check tsconfig.json
if [[ -f web/package.json && -d web/node_modules ]]; then
  check web/tsconfig.json
  check web/e2e/tsconfig.json
elif [[ -f web/package.json ]]; then
  echo "[tsc     ] web/ has no node_modules (scripts/lib/ensure-web.sh installs them): web and web/e2e cannot be type-checked"
  failed=1
fi
exit "$failed"
