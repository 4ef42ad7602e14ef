"""`make run`'s quickstart starts with the web address."""

from __future__ import annotations

from delinkcious.localrun.__main__ import quickstart


def test_the_quickstart_prints_the_web_address_first() -> None:
    lines = quickstart("http://127.0.0.1:5123")
    assert lines[0].startswith("Open Delinkcious in your browser: http://127.0.0.1:5123/")
    assert any("/docs" in line for line in lines[1:])
