"""Two gateway replicas behave as one: a login state, the rate limit and a logout are
shared through Redis."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from api_gateway.login.cookies import cookie_name
from api_gateway.shared_state import BACKOFF_SECONDS
from tests.gateway_login.github_standin import GitHubUser
from tests.replicas.conftest import BURST, RATE, Replicas, unique


def github_callback(replicas: Replicas, via: str, login: str) -> tuple[str, str]:
    """Starts a GitHub login on replica `via` and signs in at the stand-in: returns the
    callback's path and query, and the login cookie the browser holds."""
    replicas.github.signed_in = GitHubUser(id=int(time.time_ns() % 10**9), login=login)
    start = httpx.get(f"{via}/login/github", follow_redirects=False)
    assert start.status_code == 302, start.text
    cookie = start.cookies[cookie_name("github")]
    at_github = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_github.status_code == 302, at_github.text
    parts = urlsplit(at_github.headers["location"])
    return f"{parts.path}?{parts.query}", cookie


def land(base_url: str, callback: str, cookie: str) -> httpx.Response:
    return httpx.get(f"{base_url}{callback}", headers={"Cookie": f"{cookie_name('github')}={cookie}"})


def test_a_login_state_replayed_on_the_other_replica_is_refused(replicas: Replicas) -> None:
    callback, cookie = github_callback(replicas, replicas.a, unique("replay"))
    assert land(replicas.a, callback, cookie).status_code == 200

    replay = land(replicas.b, callback, cookie)
    assert replay.status_code == 401, replay.text
    assert replay.json()["error"]["code"] == "unauthenticated"
    assert "already used" in replay.json()["error"]["message"]


def burst_of_requests(replicas: Replicas, token: str, count: int, urls: tuple[str, ...]) -> tuple[int, float]:
    """`count` requests spread over `urls` as fast as they go: (accepted, seconds taken).
    Every refusal must be a 429 with Retry-After."""
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=u, headers=headers, timeout=10) for u in urls]
    accepted = 0
    started = time.monotonic()
    try:
        for i in range(count):
            response = clients[i % len(clients)].get("/v1/me")
            if response.status_code == 200:
                accepted += 1
            else:
                assert response.status_code == 429, response.text
                assert response.json()["error"]["code"] == "rate_limited"
                assert int(response.headers["Retry-After"]) >= 1
    finally:
        for c in clients:
            c.close()
    return accepted, time.monotonic() - started


def within_limit(accepted: int, seconds: float) -> bool:
    # A full bucket of BURST, plus what refills while the requests run (and one for the
    # refill that may land between the last two).
    return accepted <= BURST + int(RATE * seconds) + 1


def test_the_rate_limit_holds_across_both_replicas(replicas: Replicas) -> None:
    token = replicas.login(unique("rate"))
    accepted, seconds = burst_of_requests(replicas, token, 4 * BURST, (replicas.a, replicas.b))
    assert accepted >= BURST  # the burst is allowed in full...
    assert within_limit(accepted, seconds), (accepted, seconds)  # ...but not once per replica
    assert seconds < 3  # the figures above mean something only for a quick run


def test_a_logout_on_one_replica_is_refused_on_the_other_within_100_ms(replicas: Replicas) -> None:
    token = replicas.login(unique("logout"))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=replicas.b, headers=headers, timeout=10) as b:
        assert b.get("/v1/me").status_code == 200
        # B now answers from its token cache: user-manager is not asked again.
        validations = replicas.metric(replicas.user_manager, "delinkcious_token_validations_total")
        assert b.get("/v1/me").status_code == 200
        assert replicas.metric(replicas.user_manager, "delinkcious_token_validations_total") == validations

        assert httpx.post(f"{replicas.a}/logout", headers=headers, timeout=10).status_code == 204
        assert refused_within(b, time.monotonic()) < 0.1


