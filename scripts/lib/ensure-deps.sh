# shellcheck shell=bash
# Sourced by start.sh and test.sh: installs npm dependencies when missing or when the lock changed.
cfd_ensure_deps() {
  if [[ ! -d "$ROOT/node_modules" || "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]]; then
    echo "[deps    ] npm ci (first run or package-lock.json changed)..."
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
