#!/usr/bin/env bash
# Builds one image per service, named <REGISTRY>/<service name>:<TAG>, on top of
# Dockerfile.base. The one build script: CI, `make images` and `make deploy` all use it.
#
# A service is a package under services/ with a __main__.py; each must have a
# services/<package>/Dockerfile whose `LABEL org.opencontainers.image.title` is the
# service's name (the Kubernetes name: link-manager, api-gateway, ...). A new service is
# therefore built as soon as its Dockerfile exists; one without a Dockerfile fails the build.
#
# Environment:
#   REGISTRY  image prefix (default docker.io/delinkcious)
#   TAG       image tag (default: the current commit, abbreviated to 7 characters)
#   PUSH=1    push each service image after building it (the base image stays local)
#   DRY_RUN=1 print the docker commands instead of running them, one per line
#   DOCKER    the docker client to use (default docker)
set -euo pipefail

cd "$(dirname "$0")/.."

REGISTRY="${REGISTRY:-docker.io/delinkcious}"
REGISTRY="${REGISTRY%/}"
PUSH="${PUSH:-0}"
DRY_RUN="${DRY_RUN:-0}"
DOCKER="${DOCKER:-docker}"

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
  command -v "$DOCKER" >/dev/null 2>&1 || fail "'$DOCKER' not found: install Docker (or point DOCKER at a client)"
fi

labels=(
  --label "org.opencontainers.image.revision=$revision"
  --label "org.opencontainers.image.version=$TAG"
)

# The base is an intermediate image: tagged locally per TAG so that builds of two
# commits on one daemon don't mix, and never pushed.
base="delinkcious-base:$TAG"
echo "build-images: base $base" >&2
run "$DOCKER" build --file Dockerfile.base --tag "$base" "${labels[@]}" .

while IFS=$'\t' read -r pkg name; do
  image="$REGISTRY/$name:$TAG"
  echo "build-images: $pkg -> $image" >&2
  run "$DOCKER" build --file "services/$pkg/Dockerfile" --build-arg "BASE_IMAGE=$base" \
    --tag "$image" "${labels[@]}" .
  if [ "$PUSH" = 1 ]; then
    run "$DOCKER" push "$image"
  fi
done <<<"$services"
