#!/usr/bin/env bash
# `bash scripts/run.sh <command...>`: runs a command from the repo root with the project's settings
# (scripts/lib/env.sh: Node 24 first on PATH, .env loaded, shared defaults). The npm scripts that
# start one process (`npm run api`, `worker`, `migrate`, ...) go through it, so they run on the
# same Node and see the same settings as `npm start`.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/env.sh"
cd "$ROOT"
exec "$@"
