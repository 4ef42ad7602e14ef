"""What the image tests measure (size, start-to-ready, idle memory), printed at the end
and written to build/images.md, which `make test-images` shows and RECORD=1 puts into
docs/benchmarks.md."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "images.md"


@dataclass
class Row:
    size_mb: float
    migrate_s: float | None = None
    ready_s: float | None = None
    rss_mb: float | None = None


@dataclass
class Report:
    base_size_mb: float | None = None
    standin_size_mb: float | None = None
    rows: dict[str, Row] = field(default_factory=dict)

    def markdown(self) -> str:
        def num(value: float | None, unit: str) -> str:
            return "-" if value is None else f"{value:.1f} {unit}" if unit else f"{value:.1f}"

        lines = [
            "| Image | Size | Migration | Start to ready | Idle RSS |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in sorted(self.rows.items()):
            lines.append(
                f"| {name} | {num(row.size_mb, 'MB')} | {num(row.migrate_s, 's')} | "
                f"{num(row.ready_s, 's')} | {num(row.rss_mb, 'MB')} |"
            )
        if self.base_size_mb is not None:
            lines.append(f"| delinkcious-base | {num(self.base_size_mb, 'MB')} | | | |")
        if self.standin_size_mb is not None:
            lines.append(f"| python:3.11-slim-bookworm stand-in | {num(self.standin_size_mb, 'MB')} | | | |")
        lines.append("")
        lines.append(f"Measured on {os.cpu_count()} shared cores, podman (vfs storage, runc).")
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        if not self.rows:
            return
        OUT.parent.mkdir(exist_ok=True)
        OUT.write_text(self.markdown())
