from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from delinkcious.settings import ServiceSettings


class CheckerSettings(ServiceSettings):
    service_name: ClassVar[str] = "link-checker"
    default_port: ClassVar[int] = 8081
    # Only link-manager may trigger a check over HTTP.
    accepted_callers: ClassVar[tuple[str, ...]] = ("link-manager",)

    nats_url: str = Field("nats://nats:4222", validation_alias="NATS_URL", min_length=1)
    # Turns the address filter off, for local runs and tests serving pages on 127.0.0.1.
    allow_private_networks: bool = Field(False, validation_alias="LINK_CHECKER_ALLOW_PRIVATE_NETWORKS")
    check_concurrency: int = Field(20, ge=1, le=1000, validation_alias="CHECK_CONCURRENCY")
    check_per_host: int = Field(2, ge=1, le=100, validation_alias="CHECK_PER_HOST")
    check_timeout_seconds: float = Field(10.0, gt=0, le=300, validation_alias="CHECK_TIMEOUT_SECONDS")
    connect_timeout_seconds: float = Field(3.0, gt=0, le=60, validation_alias="CONNECT_TIMEOUT_SECONDS")
