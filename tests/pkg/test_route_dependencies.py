"""No route dependency is a plain function. FastAPI runs a plain (sync) dependency in
its thread pool: a thread hop, two context switches, on every request that uses it,
for what is nearly always an attribute read. A route's own function may be plain (its
blocking database work belongs in a thread); what it depends on may not."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tests.project_modules import PACKAGES, project_modules


def _routes() -> Iterator[tuple[str, APIRoute]]:
    for module in project_modules():
        for attribute in vars(module).values():
            if isinstance(attribute, APIRouter | FastAPI):
                for route in attribute.routes:
                    if isinstance(route, APIRoute):
                        yield module.__name__, route


def _is_async(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    # An instance (a security scheme): its __call__ is what runs.
    return inspect.iscoroutinefunction(type(call).__call__)


def _plain(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None and not _is_async(sub.call):
            yield getattr(sub.call, "__qualname__", repr(sub.call))
        yield from _plain(sub)


def test_every_route_dependency_runs_on_the_event_loop() -> None:
    routes = list(_routes())
    # The walk finds the routers: every service's and the gateway's.
    found = {module.split(".")[0] for module, _ in routes}
    assert set(PACKAGES) - {"delinkcious", "news_service"} <= found, found
    plain = {
        f"{module}: {' '.join(sorted(route.methods or ()))} {route.path} -> {name}"
        for module, route in routes
        for name in _plain(route.dependant)
    }
    assert not plain, sorted(plain)
