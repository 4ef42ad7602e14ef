"""docs/telemetry.md's metric table, read the way an operator reads it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "telemetry.md"
SERVICES = (
    "api-gateway",
    "link-manager",
    "user-manager",
    "social-graph-manager",
    "news-manager",
    "link-checker",
)


@dataclass(frozen=True)
class DocumentedMetric:
    name: str
    type: str
    unit: str
    labels: tuple[str, ...]
    services: tuple[str, ...]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def documented_metrics() -> dict[str, DocumentedMetric]:
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Metric |"))
    assert _cells(lines[start])[:5] == ["Metric", "Type", "Unit", "Labels", "Services"], lines[start]
    found: dict[str, DocumentedMetric] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        name, kind, unit, labels, services = _cells(line)[:5]
        name = name.strip("`")
        assert name not in found, f"{name} is listed twice"
        found[name] = DocumentedMetric(
            name=name,
            type=kind,
            unit=unit,
            labels=tuple(re.findall(r"`([a-z_]+)`", labels)),
            services=SERVICES if services == "all" else tuple(s.strip() for s in services.split(",")),
        )
    return found
