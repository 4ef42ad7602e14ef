"""A local stand-in for GitHub's OAuth web flow and user API.

GitHub itself cannot be reached from the test machines, so this server reproduces the
documented endpoints the gateway uses, with their real request and response shapes:

- `GET /login/oauth/authorize`: checks client_id, redirect_uri, scope and the PKCE
  challenge, then (the user being already signed in and consenting) redirects back
  with `code` and `state`. A bad request gets a 400 page, as GitHub shows an error page.
- `POST /login/oauth/access_token`: form-encoded; checks the client secret, the code
  (single use, bound to its redirect_uri) and the PKCE verifier. Answers JSON when asked
  with `Accept: application/json`, otherwise GitHub's default form encoding. Failures are
  a 200 with `{"error": "bad_verification_code", ...}`, as GitHub does.
- `GET /user` and `GET /user/emails` with `Authorization: Bearer <token>` (or `token <token>`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.servers import free_port


@dataclass
class GitHubUser:
    id: int
    login: str
    name: str | None = None
    email: str | None = None  # the public profile email; None when the user keeps it private
    emails: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Grant:
    user: GitHubUser
    redirect_uri: str
    challenge: str


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class GitHubStandIn:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.signed_in: GitHubUser | None = None  # who is signed in at "GitHub" in the browser
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, GitHubUser] = {}
        self._lock = threading.Lock()
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stops answering (tests call it to take "GitHub" down); safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    # ------------------------------------------------------------------ endpoints

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.authorize_requests.append(query)
        problems = []
        if query.get("client_id") != self.client_id:
            problems.append("unknown client_id")
        if query.get("redirect_uri") != self.redirect_uri:
            problems.append("redirect_uri is not the application's callback URL")
        if {"read:user", "user:email"} - set(query.get("scope", "").split()):
            problems.append("scope must include read:user and user:email")
        if query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) != 43:
            problems.append("PKCE S256 challenge missing")
        if not query.get("state"):
            problems.append("state missing")
        if self.signed_in is None:
            problems.append("nobody is signed in at the stand-in")
        if problems:
            return 400, {"Content-Type": "text/html"}, "; ".join(problems).encode()
        code = secrets.token_hex(10)
        with self._lock:
            assert self.signed_in is not None
            self._grants[code] = _Grant(self.signed_in, query["redirect_uri"], query["code_challenge"])
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": location}, b""

    def access_token(self, form: dict[str, str], accept: str) -> tuple[int, dict[str, str], bytes]:
        self.token_requests.append(form)
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            body: dict[str, str] = {
                "error": "incorrect_client_credentials",
                "error_description": "The client_id and/or client_secret passed are incorrect.",
            }
        elif (
            grant is None
            or form.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri
            or _s256(form.get("code_verifier", "")) != grant.challenge
        ):
            body = {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            }
        else:
            token = f"gho_{secrets.token_hex(18)}"
            with self._lock:
                self._tokens[token] = grant.user
            body = {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        if "application/json" in accept:
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 200, {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(body).encode()

    def api(self, path: str, authorization: str) -> tuple[int, dict[str, str], bytes]:
        scheme, _, token = authorization.partition(" ")
        user = self._tokens.get(token) if scheme.lower() in ("bearer", "token") else None
        if user is None:
            body: Any = {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
            return 401, {"Content-Type": "application/json"}, json.dumps(body).encode()
        if path == "/user":
            body = {
                "login": user.login,
                "id": user.id,
                "node_id": f"MDQ6VXNlcj{user.id}",
                "type": "User",
                "site_admin": False,
                "name": user.name,
                "email": user.email,
            }
        elif path == "/user/emails":
            body = user.emails
        else:
            return 404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}'
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, answer: tuple[int, dict[str, str], bytes]) -> None:
                status, headers, body = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/login/oauth/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    self._reply(standin.authorize(query))
                else:
                    self._reply(standin.api(parts.path, self.headers.get("Authorization", "")))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                if urlsplit(self.path).path != "/login/oauth/access_token":
                    self._reply((404, {}, b""))
                    return
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                self._reply(standin.access_token(form, self.headers.get("Accept", "")))

        return Handler
