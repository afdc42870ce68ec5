# shellcheck shell=bash
# Sourced by start.sh and test.sh: installs npm dependencies when node_modules is missing or was
# installed from another package-lock.json (compared by content, not by file times).
cfd_ensure_deps() {
  local stamp="$ROOT/node_modules/.cfd-lock.sha256" want
  want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -d "$ROOT/node_modules" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "[deps    ] npm ci (first run or package-lock.json changed)..."
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}
