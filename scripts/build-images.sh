#!/usr/bin/env bash
# Builds one image per service, named <REGISTRY>/<service name>:<TAG>, on top of
# Dockerfile.base. The one build script: CI, `make images`, `make deploy` and
# `make test-images` all use it.
#
# A service is a package under services/ with a __main__.py; each must have a
# services/<package>/Dockerfile whose `LABEL org.opencontainers.image.title` is the
# service's name (the Kubernetes name: link-manager, api-gateway, ...). A new service is
# therefore built as soon as its Dockerfile exists; one without a Dockerfile fails the build.
#
# The base image is tagged delinkcious-base:<key>, the key a hash of what it is built
# from (Dockerfile.base, pyproject.toml, uv.lock, PYTHON_IMAGE): a build finds it in the
# local storage when nothing of that changed, and builds only the service images.
#
# Environment:
#   REGISTRY        image prefix (default docker.io/delinkcious)
#   TAG             image tag (default: the current commit, abbreviated to 7 characters)
#   PUSH=1          push each service image after building it (the base image stays local)
#   DRY_RUN=1       print the build commands instead of running them, one per line
#   CONTAINER_TOOL  docker or buildah (default: docker when a Docker engine answers,
#                   else buildah when installed, else docker)
#   DOCKER          the docker client to use (default docker)
#   PYTHON_IMAGE    build the base on this image instead of Dockerfile.base's pinned
#                   python:3.11-slim-bookworm (e.g. scripts/base-image.sh's stand-in)
#   CA_BUNDLE       buildah only: a CA bundle mounted (never copied) into the build at
#                   /etc/ssl/certs/ca-certificates.crt, for a TLS-inspecting proxy
#                   (default: pip's configured `cert`, if any)
#   REBUILD_BASE=1  build the base image even when one with its key exists
set -euo pipefail

cd "$(dirname "$0")/.."

REGISTRY="${REGISTRY:-docker.io/delinkcious}"
REGISTRY="${REGISTRY%/}"
PUSH="${PUSH:-0}"
DRY_RUN="${DRY_RUN:-0}"
DOCKER="${DOCKER:-docker}"
PYTHON_IMAGE="${PYTHON_IMAGE:-}"
REBUILD_BASE="${REBUILD_BASE:-0}"

fail() {
  echo "build-images: $*" >&2
  exit 1
}

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [ -z "${TAG:-}" ]; then
  [ "$revision" != unknown ] || fail "not a git checkout: set TAG"
  TAG="${revision:0:7}"
fi
# Docker's own rule for a tag.
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || fail "invalid TAG '$TAG'"
[ -n "$REGISTRY" ] || fail "REGISTRY is empty"
case "$PUSH" in 0 | 1) ;; *) fail "PUSH must be 0 or 1, not '$PUSH'" ;; esac
case "$DRY_RUN" in 0 | 1) ;; *) fail "DRY_RUN must be 0 or 1, not '$DRY_RUN'" ;; esac
case "$REBUILD_BASE" in 0 | 1) ;; *) fail "REBUILD_BASE must be 0 or 1, not '$REBUILD_BASE'" ;; esac

if [ -z "${CONTAINER_TOOL:-}" ]; then
  if "$DOCKER" info >/dev/null 2>&1; then
    CONTAINER_TOOL=docker
  elif command -v buildah >/dev/null 2>&1; then
    CONTAINER_TOOL=buildah
  else
    CONTAINER_TOOL=docker
  fi
fi

case "$CONTAINER_TOOL" in
  docker)
    tool=("$DOCKER")
    build=("$DOCKER" build)
    ;;
  buildah)
    # vfs and chroot: they work without kernel overlay support or user namespaces.
    tool=(buildah --storage-driver vfs)
    build=("${tool[@]}" bud --isolation chroot)
    ca="${CA_BUNDLE:-$(python3 -m pip config list 2>/dev/null | sed -n -E "s/^[^=]*\.cert='(.*)'$/\1/p" | head -n 1)}"
    if [ -n "$ca" ]; then
      [ -f "$ca" ] || fail "CA_BUNDLE '$ca' is not a file"
      build+=(--volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro")
    fi
    ;;
  *) fail "CONTAINER_TOOL must be docker or buildah, not '$CONTAINER_TOOL'" ;;
esac

run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '%q' "$1"
    shift
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# package<TAB>name for every service package, sorted by package.
discover() {
  local main dir pkg dockerfile name
  for main in services/*/__main__.py; do
    [ -e "$main" ] || continue
    dir="$(dirname "$main")"
    pkg="$(basename "$dir")"
    dockerfile="$dir/Dockerfile"
    [ -f "$dockerfile" ] || fail "$pkg has no Dockerfile ($dockerfile)"
    name="$(sed -n -E 's/^LABEL org\.opencontainers\.image\.title="([a-z0-9-]+)"$/\1/p' "$dockerfile")"
    [ -n "$name" ] || fail "$dockerfile has no LABEL org.opencontainers.image.title=\"<service name>\""
    printf '%s\t%s\n' "$pkg" "$name"
  done
}

services="$(discover)"
[ -n "$services" ] || fail "no service packages under services/"

if [ "$DRY_RUN" != 1 ]; then
  command -v "${tool[0]}" >/dev/null 2>&1 ||
    fail "'${tool[0]}' not found: install Docker or buildah (or point DOCKER at a client)"
fi

labels=(
  --label "org.opencontainers.image.revision=$revision"
  --label "org.opencontainers.image.version=$TAG"
)

# The base is an intermediate image, never pushed; its tag is what it is built from.
key="$(cat Dockerfile.base pyproject.toml uv.lock <(printf '%s' "$PYTHON_IMAGE") | sha256sum | cut -c1-12)"
base="delinkcious-base:$key"
base_args=()
[ -z "$PYTHON_IMAGE" ] || base_args+=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
image_exists() {
  if [ "$CONTAINER_TOOL" = buildah ]; then
    "${tool[@]}" inspect --type image "$1" >/dev/null 2>&1
  else
    "${tool[@]}" image inspect "$1" >/dev/null 2>&1
  fi
}
if [ "$DRY_RUN" != 1 ] && [ "$REBUILD_BASE" = 0 ] && image_exists "$base"; then
  echo "build-images: base $base (already built)" >&2
else
  echo "build-images: base $base" >&2
  run "${build[@]}" --file Dockerfile.base --tag "$base" "${base_args[@]}" .
fi

while IFS=$'\t' read -r pkg name; do
  image="$REGISTRY/$name:$TAG"
  echo "build-images: $pkg -> $image" >&2
  run "${build[@]}" --file "services/$pkg/Dockerfile" --build-arg "BASE_IMAGE=$base" \
    --tag "$image" "${labels[@]}" .
  if [ "$PUSH" = 1 ]; then
    run "${tool[@]}" push "$image"
  fi
done <<<"$services"
