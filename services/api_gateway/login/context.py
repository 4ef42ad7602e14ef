"""What the login routes share for the app's lifetime: one HTTP client to the providers,
the cookie signer, the record of used states and the OIDC provider's cached configuration."""

from __future__ import annotations

import httpx

from api_gateway.login.cookies import LoginCookies
from api_gateway.login.oidc_client import OidcClient
from api_gateway.login.outbound import USER_AGENT
from api_gateway.login.states import InMemoryUsedStates, UsedStates
from api_gateway.settings import GatewaySettings


class LoginContext:
    def __init__(self, settings: GatewaySettings, *, used_states: UsedStates | None = None) -> None:
        if settings.session_secret is None:
            raise ValueError("SESSION_SECRET is required when a social login is configured")
        self.settings = settings
        self.cookies = LoginCookies(
            settings.session_secret.get_secret_value(), secure=settings.public_url.startswith("https://")
        )
        self.used_states: UsedStates = used_states or InMemoryUsedStates()
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.backend_timeout_seconds, connect=min(settings.backend_timeout_seconds, 5.0)
            ),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self.oidc: OidcClient | None = None
        if settings.oidc_enabled and settings.oidc_issuer and settings.oidc_client_id:
            secret = settings.oidc_client_secret
            self.oidc = OidcClient(
                settings.oidc_issuer,
                settings.oidc_client_id,
                secret.get_secret_value() if secret else None,
                redirect_uri=f"{settings.public_url}/login/oidc/callback",
                http=self.http,
            )

    async def aclose(self) -> None:
        await self.http.aclose()
