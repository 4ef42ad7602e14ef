"""With JavaScript off, the basic flows still work: plain forms and redirects."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import RunningSystem, unique
from tests.web.conftest import Browse, sign_in


def test_sign_in_add_edit_search_delete_follow_without_javascript(
    system: RunningSystem, pages: str, browse: Browse
) -> None:
    gateway, me, friend = system.gateway, unique("nojs"), unique("nojs-friend")
    system.login(friend)
    page = browse("no-js", javascript=False)
    sign_in(page, gateway, me)

    page.get_by_role("textbox", name="URL", exact=True).fill(f"{pages}/title/plain")
    page.get_by_role("textbox", name="Title", exact=True).fill("Saved without scripts")
    page.get_by_role("textbox", name="Tags", exact=True).fill("plain html")
    page.get_by_role("button", name="Save link").click()
    expect(page).to_have_url(re.compile(r"/\?done=added$"))
    expect(page.get_by_role("status")).to_have_text("Link saved.")
    item = page.locator("li.link", has_text="Saved without scripts")
    expect(item).to_be_visible()

    item.get_by_role("link", name=re.compile("^Edit")).click()
    expect(page).to_have_url(re.compile(r"/links/edit\?url="))
    page.get_by_label("Title").fill("Edited without scripts")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(re.compile(r"/\?done=updated$"))
    expect(page.locator("li.link", has_text="Edited without scripts")).to_be_visible()

    page.get_by_label("Tags include").fill("html")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"tags=html"))
    expect(page.locator("li.link")).to_have_count(1)

    page.locator("li.link").get_by_role("button", name=re.compile("^Delete")).click()
    expect(page).to_have_url(re.compile(r"/\?done=deleted$"))
    expect(page.locator("li.link")).to_have_count(0)

    page.goto(f"{gateway}/people")
    page.get_by_label("Username").fill(friend)
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.get_by_text(f"@{friend}")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("/signin"))
