from __future__ import annotations

from typing import ClassVar, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from delinkcious.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "api-gateway"
    default_port: ClassVar[int] = 5000
    accepted_callers: ClassVar[tuple[str, ...]] = ()  # the public faces users, not services

    public_url: str = Field("http://127.0.0.1:5000", validation_alias="PUBLIC_URL")
    dev_login: bool = Field(False, validation_alias="DEV_LOGIN")

    link_manager_url: str = Field("http://link-manager:8080", validation_alias="LINK_MANAGER_URL")
    user_manager_url: str = Field("http://user-manager:7070", validation_alias="USER_MANAGER_URL")
    social_graph_manager_url: str = Field(
        "http://social-graph-manager:9090", validation_alias="SOCIAL_GRAPH_MANAGER_URL"
    )
    news_manager_target: str = Field("news-manager:6060", validation_alias="NEWS_MANAGER_TARGET")
    backend_timeout_seconds: float = Field(5.0, gt=0, le=60, validation_alias="BACKEND_TIMEOUT_SECONDS")

    # Validated tokens are remembered this long, keeping user-manager off the hot path.
    # Without REDIS_URL it also bounds how long a logout takes to reach other instances;
    # with it, the revocation channel tells them at once (revocation.py).
    token_cache_seconds: float = Field(5.0, ge=0, le=60, validation_alias="TOKEN_CACHE_SECONDS")
    rate_limit_per_second: float = Field(50.0, gt=0, validation_alias="RATE_LIMIT_PER_SECOND")
    rate_limit_burst: int = Field(100, ge=1, validation_alias="RATE_LIMIT_BURST")
    # How long a replica may answer a link list page again without asking link-manager
    # (list_cache.py: a change through any replica ends it at once; a re-check's verdict
    # shows after at most this long). 0 turns the cache off.
    list_cache_seconds: float = Field(2.0, ge=0, le=60, validation_alias="LIST_CACHE_SECONDS")
    list_cache_max_bytes: int = Field(8 * 1024**2, ge=0, validation_alias="LIST_CACHE_MAX_BYTES")
    # How long a replica may answer a news page again without asking news-manager, while
    # the version of the reader's feed holds (list_cache.py: a delivery ends it at once).
    # Only with REDIS_URL, and that Redis must be news-manager's; 0 turns the cache off.
    news_cache_seconds: float = Field(2.0, ge=0, le=60, validation_alias="NEWS_CACHE_SECONDS")
    news_cache_max_bytes: int = Field(8 * 1024**2, ge=0, validation_alias="NEWS_CACHE_MAX_BYTES")
    # Redis shared by the replicas: used login states, rate limits, revocations and the
    # versions of each user's links. Unset: all of these live in this instance's memory,
    # which is right for a single instance only.
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")

    # Social login; a provider whose settings are absent is off and its routes are 404.
    github_client_id: str | None = Field(None, validation_alias="GITHUB_CLIENT_ID")
    github_client_secret: SecretStr | None = Field(None, validation_alias="GITHUB_CLIENT_SECRET")
    github_url: str = Field("https://github.com", validation_alias="GITHUB_URL")
    github_api_url: str = Field("https://api.github.com", validation_alias="GITHUB_API_URL")
    oidc_issuer: str | None = Field(None, validation_alias="OIDC_ISSUER")
    oidc_client_id: str | None = Field(None, validation_alias="OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr | None = Field(None, validation_alias="OIDC_CLIENT_SECRET")
    # Signs the login-state cookie; required once any social login is on.
    session_secret: SecretStr | None = Field(None, validation_alias="SESSION_SECRET")

    @property
    def github_enabled(self) -> bool:
        return bool(self.github_client_id and self.github_client_secret)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @model_validator(mode="after")
    def _gateway_checks(self) -> Self:
        if self.caller_token is None or len(self.caller_token.get_secret_value()) < 16:
            raise ValueError(
                "CALLER_TOKEN is required (16+ characters): the gateway presents it to every service"
            )
        if (self.github_enabled or self.oidc_enabled) and (
            self.session_secret is None or len(self.session_secret.get_secret_value()) < 32
        ):
            raise ValueError("SESSION_SECRET (32+ characters) is required when a social login is configured")
        if bool(self.github_client_id) != bool(self.github_client_secret):
            raise ValueError("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET go together")
        for name in ("public_url", "github_url", "github_api_url", "oidc_issuer"):
            value = getattr(self, name)
            if value is not None and (
                urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname
            ):
                raise ValueError(f"{name.upper()} must be an absolute http(s) URL, not {value!r}")
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("REDIS_URL must be a redis://, rediss:// or unix:// URL")
        self.public_url = self.public_url.rstrip("/")
        return self
