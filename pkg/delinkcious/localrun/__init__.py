"""The whole system on one machine, without Docker: `python -m delinkcious.localrun`
(what `make run` starts), or LocalSystem from code and tests."""

from delinkcious.localrun.catalog import SERVICES, ServiceDef
from delinkcious.localrun.lock import AlreadyRunning
from delinkcious.localrun.plan import PlanError, ProcessSpec
from delinkcious.localrun.system import LocalSystem, StartupError, StopRequested

__all__ = [
    "SERVICES",
    "AlreadyRunning",
    "LocalSystem",
    "PlanError",
    "ProcessSpec",
    "ServiceDef",
    "StartupError",
    "StopRequested",
]
