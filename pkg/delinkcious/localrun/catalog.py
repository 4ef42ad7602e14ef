"""What `make run` starts, as data.

Each entry describes one process: how to start it, the port it prefers, the
database it owns and the secrets and URLs it needs. NATS, Redis, news-manager,
link-checker and the api-gateway join the local system by adding entries here.
"""

from __future__ import annotations

from dataclasses import dataclass

PYTHON = "{python}"  # in argv: the interpreter running the runner (the project's venv)


@dataclass(frozen=True)
class ServiceDef:
    name: str  # the Kubernetes name, also the log prefix
    argv: tuple[str, ...]  # PYTHON is replaced by sys.executable
    default_port: int
    port_env: str  # set it to pin the port; the run fails if that port is taken
    database_env: str | None = None  # unset in the caller's env: a SQLite file in the data folder
    accepts: tuple[str, ...] = ()  # callers whose secrets go into CALLER_TOKENS
    has_caller_token: bool = False  # gets CALLER_TOKEN: it calls other services
    page_token_key: bool = False  # gets PAGE_TOKEN_KEY
    uses: tuple[tuple[str, str], ...] = ()  # (env var, service): that service's local URL
    scheme: str = "http"  # of the URL other services are given
    ready_path: str | None = "/readyz"  # polled over HTTP until it answers 200

    @property
    def sqlite_file(self) -> str:
        return self.name.replace("-", "_") + ".db"


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        name="link-manager",
        argv=(PYTHON, "-m", "link_service"),
        default_port=8080,
        port_env="LINK_MANAGER_PORT",
        database_env="LINK_MANAGER_DATABASE_URL",
        accepts=("api-gateway", "link-checker"),
        page_token_key=True,
    ),
    ServiceDef(
        name="user-manager",
        argv=(PYTHON, "-m", "user_service"),
        default_port=7070,
        port_env="USER_MANAGER_PORT",
        database_env="USER_MANAGER_DATABASE_URL",
        accepts=("api-gateway", "social-graph-manager"),
    ),
    ServiceDef(
        name="social-graph-manager",
        argv=(PYTHON, "-m", "social_graph_service"),
        default_port=9090,
        port_env="SOCIAL_GRAPH_MANAGER_PORT",
        database_env="SOCIAL_GRAPH_MANAGER_DATABASE_URL",
        accepts=("api-gateway", "news-manager"),
        has_caller_token=True,
        page_token_key=True,
        uses=(("USER_MANAGER_URL", "user-manager"),),
    ),
)


def select(services: tuple[ServiceDef, ...], only: set[str] | None) -> tuple[ServiceDef, ...]:
    """The entries named in `only` (all of them when None), in table order."""
    if only is None:
        return services
    known = {s.name for s in services}
    unknown = sorted(only - known)
    if unknown:
        raise ValueError(f"unknown service {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return tuple(s for s in services if s.name in only)
