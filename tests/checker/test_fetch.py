"""What a check finds, against real pages served on 127.0.0.1 (address filter off)."""

from __future__ import annotations

import gzip
import socket
import threading
from http.server import BaseHTTPRequestHandler

from delinkcious.models import LinkStatus
from link_checker.checker import USER_AGENT, system_resolver
from link_checker.limits import MIB, CheckLimits
from tests.checker.conftest import DENY, check, fixed_resolver
from tests.checker.pages import PageServer, page, redirect
from tests.servers import free_port

VALID, INVALID = LinkStatus.VALID, LinkStatus.INVALID


async def test_html_page_is_valid_and_its_title_is_normalised(pages: PageServer) -> None:
    body = b"<html><head><TITLE lang='en'>\n  Caf&eacute; &amp;\t Bar&#33;&nbsp; </title></head></html>"
    pages.routes["/"] = page(body)
    outcome = await check(pages.url("/?q=1"))
    assert (outcome.status, outcome.title, outcome.reason) == (VALID, "Café & Bar!", "HTTP 200")
    [seen] = pages.seen
    assert seen.method == "GET" and seen.path == "/?q=1"
    assert seen.headers["User-Agent"] == USER_AGENT == "Delinkcious-LinkChecker/1.0"
    assert seen.headers["Host"] == f"127.0.0.1:{pages.port}"


async def test_title_charset_comes_from_the_header_or_the_meta_tag(pages: PageServer) -> None:
    pages.routes["/header"] = page(
        "<title>Señor</title>".encode("latin-1"), content_type="text/html; charset=iso-8859-1"
    )
    pages.routes["/meta"] = page(
        '<meta charset="windows-1252"><title>naïve</title>'.encode("cp1252"), content_type="text/html"
    )
    assert (await check(pages.url("/header"))).title == "Señor"
    assert (await check(pages.url("/meta"))).title == "naïve"


async def test_page_without_title_is_valid_with_no_title(pages: PageServer) -> None:
    pages.routes["/"] = page(b"<html><body>nothing to see</body></html>")
    pages.routes["/empty"] = page(b"<title>  </title>")
    for path in ("/", "/empty"):
        outcome = await check(pages.url(path))
        assert (outcome.status, outcome.title) == (VALID, None)


async def test_title_is_only_taken_from_html(pages: PageServer) -> None:
    pages.routes["/data"] = page(b'{"x": "<title>Not a page</title>"}', content_type="application/json")
    pages.routes["/xhtml"] = page(b"<title>X</title>", content_type="application/xhtml+xml")
    outcome = await check(pages.url("/data"))
    assert (outcome.status, outcome.title) == (VALID, None)
    assert (await check(pages.url("/xhtml"))).title == "X"


async def test_error_statuses_are_invalid(pages: PageServer) -> None:
    pages.routes["/gone"] = page(b"<title>Gone</title>", status=410)
    pages.routes["/boom"] = page(b"<title>Error</title>", status=500)
    missing = await check(pages.url("/nowhere"))
    assert (missing.status, missing.reason, missing.title) == (INVALID, "HTTP 404", None)
    assert (await check(pages.url("/gone"))).reason == "HTTP 410"
    boom = await check(pages.url("/boom"))
    assert (boom.status, boom.reason, boom.title) == (INVALID, "HTTP 500", None)


def _chain(pages: PageServer, length: int) -> str:
    """/hop/<length> redirects, relatively or absolutely, down to /hop/0, a page."""
    pages.routes["/hop/0"] = page(b"<title>Arrived</title>")
    for i in range(1, length + 1):
        target = f"/hop/{i - 1}" if i % 2 else pages.url(f"/hop/{i - 1}")
        pages.routes[f"/hop/{i}"] = redirect(target, status=(301, 302, 303, 307, 308)[i % 5])
    return pages.url(f"/hop/{length}")


async def test_five_redirects_are_followed(pages: PageServer) -> None:
    outcome = await check(_chain(pages, 5))
    assert (outcome.status, outcome.title) == (VALID, "Arrived")
    assert outcome.reason == "HTTP 200 after 5 redirects"
    assert outcome.final_url == pages.url("/hop/0")
    assert len(pages.seen) == 6


async def test_a_sixth_redirect_is_invalid_and_not_followed(pages: PageServer) -> None:
    outcome = await check(_chain(pages, 6))
    assert (outcome.status, outcome.reason) == (INVALID, "more than 5 redirects")
    assert "/hop/0" not in pages.paths() and len(pages.seen) == 6


async def test_redirect_to_another_scheme_is_invalid(pages: PageServer) -> None:
    pages.routes["/"] = redirect("file:///etc/passwd")
    outcome = await check(pages.url("/"))
    assert outcome.status is INVALID and "unsupported scheme 'file'" in outcome.reason


