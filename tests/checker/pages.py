"""Pages for the checker to fetch, served from a thread on a loopback address, and a
listening socket that counts the connections made to it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    method: str


@dataclass
class PageServer:
    host: str = "127.0.0.1"
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    # Set when the test ends, so handlers that hold a request open can finish.
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


@contextmanager
def serve(
    server_host: str = "127.0.0.1", wrap: Callable[[socket.socket], socket.socket] | None = None
) -> Iterator[PageServer]:
    pages = PageServer(server_host)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with lock:
                pages.seen.append(Seen(self.path, dict(self.headers.items()), self.command))
            route = pages.routes.get(path)
            if route is None:
                send(self, 404, b"not here", "text/plain")
                return
            route(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((server_host, 0), Handler)
    if wrap is not None:
        httpd.socket = wrap(httpd.socket)
    pages.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield pages
    finally:
        pages.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    content_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def page(
    body: bytes,
    status: int = 200,
    content_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, status, body, content_type, headers)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        send(handler, status, b"", "text/plain", {"Location": location})

    return route


class CountingListener:
    """A socket that listens but never answers. The kernel completes every TCP
    handshake into the backlog, so `connections()` counts each connect made to it."""

    def __init__(
        self, family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self._accepted = 0

    def connections(self) -> int:
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return self._accepted
            conn.close()
            self._accepted += 1

    def close(self) -> None:
        self.sock.close()


@contextmanager
def counting_listener(
    family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1", port: int = 0
) -> Iterator[CountingListener]:
    listener = CountingListener(family, host, port)
    try:
        yield listener
    finally:
        listener.close()
