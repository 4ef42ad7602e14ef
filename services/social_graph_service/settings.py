from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from delinkcious.settings import ServiceSettings

MIN_SECRET_LENGTH = 16


class SocialGraphSettings(ServiceSettings):
    service_name: ClassVar[str] = "social-graph-manager"
    default_port: ClassVar[int] = 9090
    accepted_callers: ClassVar[tuple[str, ...]] = ("api-gateway", "news-manager")

    database_url: str = Field(validation_alias="SOCIAL_GRAPH_MANAGER_DATABASE_URL", min_length=1)
    user_manager_url: str = Field(
        "http://user-manager:7070", validation_alias="USER_MANAGER_URL", min_length=1
    )
    # Signs the followers page tokens; every replica must share it, or a token issued by
    # one replica is refused by the next.
    page_token_key: SecretStr = Field(validation_alias="PAGE_TOKEN_KEY")

    @field_validator("page_token_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _own_caller_token(self) -> Self:
        # Following checks that the followed user exists, which is a call to user-manager;
        # without its own secret this service would start and then fail every follow.
        token = self.caller_token.get_secret_value() if self.caller_token else ""
        if not token:
            raise ValueError(
                "CALLER_TOKEN is required: social-graph-manager presents it to user-manager "
                "to check that a followed user exists"
            )
        if len(token) < MIN_SECRET_LENGTH:
            raise ValueError(f"CALLER_TOKEN is shorter than {MIN_SECRET_LENGTH} characters")
        return self
