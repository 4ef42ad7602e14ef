#!/usr/bin/env bash
# Builds a local stand-in for python:3.11-slim-bookworm and imports it into the local
# container storage, for machines that cannot pull from a registry. Prints its name.
#
# What it is: a Debian 12 minbase root (debootstrap) with Debian's Python 3.11, the
# packages the official slim image adds (ca-certificates, netbase, tzdata), and pip,
# setuptools and wheel installed into /usr/local like the official image, so
# `python`, `python3`, `pip` and `pip3` are on /usr/local/bin. Used only through the
# PYTHON_IMAGE build argument; the Dockerfiles keep the real pinned base.
#
# Cached under ${XDG_CACHE_HOME:-$HOME/.cache}/delinkcious/base-image/<key>, the key
# being a hash of this script: a second run reuses the root and, when the image
# with that key is still in the storage, the image itself.
#
# Environment:
#   CONTAINER_TOOL  podman (default) or docker: where the image is imported
#   DEBIAN_MIRROR   the Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

cd "$(dirname "$0")/.."

SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=python3,python3-venv,ca-certificates,netbase,tzdata
TOOL="${CONTAINER_TOOL:-podman}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/delinkcious/base-image"

fail() {
  echo "base-image: $*" >&2
  exit 1
}

case "$TOOL" in
  podman) tool=(podman --storage-driver vfs) ;;
  docker) tool=(docker) ;;
  *) fail "CONTAINER_TOOL must be podman or docker, not '$TOOL'" ;;
esac

key="$(sha256sum "$0" | cut -c1-12)"
image="localhost/python-standin:3.11-slim-bookworm-$key"
dir="$CACHE/$key"
tarball="$dir/rootfs.tar"

if "${tool[@]}" image inspect "$image" >/dev/null 2>&1; then
  echo "base-image: reusing $image" >&2
  echo "$image"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  [ "$(id -u)" = 0 ] || fail "debootstrap needs root"
  command -v debootstrap >/dev/null || fail "debootstrap is missing (apt-get install debootstrap)"
  mkdir -p "$dir"
  root="$(mktemp -d "$dir/root.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  echo "base-image: debootstrap $SUITE into $root" >&2
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >&2

  # The official image's Python lives in /usr/local and is not marked as managed by
  # the system, so `pip install` and `pip uninstall` work there: the same here, with
  # pip, setuptools and wheel installed from Debian's own wheels (pip runs from its
  # wheel, which is how ensurepip bootstraps it too). Debian's default scheme for root
  # outside a venv is /usr/local/lib/python3.11/dist-packages and /usr/local/bin.
  rm -f "$root"/usr/lib/python3.11/EXTERNALLY-MANAGED
  wheels=("$root"/usr/share/python-wheels/*.whl)
  pip_wheel="$(ls "$root"/usr/share/python-wheels/pip-*.whl)"
  chroot "$root" /usr/bin/python3.11 "${pip_wheel#"$root"}/pip" install --quiet --no-index \
    --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
    "${wheels[@]#"$root"}" >&2
  ln -sf /usr/bin/python3.11 "$root/usr/local/bin/python3.11"
  ln -sf python3.11 "$root/usr/local/bin/python3"
  ln -sf python3 "$root/usr/local/bin/python"
  # What the official slim image leaves out: apt lists and caches, docs, man pages.
  # The byte code Debian compiled at install stays: a read-only root cannot add it.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
  # mktemp made the folder 0700; it becomes the image's / and must be everyone's.
  chmod 0755 "$root"
  tar --numeric-owner -C "$root" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$root"
  trap - EXIT
else
  echo "base-image: reusing the root in $tarball" >&2
fi

echo "base-image: importing $image" >&2
"${tool[@]}" import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$tarball" "$image" >/dev/null
echo "$image"