def refused_within(client: httpx.Client, logged_out: float) -> float:
    """Seconds from `logged_out` until `client`'s token is refused (asserted)."""
    while (status := client.get("/v1/me").status_code) == 200 and time.monotonic() - logged_out < 1:
        pass
    assert status == 401
    return time.monotonic() - logged_out


def test_a_personal_token_deleted_on_one_replica_is_refused_on_the_other_within_100_ms(
    replicas: Replicas,
) -> None:
    login = {"Authorization": f"Bearer {replicas.login(unique('tokens'))}"}
    created = httpx.post(f"{replicas.a}/v1/tokens", json={"name": "script"}, headers=login, timeout=10)
    assert created.status_code == 201, created.text
    personal = {"Authorization": f"Bearer {created.json()['token']}"}
    with httpx.Client(base_url=replicas.b, headers=personal, timeout=10) as b:
        assert b.get("/v1/me").status_code == 200
        validations = replicas.metric(replicas.user_manager, "delinkcious_token_validations_total")
        assert b.get("/v1/me").status_code == 200  # from B's cache
        assert replicas.metric(replicas.user_manager, "delinkcious_token_validations_total") == validations

        deleted = httpx.delete(f"{replicas.a}/v1/tokens/{created.json()['id']}", headers=login, timeout=10)
        assert deleted.status_code == 204, deleted.text
        assert refused_within(b, time.monotonic()) < 0.1


def test_redis_stopped_and_restarted(replicas: Replicas) -> None:
    token = replicas.login(unique("outage"))
    headers = {"Authorization": f"Bearer {token}"}
    failed = "delinkcious_gateway_shared_state_operations_total"
    errors_before = replicas.metric(replicas.a, failed, outcome="failed")
    replicas.redis.stop()
    try:
        # Requests go on, validated by user-manager each time, limited per replica.
        assert httpx.get(f"{replicas.a}/v1/me", headers=headers).status_code == 200
        assert httpx.get(f"{replicas.b}/v1/me", headers=headers).status_code == 200
        accepted, seconds = burst_of_requests(replicas, token, 3 * BURST, (replicas.a,))
        assert within_limit(accepted + 1, seconds), (accepted, seconds)
        assert replicas.metric(replicas.a, failed, outcome="failed") > errors_before
        assert replicas.metric(replicas.b, "delinkcious_gateway_revocation_channel_up") == 0

        # A login whose state cannot be recorded is refused, not let through.
        callback, cookie = github_callback(replicas, replicas.a, unique("no-redis"))
        refused = land(replicas.a, callback, cookie)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"

        # A logout still reaches the other replica: it is not caching now.
        other = replicas.login(unique("outage-logout"))
        other_headers = {"Authorization": f"Bearer {other}"}
        assert httpx.get(f"{replicas.b}/v1/me", headers=other_headers).status_code == 200
        assert httpx.post(f"{replicas.a}/logout", headers=other_headers).status_code == 204
        assert httpx.get(f"{replicas.b}/v1/me", headers=other_headers).status_code == 401
    finally:
        replicas.redis.start()
    replicas.wait_until_subscribed()
    # A replica whose last Redis call failed leaves Redis alone for a moment after it
    # (so an outage costs one timeout a second); logins use it again once that is over.
    time.sleep(BACKOFF_SECONDS + 0.2)

    callback, cookie = github_callback(replicas, replicas.b, unique("back"))
    assert land(replicas.b, callback, cookie).status_code == 200
    assert land(replicas.a, callback, cookie).status_code == 401
    after = replicas.login(unique("after"))
    assert httpx.get(f"{replicas.b}/v1/me", headers={"Authorization": f"Bearer {after}"}).status_code == 200
    assert httpx.post(f"{replicas.a}/logout", headers={"Authorization": f"Bearer {after}"}).status_code == 204
    time.sleep(0.1)
    assert httpx.get(f"{replicas.b}/v1/me", headers={"Authorization": f"Bearer {after}"}).status_code == 401