async def test_unsupported_schemes_and_malformed_urls_are_invalid() -> None:
    for url, words in [
        ("ftp://example.com/file", "unsupported scheme"),
        ("javascript:alert(1)", "unsupported scheme"),
        ("http:///path", "no host"),
        ("http://exa mple.com/", "malformed host"),
        ("http://1.2.3.4.5/", "malformed host"),
        ("http://example.com:99999/", "malformed url"),
    ]:
        outcome = await check(url, policy=DENY)
        assert outcome.status is INVALID and words in outcome.reason, (url, outcome)


async def test_a_slow_page_times_out_as_invalid(pages: PageServer) -> None:
    def never_answers(handler: BaseHTTPRequestHandler) -> None:
        pages.release.wait(30)

    pages.routes["/slow"] = never_answers
    outcome = await check(pages.url("/slow"), limits=CheckLimits(total_timeout=0.3))
    assert outcome.status is INVALID and "timed out" in outcome.reason


async def test_a_huge_page_is_read_only_up_to_one_mebibyte(pages: PageServer) -> None:
    size = 5 * MIB
    written = {"bytes": 0, "complete": False}
    done = threading.Event()

    def huge(handler: BaseHTTPRequestHandler) -> None:
        # A small send buffer, so what the server managed to write is close to what
        # the client actually took.
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
            tail = b"<title>Too far</title>"
            body_left = size - len(tail)
            while body_left > 0:
                part = chunk[:body_left]
                handler.wfile.write(part)
                written["bytes"] += len(part)
                body_left -= len(part)
            handler.wfile.write(tail)
            written["bytes"] += len(tail)
            written["complete"] = True
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            done.set()

    pages.routes["/huge"] = huge
    outcome = await check(pages.url("/huge"))
    assert (outcome.status, outcome.title) == (VALID, None)
    assert done.wait(10)
    assert not written["complete"]
    assert MIB <= written["bytes"] < 3 * MIB


async def test_gzip_is_decoded_with_the_same_limit(pages: PageServer) -> None:
    titled = gzip.compress(b"<title>Zipped</title>" + b" " * 1000)
    # 64 MiB of spaces compress to ~64 KiB; decoding must stop at 1 MiB.
    bomb = gzip.compress(b" " * (64 * MIB) + b"<title>Never</title>")
    pages.routes["/zipped"] = page(titled, headers={"Content-Encoding": "gzip"})
    pages.routes["/bomb"] = page(bomb, headers={"Content-Encoding": "gzip"})
    assert (await check(pages.url("/zipped"))).title == "Zipped"
    outcome = await check(pages.url("/bomb"))
    assert (outcome.status, outcome.title) == (VALID, None)
    assert pages.seen[0].headers["Accept-Encoding"] == "identity"


async def test_refused_connection_is_invalid() -> None:
    outcome = await check(f"http://127.0.0.1:{free_port()}/")
    assert outcome.status is INVALID and "ConnectError" in outcome.reason and not outcome.blocked


async def test_a_connection_never_accepted_times_out_at_the_connect_limit() -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
            limits = CheckLimits(connect_timeout=0.3, total_timeout=30)
            outcome = await check(f"http://127.0.0.1:{port}/", limits=limits)
        finally:
            for filler in fillers:
                filler.close()
    assert (outcome.status, outcome.reason) == (INVALID, "connecting timed out (limit 0.3s)")


async def test_dns_failure_is_invalid() -> None:
    outcome = await check("http://no-such-host.test/", resolver=fixed_resolver({}))
    assert outcome.status is INVALID and "DNS lookup of no-such-host.test failed" in outcome.reason


async def test_a_name_is_resolved_once_and_sent_as_host(pages: PageServer) -> None:
    pages.routes["/"] = page(b"<title>Named</title>")
    calls: list[str] = []
    resolver = fixed_resolver({"site.test": ["127.0.0.1"]}, calls)
    outcome = await check(f"http://Site.TEST.:{pages.port}/", resolver=resolver)
    assert (outcome.status, outcome.title) == (VALID, "Named")
    assert calls == ["site.test"]
    assert pages.seen[0].headers["Host"] == f"site.test:{pages.port}"


async def test_the_system_resolver_tries_each_address(pages: PageServer) -> None:
    # localhost may resolve to ::1 first, where nothing listens; 127.0.0.1 answers.
    pages.routes["/"] = page(b"<title>Local</title>")
    outcome = await check(pages.url("/", host="localhost"), resolver=system_resolver)
    assert (outcome.status, outcome.title) == (VALID, "Local")
