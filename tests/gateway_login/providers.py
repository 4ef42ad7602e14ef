"""The real OpenID Connect provider (tests/oidc_provider, panva's oidc-provider on Node)
as a process, and a headless browser that signs in on its forms."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urljoin

import httpx

from tests.servers import free_port, wait_for_port

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc_provider"


class OidcProviderProcess:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.port = free_port()
        self.log: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed: the OIDC login tests need Node.js 18+ (apt: nodejs)")
        if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(f"the test OIDC provider is not installed: run `npm ci` in {PROVIDER_DIR}")
        env = {
            **os.environ,
            "PORT": str(self.port),
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "REDIRECT_URI": self.redirect_uri,
        }
        self.log = Path(tempfile.mkdtemp(prefix="dlk-oidc-")) / "provider.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [node, "provider.js"], cwd=PROVIDER_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            output = self.log.read_text()
            self.stop()
            raise RuntimeError(f"the test OIDC provider did not start:\n{output}") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.log is not None:
            shutil.rmtree(self.log.parent, ignore_errors=True)
            self.log = None

    def tamper_next_id_token(self, mode: str) -> None:
        response = httpx.post(f"{self.issuer}/__test/tamper", params={"mode": mode})
        assert response.status_code == 204, response.text


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>(.*?)</form>', re.S)
_PROMPT = re.compile(r'name="prompt" value="([a-z]+)"')
_ABORT = re.compile(r'href="([^"]*/abort)"')


class Browser:
    """Signs in at the provider like a person would: follows its redirects and submits
    its login and consent forms, until it sends the browser back to `callback_prefix`."""

    def __init__(self, callback_prefix: str) -> None:
        self.callback_prefix = callback_prefix
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def close(self) -> None:
        self.http.close()

    def sign_in(self, authorize_url: str, login: str, *, abort: bool = False) -> str:
        """Returns the callback URL (with `code` and `state`, or `error`)."""
        url = authorize_url
        response = self.http.get(url)
        for _ in range(20):
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                if url.startswith(self.callback_prefix):
                    return url
                response = self.http.get(url)
                continue
            assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:500]}"
            if abort:
                found = _ABORT.search(response.text)
                assert found, response.text[:2000]
                url = urljoin(url, html.unescape(found.group(1)))
                response = self.http.get(url)
                continue
            form = _FORM.search(response.text)
            assert form, response.text[:2000]
            action = urljoin(url, html.unescape(form.group(1)))
            prompt = _PROMPT.search(form.group(2))
            assert prompt, form.group(2)
            fields = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                fields.update(login=login, password="any password")
            url = action
            response = self.http.post(action, data=fields)
        raise AssertionError("the provider never redirected back to the gateway")
