"""Social login: GitHub and any OpenID Connect provider. A provider is on when its
settings are present; otherwise its routes are not mounted and answer 404."""

from __future__ import annotations

from fastapi import APIRouter

from api_gateway.login import github, oidc
from api_gateway.login.context import LoginContext
from api_gateway.settings import GatewaySettings

__all__ = ["LoginContext", "enabled", "routers"]


def enabled(settings: GatewaySettings) -> bool:
    return settings.github_enabled or settings.oidc_enabled


def routers(settings: GatewaySettings) -> list[APIRouter]:
    found = []
    if settings.github_enabled:
        found.append(github.router)
    if settings.oidc_enabled:
        found.append(oidc.router)
    return found
