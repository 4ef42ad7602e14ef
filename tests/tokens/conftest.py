"""The whole system (as tests/e2e starts it), for personal API tokens end to end."""

from tests.e2e.conftest import system

__all__ = ["system"]
