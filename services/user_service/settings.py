from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from delinkcious.settings import ServiceSettings


class UserSettings(ServiceSettings):
    service_name: ClassVar[str] = "user-manager"
    default_port: ClassVar[int] = 7070
    accepted_callers: ClassVar[tuple[str, ...]] = ("api-gateway", "social-graph-manager")

    database_url: str = Field(validation_alias="USER_MANAGER_DATABASE_URL", min_length=1)
    access_token_ttl_seconds: int = Field(
        86_400, ge=60, le=90 * 86_400, validation_alias="ACCESS_TOKEN_TTL_SECONDS"
    )
