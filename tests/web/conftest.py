"""The whole system as `make run` starts it (the end-to-end tests' LocalSystem), and
Debian's chromium driven by Playwright, one fresh profile per person in a test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.conftest import RunningSystem, pages, system, unique  # noqa: F401 - shared fixtures

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as running:
        yield running


Browse = Callable[..., Page]


@pytest.fixture
def browse(playwright: Playwright, tmp_path: Path) -> Iterator[Browse]:
    """browse(name) -> a page in a browser of its own (own profile, own cookies);
    `javascript=False` for one with scripts off."""
    contexts: list[BrowserContext] = []

    def open_page(
        name: str = "default", viewport: dict[str, int] | None = None, javascript: bool = True
    ) -> Page:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / f"profile-{name}",
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            accept_downloads=True,
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        # Script errors and CSP refusals; not the 4xx answers a test provokes on purpose.
        expected = "Failed to load resource: the server responded with a status of 4"
        page.on(
            "console",
            lambda m: (
                errors.append(m.text) if m.type == "error" and not m.text.startswith(expected) else None
            ),
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.console_errors = errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artefact (test-artifacts/web/, not committed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def keep(path: Path, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / name)


def sign_in(page: Page, gateway: str, username: str) -> None:
    page.goto(f"{gateway}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{gateway}/")
