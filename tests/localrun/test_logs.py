"""Interleaved service output stays readable."""

from __future__ import annotations

import io
import json

from delinkcious.localrun.logs import Printer, render


def test_json_log_lines_are_shown_as_level_message_and_extra_fields() -> None:
    line = json.dumps(
        {
            "time": "2026-01-01T00:00:00+0000",
            "level": "WARNING",
            "logger": "delinkcious.app",
            "message": "request failed",
            "service": "user-manager",
            "code": "unavailable",
            "status": 503,
        }
    )
    assert render(line) == ["WARNING request failed  code=unavailable status=503"]


def test_a_traceback_in_a_json_line_is_shown_on_its_own_lines() -> None:
    line = json.dumps({"level": "ERROR", "message": "boom", "exc_info": "Traceback:\n  File x\nValueError"})
    assert render(line) == ["ERROR   boom", "Traceback:", "  File x", "ValueError"]


def test_other_lines_are_shown_unchanged() -> None:
    for line in ["plain text", "{not json", '{"no": "message"}', "[1, 2]"]:
        assert render(line) == [line]


def test_every_line_carries_its_padded_service_name_without_colour_off_a_terminal() -> None:
    out = io.StringIO()
    printer = Printer(out, ["user-manager", "social-graph-manager"])
    printer.line("user-manager", "hello")
    printer.say("ready")
    assert out.getvalue().splitlines() == [
        "user-manager         | hello",
        "localrun             | ready",
    ]


def test_colour_is_used_when_asked() -> None:
    out = io.StringIO()
    Printer(out, ["user-manager"], colour=True).line("user-manager", "hello")
    assert out.getvalue().startswith("\033[") and "user-manager |\033[0m hello" in out.getvalue()
