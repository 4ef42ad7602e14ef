"""Puts the image measurements `make test-images` wrote (build/images.md) into the
"Container images" section of docs/benchmarks.md, leaving the rest of the file alone.
Usage: python -m tests.images.record build/images.md docs/benchmarks.md"""

from __future__ import annotations

import sys
from pathlib import Path

HEADING = "## Container images"
INTRO = """\
Written by `make test-images RECORD=1` (tests/images): each service image run by podman as the
Helm chart runs its pod (read-only root, uid 10001, every capability dropped) against this
machine's NATS, Redis and Postgres. Migration is the init container's `migrate` run; start to
ready is from `podman start` to the first 200 from /readyz (the container is created before:
with vfs storage, creating one copies the whole image, a cost of this machine's storage, not of
the image); idle RSS is the container's processes 5 s after every service was ready. Images
are built with buildah on the local stand-in base (docs/deploying.md); sizes are uncompressed."""


def replace_section(document: str, section: str) -> str:
    before, found, after = document.partition(HEADING)
    rest = ""
    if found:
        _, next_heading, tail = after.partition("\n## ")
        rest = f"\n## {tail}" if next_heading else ""
    return before.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n" + rest


def main(source: Path, target: Path) -> None:
    section = f"{HEADING}\n\n{INTRO}\n\n{source.read_text().strip()}\n"
    target.write_text(replace_section(target.read_text(), section))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
