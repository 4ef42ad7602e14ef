"""What `make run` starts, as data.

Each entry describes one process: how to start it, the port it prefers, the
database it owns and the secrets and URLs it needs. NATS, Redis, news-manager,
link-checker and the api-gateway join the local system by adding entries here.
"""

from __future__ import annotations

from dataclasses import dataclass

PYTHON = "{python}"  # in argv: the interpreter running the runner (the project's venv)
# Also in argv: "{bin}" the venv's bin folder (nats-server, redis-server come from
# packages installed there), "{port}" the chosen port, "{data}" the data folder.


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
    scheme: str = "http"  # of the URL other services are given ("grpc": host:port)
    ready_path: str | None = "/readyz"  # polled over HTTP until it answers 200
    # Infrastructure (NATS, Redis): not started when the caller sets this variable;
    # services then use the caller's URL.
    url_env: str | None = None
    ready_tcp: bool = False  # ready once the port accepts connections
    # A second, HTTP port for health and metrics (news-manager serves gRPC on the first).
    http_port_env: str | None = None  # the variable the service reads it from
    http_default_port: int = 0
    http_pin_env: str | None = None  # set it to pin that port, as port_env does the first
    # Defaults for the local run only; the caller's environment wins. "{port}" and
    # "{url}" are this service's port and URL.
    local_defaults: tuple[tuple[str, str], ...] = ()
    session_secret: bool = False  # gets SESSION_SECRET (signs the gateway's login cookie)
    # Started only once every process it uses, directly or through them, is ready, so
    # that its own readiness means the system behind it can serve.
    starts_after_uses: bool = False

    @property
    def sqlite_file(self) -> str:
        return self.name.replace("-", "_") + ".db"


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef(
        name="nats",
        argv=("{bin}/nats-server", "-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", "{data}/nats"),
        default_port=4222,
        port_env="NATS_PORT",
        scheme="nats",
        ready_path=None,
        ready_tcp=True,
        url_env="NATS_URL",
    ),
    ServiceDef(
        name="redis",
        argv=(
            "{bin}/redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "{port}",
            "--dir",
            "{data}/redis",
            "--appendonly",
            "yes",  # feeds survive a restart of the local run
            "--save",
            "",
        ),
        default_port=6379,
        port_env="REDIS_PORT",
        scheme="redis",
        ready_path=None,
        ready_tcp=True,
        url_env="REDIS_URL",
    ),
    ServiceDef(
        name="link-manager",
        argv=(PYTHON, "-m", "link_service"),
        default_port=8080,
        port_env="LINK_MANAGER_PORT",
        database_env="LINK_MANAGER_DATABASE_URL",
        accepts=("api-gateway", "link-checker"),
        page_token_key=True,
        uses=(("NATS_URL", "nats"),),
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
    ServiceDef(
        name="news-manager",
        argv=(PYTHON, "-m", "news_service"),
        default_port=6060,
        port_env="NEWS_MANAGER_PORT",
        scheme="grpc",
        accepts=("api-gateway",),
        has_caller_token=True,
        page_token_key=True,
        uses=(
            ("NATS_URL", "nats"),
            ("REDIS_URL", "redis"),
            ("SOCIAL_GRAPH_MANAGER_URL", "social-graph-manager"),
        ),
        http_port_env="HTTP_PORT",
        http_default_port=6061,
        http_pin_env="NEWS_MANAGER_HTTP_PORT",
    ),
    ServiceDef(
        name="link-checker",
        argv=(PYTHON, "-m", "link_checker"),
        default_port=8081,
        port_env="LINK_CHECKER_PORT",
        accepts=("link-manager",),
        uses=(("NATS_URL", "nats"),),
        # Locally, links usually point at pages on this machine; the Helm chart keeps
        # the address filter on.
        local_defaults=(("LINK_CHECKER_ALLOW_PRIVATE_NETWORKS", "true"),),
    ),
    ServiceDef(
        name="api-gateway",
        argv=(PYTHON, "-m", "api_gateway"),
        default_port=5000,
        port_env="GATEWAY_PORT",
        has_caller_token=True,
        session_secret=True,
        uses=(
            ("LINK_MANAGER_URL", "link-manager"),
            ("USER_MANAGER_URL", "user-manager"),
            ("SOCIAL_GRAPH_MANAGER_URL", "social-graph-manager"),
            ("NEWS_MANAGER_TARGET", "news-manager"),
            # The Redis code path the replicas in a cluster take, tested by every local run.
            ("REDIS_URL", "redis"),
        ),
        local_defaults=(("DEV_LOGIN", "true"), ("PUBLIC_URL", "{url}")),
        # A script that waits for the gateway's /readyz may then use every route.
        starts_after_uses=True,
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
