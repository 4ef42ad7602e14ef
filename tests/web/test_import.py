"""Importing from the page: a file well over the usual 1 MiB body limit goes through
with its upload progress shown; a file that is not bookmarks gets the reason."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import RunningSystem, unique
from tests.web.conftest import Browse, screenshot, sign_in
from tests.web.test_http_security import browser, web_sign_in

ENTRIES = 300


def large_bookmarks_file(path: Path) -> Path:
    """About 3 MiB: long descriptions (each cut to 10000 characters on import)."""
    lines = ["<!DOCTYPE NETSCAPE-Bookmark-file-1>", "<DL><p>", "<DT><H3>Big Import</H3>", "<DL><p>"]
    for n in range(ENTRIES):
        lines.append(f'<DT><A HREF="https://example.com/big/{n}" ADD_DATE="1700000000">Big {n}</A>')
        lines.append("<DD>" + "x" * 10_000)
    lines += ["</DL><p>", "</DL><p>"]
    path.write_text("\n".join(lines))
    assert path.stat().st_size > 3 * 2**20 - 200_000
    return path


def test_a_large_file_imports_with_its_upload_progress(
    system: RunningSystem, browse: Browse, tmp_path: Path
) -> None:
    me = unique("importer")
    page = browse("importer")
    sign_in(page, system.gateway, me)
    page.goto(f"{system.gateway}/import")
    # Every status the page's script shows while the file travels and is imported.
    page.evaluate(
        """() => { window.seen = []; const s = document.getElementById("upload-status");
        new MutationObserver(() => window.seen.push(s.textContent)).observe(s, {childList: true}); }"""
    )
    page.get_by_label("Bookmarks file").set_input_files(str(large_bookmarks_file(tmp_path / "big.html")))
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator("#import-result")
    expect(result.get_by_role("heading")).to_have_text(f"Imported {ENTRIES} bookmarks", timeout=120_000)
    expect(result.locator(".summary")).to_contain_text(f"Created{ENTRIES}")
    seen = page.evaluate("window.seen")
    assert any(s.startswith(("Uploading", "Uploaded")) for s in seen), seen
    assert seen[-1] == "Import finished."
    screenshot(page, "import-result-desktop")
    with system.client(system.login(me)) as api:
        links = api.get("/v1/links", params={"tag": "big-import", "page_size": 100}).json()["links"]
    assert len(links) == 100 and len(links[0]["description"]) == 10_000


def test_a_file_that_is_not_bookmarks_is_refused_with_the_reason(system: RunningSystem) -> None:
    with browser(system) as client:
        token = web_sign_in(client, unique("notbookmarks"))
        answer = client.post(
            "/import",
            data={"csrf_token": token, "folders_as_tags": "on"},
            files={"file": ("notes.txt", b"just some text, no bookmarks", "text/plain")},
        )
        assert answer.status_code == 400
        assert 'role="alert"' in answer.text
        missing = client.post("/import", data={"csrf_token": token})
        assert missing.status_code == 400 and "choose a bookmarks file" in missing.text
        too_big = client.post(
            "/import",
            data={"csrf_token": token},
            files={"file": ("huge.html", b"x" * (21 * 2**20), "text/html")},
        )
        assert too_big.status_code == 413


def test_the_export_is_the_apis(system: RunningSystem) -> None:
    me = unique("exporter")
    with system.client(system.login(me)) as api:
        assert api.post("/v1/links", json={"url": "https://example.com/e", "tags": ["x"]}).status_code == 201
        from_api = api.get("/v1/export")
    with browser(system) as client:
        web_sign_in(client, me)
        from_page = client.get("/export")
    assert from_page.status_code == 200
    assert from_page.headers["content-disposition"] == from_api.headers["content-disposition"]
    assert from_page.text == from_api.text
