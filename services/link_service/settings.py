from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from pydantic import Field, SecretStr

from delinkcious.durations import Duration
from delinkcious.settings import ServiceSettings


class LinkSettings(ServiceSettings):
    service_name: ClassVar[str] = "link-manager"
    default_port: ClassVar[int] = 8080
    accepted_callers: ClassVar[tuple[str, ...]] = ("api-gateway", "link-checker")

    database_url: str = Field(validation_alias="LINK_MANAGER_DATABASE_URL", min_length=1)
    # Signs page tokens; every replica must share it or tokens break across replicas.
    page_token_key: SecretStr = Field(validation_alias="PAGE_TOKEN_KEY", min_length=16)
    max_links_per_user: int = Field(10_000, ge=1, validation_alias="MAX_LINKS_PER_USER")
    nats_url: str = Field("nats://nats:4222", validation_alias="NATS_URL", min_length=1)
    # Links last checked longer ago than this are checked again (link rot).
    recheck_interval: Duration = Field(timedelta(days=7), validation_alias="LINK_RECHECK_INTERVAL")
    # How often to look for links due a re-check.
    recheck_scan_interval: Duration = Field(
        timedelta(minutes=10), validation_alias="LINK_RECHECK_SCAN_INTERVAL"
    )
    # Published outbox rows are kept this long, for inspection, then deleted.
    outbox_retention: Duration = Field(timedelta(days=1), validation_alias="OUTBOX_RETENTION")
