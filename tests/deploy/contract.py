"""What the deployment must provide, written down independently of the chart: the services,
their settings classes, and the network flows of the architecture. The chart's tests compare
the rendered objects with this, and the settings classes are the services' own."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

from delinkcious.settings import ServiceSettings

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"

# k8s name -> Python package.
SERVICES = {
    "api-gateway": "api_gateway",
    "link-manager": "link_service",
    "user-manager": "user_service",
    "social-graph-manager": "social_graph_service",
    "news-manager": "news_service",
    "link-checker": "link_checker",
}
DATABASE_SERVICES = {"link-manager", "user-manager", "social-graph-manager"}
# Services whose settings refuse to start without CALLER_TOKEN (they call other services).
NEEDS_CALLER_TOKEN = {"api-gateway", "social-graph-manager", "news-manager"}
PUBLIC = "api-gateway"

# (from, to, port) between the release's pods, as architecture.md describes them.
SERVICE_FLOWS = {
    ("api-gateway", "link-manager", 8080),
    ("api-gateway", "user-manager", 7070),
    ("api-gateway", "social-graph-manager", 9090),
    ("api-gateway", "news-manager", 6060),
    ("social-graph-manager", "user-manager", 7070),
    ("news-manager", "social-graph-manager", 9090),
}
DATA_FLOWS = {
    ("link-manager", "postgres", 5432),
    ("user-manager", "postgres", 5432),
    ("social-graph-manager", "postgres", 5432),
    ("news-manager", "redis", 6379),
    ("api-gateway", "redis", 6379),
    ("link-manager", "nats", 4222),
    ("news-manager", "nats", 4222),
    ("link-checker", "nats", 4222),
}
SMOKE_TEST_FLOWS = {("smoke-test", "api-gateway", 5000)}
# The HTTP port of /metrics per service.
METRICS_PORTS = {
    "api-gateway": 5000,
    "link-manager": 8080,
    "user-manager": 7070,
    "social-graph-manager": 9090,
    "news-manager": 6061,
    "link-checker": 8081,
}


def settings_class(name: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{SERVICES[name]}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, ServiceSettings) and cls is not ServiceSettings and cls.service_name == name
    ]
    assert len(found) == 1, f"{SERVICES[name]}.settings: expected one settings class named {name}"
    return found[0]


def settings_from_env(name: str, env: Mapping[str, str]) -> ServiceSettings:
    """The service's settings exactly as its process would build them from `env`."""
    with mock.patch.dict(os.environ, dict(env), clear=True):
        return settings_class(name)()


def required_variables(name: str) -> set[str]:
    """Environment variables of the settings fields that have no default."""
    cls = settings_class(name)
    return {str(f.validation_alias) for f in cls.model_fields.values() if f.is_required()}


def service_packages() -> set[str]:
    return {p.parent.name for p in SERVICES_DIR.glob("*/__main__.py")}
