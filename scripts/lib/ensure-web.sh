#!/usr/bin/env bash
# Makes web/ ready to serve with `npm start --prefix web`: installs its dependencies when web/node_modules is missing
# (or older than web/package-lock.json) and builds it when web/.next is missing or older than any of its sources.
# Idempotent and quick when nothing changed. Run from anywhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WEB="$ROOT/web"
export NEXT_TELEMETRY_DISABLED=1

# npm ci writes node_modules/.package-lock.json; it is older than the lockfile when the lockfile changed since.
if [[ ! -d "$WEB/node_modules" || ! -f "$WEB/node_modules/.package-lock.json" || "$WEB/package-lock.json" -nt "$WEB/node_modules/.package-lock.json" ]]; then
  echo "ensure-web: installing web dependencies (npm ci)" >&2
  npm ci --prefix "$WEB" --no-audit --no-fund --loglevel=error
  touch "$WEB/node_modules/.package-lock.json"
fi

# The build's own stamp: .next/BUILD_ID is written at the end of every successful `next build`.
STAMP="$WEB/.next/BUILD_ID"
needs_build() {
  [[ -f "$STAMP" ]] || return 0
  local newer
  newer="$(find "$WEB/app" "$WEB/components" "$WEB/lib" "$WEB/public" \
    "$WEB/package.json" "$WEB/package-lock.json" "$WEB/next.config.ts" "$WEB/proxy.ts" "$WEB/tsconfig.json" \
    -newer "$STAMP" -print -quit 2>/dev/null || true)"
  [[ -n "$newer" ]]
}

if needs_build; then
  echo "ensure-web: building the web app (next build)" >&2
  # The API address is worked out in the browser unless NEXT_PUBLIC_API_URL is set for this build.
  # Next.js builds (and serves) only as production; NODE_ENV of the API (development) must not leak in.
  # A failed build may leave a partial .next with a BUILD_ID: remove it so the next run builds again.
  NODE_ENV=production npm run build --prefix "$WEB" --silent || { rm -rf "$WEB/.next"; exit 1; }
fi
