"""Every module of the project's packages, imported: for tests that check something of
all of them (metrics registered, routes' dependencies)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

PACKAGES = (
    "delinkcious",
    "api_gateway",
    "link_service",
    "user_service",
    "social_graph_service",
    "news_service",
    "link_checker",
)


def project_modules() -> Iterator[ModuleType]:
    """Each package and its modules, but the entry points (`__main__`, which run a
    service when imported) and the generated gRPC code."""
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        yield package
        for module in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if module.name.endswith("__main__") or ".news.v1." in module.name:
                continue
            yield importlib.import_module(module.name)
