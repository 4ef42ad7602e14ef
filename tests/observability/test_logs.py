"""Log lines are JSON, carry the request id and trace ids of the work they describe
(across HTTP, the outbox and the bus), and never carry a secret."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from opentelemetry.trace import SpanKind

from tests.conftest import CALLER_SECRETS
from tests.gateway_login.github_standin import GitHubUser
from tests.observability.conftest import Telemetry
from tests.observability.helpers import eventually, find, unique
from tests.observability.system import PAGE_TOKEN_KEY, SESSION_SECRET, System

pytestmark = pytest.mark.asyncio(loop_scope="session")

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")


async def test_every_line_is_json_with_the_service_and_level(system: System, telemetry: Telemetry) -> None:
    mark = telemetry.log_mark()
    await system.login(unique("json"))
    lines = telemetry.log_lines(mark)
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "logger", "message", "service"} <= set(record), record
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


async def test_the_lines_of_one_request_share_its_request_id_and_trace_across_services(
    system: System, telemetry: Telemetry
) -> None:
    author, reader = unique("author"), unique("reader")
    author_token, reader_token = await system.login(author), await system.login(reader)
    async with system.client(reader_token) as c:
        assert (await c.post("/v1/following", json={"followed": author})).status_code == 204
    request_id = unique("log-test")
    mark = telemetry.log_mark()

    async with system.client(author_token, **{"X-Request-ID": request_id}) as c:
        response = await c.post("/v1/links", json={"url": f"{system.pages}/logs/{author}", "title": "logged"})
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == request_id

    wanted = {
        ("delinkcious.http", "request", "/v1/links"),  # the gateway
        ("delinkcious.http", "request", "/users/{username}/links"),  # link-manager
        ("news_service.consumer", "link event delivered", None),  # after the outbox and the bus
        ("link_checker.service", "link checked", None),
        ("link_service.workers", "check result", None),  # the verdict, back over the bus
    }

    def lines_of_the_request() -> list[dict[str, object]] | None:
        mine = [r for r in telemetry.log_records(mark) if r.get("request_id") == request_id]
        seen = {(r["logger"], r["message"], r.get("route")) for r in mine}
        return mine if wanted <= seen else None

    mine = await eventually(lines_of_the_request)
    [root] = [
        s
        for s in find(telemetry.finished(), SpanKind.SERVER, "api-gateway", "POST /v1/links")
        if s.parent is None and s.context.trace_id in {int(str(r["trace_id"]), 16) for r in mine}
    ]
    for record in mine:
        assert record["trace_id"] == format(root.context.trace_id, "032x"), record
        assert HEX16.fullmatch(str(record["span_id"])), record
    gateway_line = next(r for r in mine if r.get("route") == "/v1/links")
    assert gateway_line["user"] == author
    assert gateway_line["status"] == 201 and gateway_line["method"] == "POST"
    link_manager_line = next(r for r in mine if r.get("route") == "/users/{username}/links")
    assert link_manager_line["caller"] == "api-gateway"


async def test_no_token_or_secret_is_logged_through_a_full_login_and_logout(
    system: System, telemetry: Telemetry
) -> None:
    mark = telemetry.log_mark()
    # The development login, a use of its token, and a logout.
    dev_user = unique("dev")
    dev_token = await system.login(dev_user)
    async with system.client(dev_token) as c:
        assert (await c.get("/v1/me")).status_code == 200
        assert (await c.post("/logout")).status_code == 204
        assert (await c.get("/v1/me")).status_code == 401

    # GitHub's web flow against the stand-in: authorize, callback with a code, the
    # code exchanged with the client secret, the API called with GitHub's token.
    github_user = GitHubUser(id=4242, login=unique("octo"), name="Octo", email="octo@example.com")
    system.github.signed_in = github_user
    async with system.client() as browser:
        start = await browser.get("/login/github")
        assert start.status_code == 302, start.text
        async with system.client() as at_github:
            back = await at_github.get(start.headers["location"])
        assert back.status_code == 302, back.text
        callback = urlsplit(back.headers["location"])
        code = parse_qs(callback.query)["code"][0]
        finished = await browser.get(f"{callback.path}?{callback.query}")
        assert finished.status_code == 200, finished.text
        github_login_token = finished.json()["access_token"]
        again = await browser.get(f"{callback.path}?{callback.query}")  # a replay: refused, and logged
        assert again.status_code == 401
    async with system.client(github_login_token) as c:
        assert (await c.post("/logout")).status_code == 204

    text = telemetry.log.getvalue()[mark:]
    # The flow was logged, including the callback that carried the code ...
    records = telemetry.log_records(mark)
    callbacks = [r for r in records if r.get("route") == "/login/github/callback"]
    assert [r["status"] for r in callbacks] == [200, 401]
    assert any(r.get("route") == "/v1/me" and r.get("user") == dev_user for r in records)
    # ... and no secret, of the user, of GitHub or of the services, is in any line.
    secrets = {
        "dev token": dev_token,
        "github login token": github_login_token,
        "authorization code": code,
        "client secret": system.github.client_secret,
        "session secret": SESSION_SECRET,
        "page token key": PAGE_TOKEN_KEY,
        **{f"caller secret of {name}": secret for name, secret in CALLER_SECRETS.items()},
    }
    leaked = [what for what, secret in secrets.items() if secret in text]
    assert leaked == []
    assert not re.search(r"gh[ou]_[0-9a-f]{20,}", text), "a GitHub access token was logged"
