from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, model_validator

from delinkcious.settings import ServiceSettings

MIN_SECRET_LENGTH = 16
# api.md: "A feed keeps at least its newest 1000 events."
MIN_FEED_LENGTH = 1000


class NewsSettings(ServiceSettings):
    service_name: ClassVar[str] = "news-manager"
    default_port: ClassVar[int] = 6060  # gRPC
    accepted_callers: ClassVar[tuple[str, ...]] = ("api-gateway",)

    # /healthz, /readyz and /metrics: HTTP, beside the gRPC port.
    http_port: int = Field(6061, ge=1, le=65535, validation_alias="HTTP_PORT")
    redis_url: str = Field(validation_alias="REDIS_URL", min_length=1)
    nats_url: str = Field("nats://nats:4222", validation_alias="NATS_URL", min_length=1)
    social_graph_manager_url: str = Field(
        "http://social-graph-manager:9090", validation_alias="SOCIAL_GRAPH_MANAGER_URL", min_length=1
    )
    # Signs page tokens; every replica must share it or tokens break across replicas.
    page_token_key: SecretStr = Field(validation_alias="PAGE_TOKEN_KEY", min_length=MIN_SECRET_LENGTH)
    feed_max_length: int = Field(
        MIN_FEED_LENGTH, ge=MIN_FEED_LENGTH, le=100_000, validation_alias="FEED_MAX_LENGTH"
    )

    @model_validator(mode="after")
    def _own_token_and_ports(self) -> Self:
        # Every event is fanned out through social-graph-manager's followers listing;
        # without its own secret this service would start and then fail every event.
        token = self.caller_token.get_secret_value() if self.caller_token else ""
        if not token:
            raise ValueError(
                "CALLER_TOKEN is required: news-manager presents it to social-graph-manager "
                "to list an author's followers"
            )
        if len(token) < MIN_SECRET_LENGTH:
            raise ValueError(f"CALLER_TOKEN is shorter than {MIN_SECRET_LENGTH} characters")
        if self.http_port == self.port:
            raise ValueError(f"HTTP_PORT and PORT must differ (both are {self.port})")
        return self
