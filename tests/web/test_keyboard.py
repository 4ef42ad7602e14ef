"""Keyboard only: sign in, add, edit and delete a link, follow someone, sign out, with
Tab, Enter and typing alone; focus always visible."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningSystem, unique
from tests.web.conftest import Browse

MAX_TABS = 80


def focused(page: Page) -> str:
    """The focused element's accessible text: its label, text or value."""
    text: str = page.evaluate(
        """() => {
        const e = document.activeElement;
        if (!e || e === document.body) return "";
        const label = e.labels && e.labels[0] ? e.labels[0].innerText : "";
        return (label || e.getAttribute("aria-label") || e.innerText || e.value || "").trim();
    }"""
    )
    return " ".join(text.split())


def focus_is_visible(page: Page) -> bool:
    visible: bool = page.evaluate(
        """() => {
        const e = document.activeElement;
        const style = getComputedStyle(e);
        const box = e.getBoundingClientRect();
        return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2
            && box.width > 0 && box.height > 0;
    }"""
    )
    return visible


def tab_to(page: Page, name: str | re.Pattern[str], backwards: bool = False) -> None:
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        current = focused(page)
        if name.search(current) if isinstance(name, re.Pattern) else current == name:
            assert focus_is_visible(page), f"focus on {current!r} is not visible"
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_everything_with_the_keyboard_alone(system: RunningSystem, pages: str, browse: Browse) -> None:
    gateway, me, friend = system.gateway, unique("keys"), unique("friend")
    system.login(friend)
    page = browse("keyboard")
    page.goto(f"{gateway}/signin")

    # The username field has focus on arrival; Enter signs in.
    assert focused(page) == "Username"
    page.keyboard.type(me)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{gateway}/")

    # First Tab: the skip link, shown when focused; it leads past the navigation.
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to content" and focus_is_visible(page)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # Add a link: the form is open for a new account; Enter in a field submits it.
    tab_to(page, "URL")
    page.keyboard.type(f"{pages}/title/keys")
    page.keyboard.press("Tab")
    assert focused(page).startswith("Title")
    page.keyboard.type("Typed, not clicked")
    page.keyboard.press("Enter")
    item = page.locator("li.link", has_text="Typed, not clicked")
    expect(item).to_be_visible()

    # Edit it in place: focus lands in the title, Enter saves, focus returns to Edit.
    tab_to(page, "Edit Typed, not clicked")
    page.keyboard.press("Enter")
    expect(page.locator("li.link.editing")).to_be_visible()
    expect(page.locator("#edit-title")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("Typed and edited")
    page.keyboard.press("Enter")
    expect(page.locator("li.link", has_text="Typed and edited")).to_be_visible()
    expect(page.get_by_role("link", name="Edit Typed and edited")).to_be_focused()

    # Delete it: Enter on the button, Enter on the browser's confirmation.
    page.once("dialog", lambda dialog: dialog.accept())
    tab_to(page, "Delete Typed and edited")
    page.keyboard.press("Enter")
    expect(page.locator("li.link", has_text="Typed and edited")).to_have_count(0)

    # To People through the navigation, follow a friend by typing the name.
    tab_to(page, "People", backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{gateway}/people")
    tab_to(page, "Username")
    page.keyboard.type(friend)
    page.keyboard.press("Enter")
    expect(
        page.get_by_role("region", name=re.compile("^Following")).get_by_text(f"@{friend}")
    ).to_be_visible()

    # Sign out is a button in the header, reached backwards from the page.
    page.locator("#main").focus()
    tab_to(page, "Sign out", backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/signin"))
    assert page.console_errors == []  # type: ignore[attr-defined]
