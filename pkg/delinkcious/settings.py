"""Settings base: typed, read from the environment, and failing fast at start.

A service that starts with a missing or malformed setting would fail later, on a
user's request, with a worse message. `load_settings` stops the process at once
and names every bad variable instead.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, ClassVar, Self, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    # The callers this service accepts; each must have a token in CALLER_TOKENS.
    accepted_callers: ClassVar[tuple[str, ...]] = ()
    service_name: ClassVar[str] = "delinkcious"
    default_port: ClassVar[int] = 8000

    host: str = Field("0.0.0.0", validation_alias="HOST")
    port: int = Field(0, ge=0, le=65535, validation_alias="PORT")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", validation_alias="LOG_LEVEL")
    # {"api-gateway": "<secret>", ...}: who may call this service, by their secret.
    caller_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict, validation_alias="CALLER_TOKENS"
    )
    # This service's own secret, presented on its calls to other services.
    caller_token: SecretStr | None = Field(None, validation_alias="CALLER_TOKEN")
    shutdown_grace_seconds: float = Field(10.0, gt=0, validation_alias="SHUTDOWN_GRACE_SECONDS")

    @field_validator("caller_tokens", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        # Decoded here, not by the environment source, so bad JSON is a named error.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("must be a JSON object of caller name to token") from None
        return value

    @model_validator(mode="after")
    def _defaults_and_callers(self) -> Self:
        if self.port == 0:
            self.port = self.default_port
        missing = [c for c in self.accepted_callers if c not in self.caller_tokens]
        if missing:
            raise ValueError(
                f"CALLER_TOKENS has no token for {', '.join(missing)}: "
                f"{self.service_name} accepts calls from {', '.join(self.accepted_callers)}"
            )
        short = [name for name, tok in self.caller_tokens.items() if len(tok.get_secret_value()) < 16]
        if short:
            raise ValueError(f"CALLER_TOKENS: the token of {', '.join(short)} is shorter than 16 characters")
        return self


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Build settings from the environment or exit(2) naming every problem."""
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"{cls.__name__}: invalid configuration, refusing to start:"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"  {where.upper()}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
