#!/usr/bin/env bash
# Installs Debian's Chromium (used headless by the browser tests in web/e2e) when /usr/bin/chromium is missing.
# Playwright's own browser download cannot be used here; playwright-core drives this binary instead.
# Idempotent: does nothing when Chromium is already installed. Needs root (or sudo) and apt.
set -euo pipefail

CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"

if [[ -x "$CHROMIUM_BIN" ]]; then
  exit 0
fi

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: $CHROMIUM_BIN is missing and this is not root; install it with: apt-get install chromium" >&2
    exit 1
  fi
fi

echo "ensure-chromium: installing chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null

if [[ ! -x "$CHROMIUM_BIN" ]]; then
  echo "ensure-chromium: apt-get finished but $CHROMIUM_BIN is still missing" >&2
  exit 1
fi
