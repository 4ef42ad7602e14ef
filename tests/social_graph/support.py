"""Building blocks for the social graph tests: settings, a fake user directory, and
the service running over HTTP next to a real user-manager."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient

from delinkcious.callers import CALLER_TOKEN_HEADER
from social_graph_service.settings import SocialGraphSettings
from social_graph_service.transport import create_app
from tests.conftest import CALLER_SECRETS
from user_service.settings import UserSettings
from user_service.transport import create_app as create_user_app

PAGE_TOKEN_KEY = "social-graph-test-page-token-key"
GATEWAY = {CALLER_TOKEN_HEADER: CALLER_SECRETS["api-gateway"]}
NEWS = {CALLER_TOKEN_HEADER: CALLER_SECRETS["news-manager"]}


def tokens(*callers: str) -> dict[str, str]:
    return {name: CALLER_SECRETS[name] for name in callers}


def social_settings(database_url: str, **overrides: Any) -> SocialGraphSettings:
    values: dict[str, Any] = {
        "SOCIAL_GRAPH_MANAGER_DATABASE_URL": database_url,
        "CALLER_TOKENS": tokens("api-gateway", "news-manager"),
        "CALLER_TOKEN": CALLER_SECRETS["social-graph-manager"],
        "PAGE_TOKEN_KEY": PAGE_TOKEN_KEY,
    }
    values.update(overrides)
    return SocialGraphSettings(**values)


class FakeDirectory:
    """The users that exist, for unit tests; remembers what it was asked."""

    def __init__(self, *usernames: str) -> None:
        self.usernames = set(usernames)
        self.asked: list[str] = []

    async def exists(self, username: str) -> bool:
        self.asked.append(username)
        return username in self.usernames


@dataclass
class Apps:
    social: TestClient
    users: TestClient

    def register(self, *usernames: str) -> None:
        """Users come into being by logging in at user-manager, as the gateway does it."""
        for name in usernames:
            identity = {"provider": "github", "subject": f"id-{name}", "username": name}
            response = self.users.post("/identities/login", json=identity, headers=GATEWAY)
            assert response.status_code == 200, response.text


@contextmanager
def running_apps(social_db: str, users_db: str) -> Iterator[Apps]:
    """Both apps with their lifespans running; the social graph reaches user-manager
    in-process, through its real UserClient and caller token."""
    user_settings = UserSettings(
        USER_MANAGER_DATABASE_URL=users_db,
        CALLER_TOKENS=tokens("api-gateway", "social-graph-manager"),
    )
    with TestClient(create_user_app(user_settings)) as users:
        transport = httpx.ASGITransport(app=users.app)
        app = create_app(social_settings(social_db), user_transport=transport)
        with TestClient(app) as social:
            yield Apps(social=social, users=users)
