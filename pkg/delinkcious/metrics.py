"""Every Prometheus metric Delinkcious exports, defined once (docs/telemetry.md lists
them; a test keeps the two in agreement).

The request metrics of HTTP and gRPC servers and clients are recorded by the shared
middleware, interceptors and client transport; the `delinkcious_` ones are recorded
where the domain event happens. Label values come from small, fixed sets: never a
username, a URL or an id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)
# Distinct label sets one cache keeps: far more than the routes, methods and statuses
# of any service; past it, `labels()` is simply called each time.
_MAX_CHILDREN = 4096


def labelled(metric: M) -> Callable[..., M]:
    """`metric.labels(*values)` with the child kept after its first use: `labels()`
    takes a lock and builds a tuple of strings on every call, which a per-request
    metric would otherwise pay at every hop. Label values are passed as strings."""
    children: dict[tuple[str, ...], Any] = {}

    def child(*values: str) -> M:
        found = children.get(values)
        if found is None:
            found = metric.labels(*values)
            if len(children) < _MAX_CHILDREN:
                children[values] = found
        return found

    return child


# Seconds: from a cache hit to a slow fan-out or a link check that times out.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# ---------------------------------------------------------------------- HTTP

HTTP_SERVER_REQUESTS = Counter(
    "http_server_requests_total",
    "HTTP requests served, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_SERVER_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to serve an HTTP request, by route template.",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_CLIENT_REQUESTS = Counter(
    "http_client_requests_total",
    "HTTP requests sent to other Delinkcious services, by target, route template and status "
    "(`error` when no response came back).",
    ["target", "method", "route", "status"],
)
HTTP_CLIENT_DURATION = Histogram(
    "http_client_request_duration_seconds",
    "Time until another service answered an HTTP request (or the attempt failed).",
    ["target", "method", "route"],
    buckets=LATENCY_BUCKETS,
)

# ---------------------------------------------------------------------- gRPC

GRPC_SERVER_REQUESTS = Counter(
    "grpc_server_requests_total",
    "gRPC calls served, by method and status code.",
    ["service", "method", "code"],
)
GRPC_SERVER_DURATION = Histogram(
    "grpc_server_request_duration_seconds",
    "Time to serve a gRPC call, by method.",
    ["service", "method"],
    buckets=LATENCY_BUCKETS,
)
GRPC_CLIENT_REQUESTS = Counter(
    "grpc_client_requests_total",
    "gRPC calls made to other services, by target, method and status code.",
    ["target", "method", "code"],
)
GRPC_CLIENT_DURATION = Histogram(
    "grpc_client_request_duration_seconds",
    "Time until a gRPC call to another service completed.",
    ["target", "method"],
    buckets=LATENCY_BUCKETS,
)

# ---------------------------------------------------------------------- links (link-manager)

LINKS_CREATED = Counter("delinkcious_links_created_total", "Links saved.")
LINKS_UPDATED = Counter("delinkcious_links_updated_total", "Links updated.")
LINKS_DELETED = Counter("delinkcious_links_deleted_total", "Links deleted.")
OUTBOX_BACKLOG = Gauge(
    "delinkcious_outbox_backlog_events",
    "Link events in the outbox not yet published, as the relay last saw them.",
)
OUTBOX_OLDEST_AGE = Gauge(
    "delinkcious_outbox_oldest_event_age_seconds",
    "Age of the oldest unpublished outbox event (0 when none waits), as the relay last saw it.",
)

# ---------------------------------------------------------------------- the event bus

EVENTS_PUBLISHED = Counter(
    "delinkcious_events_published_total",
    "Messages published to JetStream, by subject and outcome "
    "(stored, duplicate: dropped by the broker's de-duplication, failed).",
    ["subject", "outcome"],
)
EVENTS_CONSUMED = Counter(
    "delinkcious_events_consumed_total",
    "Messages handled by a durable consumer, by outcome (acked; failed: redelivery requested).",
    ["durable", "outcome"],
)
EVENT_HANDLING_DURATION = Histogram(
    "delinkcious_event_handling_duration_seconds",
    "Time a consumer's handler spent on one message.",
    ["durable"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_PENDING = Gauge(
    "delinkcious_consumer_pending_messages",
    "Messages in the stream not yet delivered to the durable consumer (its lag), sampled.",
    ["durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "delinkcious_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acknowledged, sampled.",
    ["durable"],
)

# ---------------------------------------------------------------------- news (news-manager)

FANOUT_FOLLOWERS = Histogram(
    "delinkcious_news_fanout_followers",
    "Followers one link event was fanned out to.",
    buckets=(0, 1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000),
)
FANOUT_DURATION = Histogram(
    "delinkcious_news_fanout_duration_seconds",
    "Time to fan one link event out to every follower's feed.",
    buckets=LATENCY_BUCKETS,
)
FEED_WRITES = Counter(
    "delinkcious_feed_writes_total",
    "Feed entries written (one per follower per event; a redelivered event writes again).",
)

# ---------------------------------------------------------------------- link checks (link-checker)

LINK_CHECK_RESULTS = ("valid", "invalid", "blocked")
LINK_CHECKS = Counter(
    "delinkcious_link_checks_total",
    "Links checked, by result (blocked: refused by the address policy, also invalid).",
    ["result"],
)
LINK_CHECK_DURATION = Histogram(
    "delinkcious_link_check_duration_seconds",
    "Time to check one link, waiting for a free slot included.",
    buckets=LATENCY_BUCKETS,
)

# ---------------------------------------------------------------------- identity

TOKEN_VALIDATION_RESULTS = ("valid", "unknown", "revoked", "expired")
TOKEN_VALIDATIONS = Counter(
    "delinkcious_token_validations_total",
    "Access tokens validated by user-manager, by result.",
    ["result"],
)
LOGIN_ATTEMPTS = Counter(
    "delinkcious_login_attempts_total",
    "Completed logins at the gateway (a provider's callback, or the development login), "
    "by provider and result (success, or the error code the user got).",
    ["provider", "result"],
)

# ---------------------------------------------------------------------- gateway replicas

GATEWAY_SHARED_STATE_USES = ("login_state", "rate_limit", "revocation", "list_cache")
GATEWAY_SHARED_STATE_OUTCOMES = ("ok", "failed", "skipped")
GATEWAY_SHARED_STATE_OPERATIONS = Counter(
    "delinkcious_gateway_shared_state_operations_total",
    "Uses of the gateway replicas' shared state in Redis, by use (login_state, rate_limit, "
    "revocation, list_cache: a change to a user's links told to the other replicas) and "
    "outcome (ok; failed: Redis did not answer; skipped: not tried, as Redis "
    "failed less than a second ago). Not ok: a login got 503, this replica's own rate limit "
    "applied, a revocation was not published, or a change reaches the other replicas' list "
    "caches only when their pages expire.",
    ["use", "outcome"],
)
GATEWAY_LIST_CACHE_OUTCOMES = ("hit", "miss", "bypass")
GATEWAY_LIST_CACHE_LOOKUPS = Counter(
    "delinkcious_gateway_list_cache_lookups_total",
    "Link list pages asked of the gateway's list cache, by outcome (hit: answered from it; "
    "miss: fetched from link-manager; bypass: fetched and not kept, the cache being off or "
    "the version of the user's links unknown while Redis is away).",
    ["outcome"],
)
GATEWAY_NEWS_CACHE_LOOKUPS = Counter(
    "delinkcious_gateway_news_cache_lookups_total",
    "News pages asked of the gateway's news cache, by outcome (hit: answered from it; "
    "miss: fetched from news-manager; bypass: fetched and not kept, the cache being off or "
    "the version of the user's feed unknown while Redis is away).",
    ["outcome"],
)
GATEWAY_REVOCATION_CHANNEL_UP = Gauge(
    "delinkcious_gateway_revocation_channel_up",
    "1 while this gateway replica is subscribed to the revocation channel (its token cache is "
    "in use), 0 while it is not (every request is validated by user-manager).",
)

# Series that exist from the start, so a rate or a ratio over them is never "no data".
for _result in LINK_CHECK_RESULTS:
    LINK_CHECKS.labels(_result)
for _result in TOKEN_VALIDATION_RESULTS:
    TOKEN_VALIDATIONS.labels(_result)
for _outcome in GATEWAY_LIST_CACHE_OUTCOMES:
    GATEWAY_LIST_CACHE_LOOKUPS.labels(_outcome)
    GATEWAY_NEWS_CACHE_LOOKUPS.labels(_outcome)
for _use in GATEWAY_SHARED_STATE_USES:
    for _outcome in GATEWAY_SHARED_STATE_OUTCOMES:
        GATEWAY_SHARED_STATE_OPERATIONS.labels(_use, _outcome)
