"""A whole journey through the pages in headless chromium, against the running system:
sign in, add, edit, search, delete, follow, read the news, sign out."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import RunningSystem, unique
from tests.web.conftest import Browse, screenshot, sign_in


def _link(page: Page, title: str) -> Locator:
    return page.locator("li.link", has=page.get_by_role("link", name=title, exact=True))


def _open_add(page: Page) -> None:
    panel = page.locator("details.add-panel")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()


def test_journey(system: RunningSystem, pages: str, browse: Browse, tmp_path: Path) -> None:
    gateway = system.gateway
    alice, bob = unique("alice"), unique("bob")

    page = browse("alice")
    page.goto(gateway)
    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))
    screenshot(page, "signin-desktop")
    sign_in(page, gateway, alice)
    expect(page.get_by_role("heading", name="Your links")).to_be_visible()
    expect(page.get_by_text(f"@{alice}")).to_be_visible()

    # Add (in place, through htmx): the link appears at the top, pending, then checked.
    _open_add(page)
    page.get_by_role("textbox", name="URL", exact=True).fill(f"{pages}/title/one")
    page.get_by_role("textbox", name="Title", exact=True).fill("First link")
    page.get_by_role("textbox", name="Tags", exact=True).fill("python web")
    page.get_by_role("textbox", name="Description", exact=True).fill("something to read")
    page.get_by_role("button", name="Save link").click()
    first = _link(page, "First link")
    expect(first).to_be_visible()
    expect(first.locator(".badge").first).to_have_text(re.compile("pending|valid"))
    expect(page.get_by_role("textbox", name="URL", exact=True)).to_have_value(
        ""
    )  # the form is reset for the next one

    page.get_by_role("textbox", name="URL", exact=True).fill(f"{pages}/missing")
    page.get_by_role("textbox", name="Title", exact=True).fill("Broken link")
    page.get_by_role("textbox", name="Tags", exact=True).fill("web")
    page.get_by_role("button", name="Save link").click()
    expect(_link(page, "Broken link")).to_be_visible()

    # A duplicate is refused with the API's words, in the form.
    page.get_by_role("textbox", name="URL", exact=True).fill(f"{pages}/missing")
    page.get_by_role("button", name="Save link").click()
    expect(page.get_by_role("alert")).to_contain_text("already")

    # The checker's verdicts reach the badges (a reload shows the current state). The
    # checker may still be working through an earlier test's import, hence the long wait.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page.reload()
        if _link(page, "Broken link").locator(".status-invalid").count():
            break
        page.wait_for_timeout(300)
    expect(_link(page, "Broken link").locator(".status-invalid")).to_be_visible()
    expect(_link(page, "First link").locator(".status-valid")).to_be_visible()
    screenshot(page, "links-desktop")

    # Edit in place.
    _link(page, "First link").get_by_role("link", name=re.compile("^Edit")).click()
    editing = page.locator("li.link.editing")
    expect(editing.get_by_label("Title")).to_be_focused()
    editing.get_by_label("Title").fill("First link, edited")
    editing.get_by_label("Tags").fill("python reading")
    editing.get_by_role("button", name="Save").click()
    edited = _link(page, "First link, edited")
    expect(edited).to_be_visible()
    expect(edited.locator(".tag")).to_have_text(["#python", "#reading"])

    # Search: a title regex, then a tag.
    page.get_by_label("Title matches").fill("^first")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"title_regex=%5Efirst"))
    expect(page.locator("li.link")).to_have_count(1)
    page.goto(f"{gateway}/?tags=web")
    expect(page.locator("li.link")).to_have_count(1)
    expect(_link(page, "Broken link")).to_be_visible()
    page.goto(f"{gateway}/?title_regex=%28")
    expect(page.get_by_role("alert")).to_contain_text("regex")

    # Delete in place (after the confirmation).
    page.goto(gateway)
    page.once("dialog", lambda dialog: dialog.accept())
    _link(page, "Broken link").get_by_role("button", name=re.compile("^Delete")).click()
    expect(_link(page, "Broken link")).to_have_count(0)
    page.reload()
    expect(page.locator("li.link")).to_have_count(1)

    # Tags with counts: rename one (merging into an existing name is allowed), delete one.
    page.get_by_role("link", name="Tags", exact=True).click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("#python")
    expect(rows.nth(0).locator("td.num")).to_have_text("1")
    page.get_by_label("New name for reading").fill("Books")
    page.get_by_role("button", name="Rename reading").click()
    expect(page.get_by_role("status")).to_contain_text("Renamed to #books")
    screenshot(page, "tags-desktop")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete python").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.goto(gateway)
    expect(_link(page, "First link, edited").locator(".tag")).to_have_text(["#books"])

    # Bob follows alice by username and reads her news.
    other = browse("bob")
    sign_in(other, gateway, bob)
    other.get_by_role("link", name="People").click()
    other.get_by_label("Username").fill(alice.upper())
    other.get_by_role("button", name="Follow", exact=True).click()
    following = other.get_by_role("region", name=re.compile("^Following"))
    expect(following.get_by_text(f"@{alice}")).to_be_visible()
    other.get_by_label("Username").fill(unique("nobody"))
    other.get_by_role("button", name="Follow", exact=True).click()
    expect(other.get_by_role("alert")).to_be_visible()
    screenshot(other, "people-desktop")

    page.goto(gateway)
    _open_add(page)
    page.get_by_role("textbox", name="URL", exact=True).fill(f"{pages}/title/news")
    page.get_by_role("textbox", name="Title", exact=True).fill("News for bob")
    page.get_by_role("button", name="Save link").click()
    expect(_link(page, "News for bob")).to_be_visible()
    page.goto(f"{gateway}/people")
    expect(page.get_by_role("region", name=re.compile("^Followers")).get_by_text(f"@{bob}")).to_be_visible()

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        other.goto(f"{gateway}/news")
        if other.get_by_role("link", name="News for bob").count():
            break
        other.wait_for_timeout(300)
    expect(other.locator(".event").filter(has_text="News for bob")).to_contain_text(f"@{alice}")
    screenshot(other, "news-desktop")

    # The bookmarklet, run on another site's page: our form opens prefilled, and saves.
    page.goto(f"{gateway}/bookmarklet")
    code = page.get_by_label("Bookmarklet code").input_value()
    assert code.startswith("javascript:")
    assert page.get_by_role("link", name="+ Delinkcious").get_attribute("href") == code
    page.goto(f"{pages}/title/bookmarked")
    page.evaluate("getSelection().selectAllChildren(document.body)")
    with page.context.expect_page() as opened:
        page.evaluate(code.removeprefix("javascript:"))
    form = opened.value
    form.wait_for_load_state()
    expect(form.get_by_role("textbox", name="URL", exact=True)).to_have_value(f"{pages}/title/bookmarked")
    expect(form.get_by_role("textbox", name="Title", exact=True)).to_have_value("A Page & Its Title")
    expect(form.get_by_role("textbox", name="Description", exact=True)).to_have_value("hi")
    form.get_by_role("button", name="Save link").click()
    form.wait_for_url(re.compile(r"/\?done=added$"))
    expect(form.get_by_role("status").first).to_have_text("Link saved.")
    expect(_link(form, "A Page & Its Title")).to_be_visible()
    form.close()
    page.goto(gateway)

    # Import a bookmarks file (one entry is not a web address), then export everything.
    bookmarks = tmp_path / "bookmarks.html"
    bookmarks.write_text(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><H3>Reading List</H3>\n<DL><p>\n"
        f'<DT><A HREF="{pages}/title/imported" ADD_DATE="1700000000" TAGS="imported">Imported one</A>\n'
        "<DD>from another browser\n"
        '<DT><A HREF="ftp://example.com/file">Not a web address</A>\n'
        "</DL><p>\n</DL><p>\n"
    )
    page.get_by_role("link", name="Import & export").click()
    page.get_by_label("Bookmarks file").set_input_files(str(bookmarks))
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator("#import-result")
    expect(result.get_by_role("heading")).to_have_text("Imported 2 bookmarks")
    expect(result.locator(".summary")).to_contain_text("Created1")
    expect(result.locator(".summary")).to_contain_text("Failed1")
    expect(result).to_contain_text("ftp://example.com/file")
    expect(page.locator("#upload-status")).to_have_text("Import finished.")
    screenshot(page, "import-desktop")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your bookmarks").click()
    assert download.value.suggested_filename == f"delinkcious-{alice}.html"
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>")
    assert f'HREF="{pages}/title/imported"' in exported and 'TAGS="imported,reading-list"' in exported
    with system.client(system.login(alice)) as api:
        saved = api.get("/v1/links", params={"page_size": 100}).json()["links"]
    assert exported.count("<DT><A ") == len(saved)
    assert all(f'HREF="{link["url"]}"' in exported for link in saved if "&" not in link["url"])
    page.goto(f"{gateway}/?tags=reading-list")
    expect(_link(page, "Imported one")).to_be_visible()

    # A personal API token: its secret shown once, working at once, gone when deleted.
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("journey script")
    page.get_by_label("Scope").select_option("full")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("The new token").input_value()
    assert secret
    with system.client(secret) as api:
        assert api.get("/v1/me").json()["username"] == alice
    page.goto(f"{gateway}/tokens")
    assert secret not in page.content()
    expect(page.get_by_role("cell", name="journey script", exact=True)).to_be_visible()
    screenshot(page, "tokens-desktop")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete token journey script").click()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    with system.client(secret) as api:
        assert api.get("/v1/me").status_code == 401

    # Unfollow, then sign out: the session is over, the cookie gone.
    other.goto(f"{gateway}/people")
    other.get_by_role("button", name=f"Unfollow {alice}").click()
    expect(other.get_by_text("You follow nobody yet.")).to_be_visible()
    other.get_by_role("button", name="Sign out").click()
    expect(other).to_have_url(re.compile("/signin"))
    other.goto(f"{gateway}/news")
    expect(other).to_have_url(re.compile(r"/signin\?next=%2Fnews"))
    assert not [c for c in other.context.cookies() if c["name"] == "dlk_session"]

    assert page.console_errors == []  # type: ignore[attr-defined]
    assert other.console_errors == []  # type: ignore[attr-defined]
