#!/usr/bin/env bash
# `npm run build`: compiles the processes to JavaScript in dist/ (tsconfig.build.json), as the image
# runs them: `node dist/api/main.js`, `node --max-semi-space-size=4 dist/workflows/worker.js`
# (workflows/node-flags.ts), `dist/db-processor/main.js`,
# `dist/scripts/migrate.js`, `dist/scripts/ensure-topics.js`. At start the worker has a
# child process (dist/workflows/bundle.js) bundle the compiled workflow code (dist/workflows/index.js),
# as it bundles the TypeScript under tsx.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf dist
npx tsc -p tsconfig.build.json
echo "[build   ] dist/ compiled with $(node --version)"
