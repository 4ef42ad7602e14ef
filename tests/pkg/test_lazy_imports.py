"""A serving process loads only what it uses: each check runs in a fresh interpreter,
since this one has long imported everything."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(code: str, *packages: str) -> list[str]:
    """The modules of `packages` loaded once `code` has run."""
    code += f"\nimport sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(eval(out.stdout.strip()))


def test_services_that_serve_from_a_database_leave_alembic_to_the_migrating_child() -> None:
    code = "import link_service.transport, user_service.transport, social_graph_service.transport"
    assert loaded_after(code, "alembic", "mako") == []


def test_tracing_loads_redis_only_in_a_process_that_uses_it() -> None:
    code = "from delinkcious.tracing import configure_tracing; configure_tracing('probe')"
    assert loaded_after(code, "redis") == []


def test_redis_is_traced_once_it_is_imported_whenever_that_is() -> None:
    check = (
        "\nfrom opentelemetry.instrumentation.redis import RedisInstrumentor"
        "\nassert RedisInstrumentor().is_instrumented_by_opentelemetry"
        "\nassert type(redis.asyncio.Redis.execute_command).__name__ == 'BoundFunctionWrapper'"
    )
    setup = "from delinkcious.tracing import configure_tracing; configure_tracing('probe')"
    assert loaded_after(f"{setup}\nimport redis.asyncio{check}", "redis")  # imported after
    assert loaded_after(f"import redis.asyncio\n{setup}{check}", "redis")  # and before
