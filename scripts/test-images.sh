#!/usr/bin/env bash
# `make test-images`: builds the base and every service image with buildah on the local
# stand-in for python:3.11-slim-bookworm (scripts/base-image.sh), then
#   1. checks each image (tests/images/test_image_contents.py),
#   2. runs each under podman as the Helm chart renders its pod, against this machine's
#      NATS, Redis and Postgres (tests/images/test_chart_pods.py),
#   3. runs the end-to-end tests (tests/e2e) against the whole system run from its images,
# and prints each image's size, start-to-ready time and idle memory (build/images.md;
# RECORD=1 also writes them into docs/benchmarks.md). Needs root.
#
# Environment: TAG (default: test), DELINKCIOUS_TEST_POSTGRES_URL (default: the machine's
# postgresql://postgres@127.0.0.1:5432/postgres), RECORD=1.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
TAG="${TAG:-test}"
REGISTRY=localhost/delinkcious
export DELINKCIOUS_TEST_POSTGRES_URL="${DELINKCIOUS_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"

[ "$(id -u)" = 0 ] || { echo "test-images: needs root (debootstrap, podman with vfs storage)" >&2; exit 1; }

seconds() { date +%s; }
began="$(seconds)"

# Imported with podman (buildah builds from the same storage), whatever CONTAINER_TOOL says.
standin="$(CONTAINER_TOOL=podman scripts/base-image.sh)"
built_standin="$(seconds)"
CONTAINER_TOOL=buildah PYTHON_IMAGE="$standin" REGISTRY="$REGISTRY" TAG="$TAG" scripts/build-images.sh
built="$(seconds)"
export DELINKCIOUS_IMAGE_TAG="$TAG" DELINKCIOUS_IMAGE_REGISTRY="$REGISTRY"
export DELINKCIOUS_IMAGE_STANDIN="$standin"
# The base those images were built on: the first command a dry run prints.
# Read whole, then the first line: `| head -n 1` would end the dry run with SIGPIPE, which
# pipefail turns into a failure of this script.
dry_run="$(CONTAINER_TOOL=buildah PYTHON_IMAGE="$standin" DRY_RUN=1 TAG="$TAG" scripts/build-images.sh 2>/dev/null)"
DELINKCIOUS_IMAGE_BASE="$(printf '%s\n' "$dry_run" | sed -n -E '1s/.* --tag (delinkcious-base:[0-9a-f]+) .*/\1/p')"
export DELINKCIOUS_IMAGE_BASE

rm -f build/images.md
"$PY" -m pytest tests/images -p no:cacheprovider -q
tested="$(seconds)"
DELINKCIOUS_E2E_IMAGE_TAG="$TAG" "$PY" -m pytest tests/e2e -p no:cacheprovider -q
ended="$(seconds)"

report="$(cat build/images.md)"
timing="stand-in base $((built_standin - began)) s, image builds $((built - built_standin)) s,"
timing+=" image tests $((tested - built)) s, end-to-end tests $((ended - tested)) s, total $((ended - began)) s"
printf '\n%s\n%s\n' "$report" "$timing"
printf '%s\n' "$timing" >> build/images.md
if [ "${RECORD:-0}" = 1 ]; then
  "$PY" -m tests.images.record build/images.md docs/benchmarks.md
fi
