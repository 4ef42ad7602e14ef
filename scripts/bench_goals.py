"""The performance goals `make bench` checks, and the summary table of them.

linkding (the self-hosted bookmark manager, SQLite, uWSGI), measured once on this
machine next to the same bare hop and client, lists at about 2.3% of the bare hop's
rate and saves at about 2.1%; a call's ratio to the bare hop divided by these gives
its multiple of linkding without running linkding in every benchmark."""

from __future__ import annotations

import math
from dataclasses import dataclass

LINKDING_LIST = 0.023
LINKDING_SAVE = 0.021
LINKDING_MULTIPLE = 5.0
READ_SHARE = 0.33  # lists and news, of the bare hop
SAVE_SHARE = 0.20  # saves on Postgres, of the bare hop
MIX_P99_MS = 50.0
SAVE_P99_MS = 100.0
PROPAGATION_P99_MS = 250.0
FAN_OUT_MS = 2000.0
MEMORY_MB = 400.0
WRITERS = {"sqlite": 16, "postgres": 64}


@dataclass(frozen=True)
class Goal:
    name: str
    database: str
    target: str
    measured: str
    met: bool | None  # None: measured, with no target on this database

    def row(self) -> str:
        verdict = {True: "met", False: "**not met**", None: "measured only"}[self.met]
        return f"| {self.name} | {self.database} | {self.target} | {self.measured} | {verdict} |"


def summary_table(goals: list[Goal]) -> list[str]:
    return [
        "| goal | database | target | measured | met? |",
        "| --- | --- | --- | --- | --- |",
        *(goal.row() for goal in goals),
    ]


def share_target(label: str, database: str) -> float | None:
    """The least share of the bare hop a closed-loop call must reach; None when the
    goal leaves it unset (saves on SQLite, whose one writer serialises them)."""
    if label.startswith("POST"):
        return SAVE_SHARE if database == "postgres" else None
    return READ_SHARE


def linkding_multiple(label: str, share: float) -> float:
    return share / (LINKDING_SAVE if label.startswith("POST") else LINKDING_LIST)


def below(value: float, limit: float) -> bool:
    """value < limit, false for a figure that could not be measured (NaN)."""
    return not math.isnan(value) and value < limit
