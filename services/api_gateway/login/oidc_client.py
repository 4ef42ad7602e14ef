"""An OpenID Connect relying party: discovery, the code exchange, ID token validation
(authlib's CodeIDToken rules over a joserfc-verified signature) and userinfo.

The discovery document and the JWKS are fetched on first use and cached, so the
gateway starts even while the provider is down; its login routes then answer 503.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from api_gateway.login.cookies import PendingLogin
from api_gateway.login.outbound import json_of, send, token_response
from delinkcious.errors import Unauthenticated, Unavailable

LABEL = "the OpenID Connect provider"
SCOPES = "openid profile email"
METADATA_TTL_SECONDS = 3600.0
JWKS_REFRESH_SECONDS = 60.0  # how often an unknown `kid` may trigger a JWKS refetch
CLOCK_LEEWAY_SECONDS = 60
# ID tokens are checked against the provider's published keys only: no `none`, and no
# HMAC algorithms (those would be keyed by the client secret, not the JWKS).
ACCEPTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_auth_method: str
    algorithms: tuple[str, ...]
    iss_in_response: bool  # RFC 9207: the callback carries `iss`, checked against mix-ups


def _url(doc: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = doc.get(key)
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    if required or value is not None:
        raise Unavailable(f"{LABEL}'s discovery document has no usable {key}")
    return None


class OidcClient:
    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        http: httpx.AsyncClient,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._http = http
        self._lock = asyncio.Lock()
        self._metadata: tuple[float, Metadata] | None = None
        self._jwks: tuple[float, KeySet] | None = None

    # ------------------------------------------------------------------ discovery

    async def metadata(self) -> Metadata:
        async with self._lock:
            cached = self._metadata
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            try:
                found = await self._discover()
            except Unavailable:
                if cached is None:
                    raise
                return cached[1]  # a stale document beats no login while the provider blips
            self._metadata = (time.monotonic() + METADATA_TTL_SECONDS, found)
            return found

    async def _discover(self) -> Metadata:
        url = f"{self.issuer}/.well-known/openid-configuration"
        response = await send(self._http, LABEL, "GET", url, headers={"Accept": "application/json"})
        doc = json_of(response, LABEL)
        if response.status_code != 200 or not isinstance(doc, dict):
            raise Unavailable(f"{LABEL}'s discovery document could not be read ({response.status_code})")
        issuer = doc.get("issuer")
        # OIDC Discovery 4.3: the document must name the issuer it was fetched for.
        if not isinstance(issuer, str) or issuer.rstrip("/") != self.issuer:
            raise Unavailable(f"{LABEL}'s discovery document is for another issuer")
        algorithms = tuple(
            a for a in doc.get("id_token_signing_alg_values_supported", ["RS256"]) if a in ACCEPTED_ALGORITHMS
        )
        if not algorithms:
            raise Unavailable(f"{LABEL} signs ID tokens with no algorithm this gateway accepts")
        return Metadata(
            issuer=issuer,
            authorization_endpoint=str(_url(doc, "authorization_endpoint")),
            token_endpoint=str(_url(doc, "token_endpoint")),
            jwks_uri=str(_url(doc, "jwks_uri")),
            userinfo_endpoint=_url(doc, "userinfo_endpoint", required=False),
            token_auth_method=self._auth_method(doc),
            algorithms=algorithms,
            iss_in_response=doc.get("authorization_response_iss_parameter_supported") is True,
        )

    def _auth_method(self, doc: dict[str, Any]) -> str:
        if self._client_secret is None:
            return "none"  # a public client; PKCE protects its code
        supported = doc.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
        for method in ("client_secret_basic", "client_secret_post"):
            if method in supported:
                return method
        raise Unavailable(f"{LABEL} supports neither client_secret_basic nor client_secret_post")

    # ------------------------------------------------------------------ the flow

    def authorization_url(self, meta: Metadata, pending: PendingLogin) -> str:
        url: str = prepare_grant_uri(
            meta.authorization_endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=SCOPES,
            state=pending.state,
            nonce=pending.nonce,
            code_challenge=create_s256_code_challenge(pending.code_verifier),
            code_challenge_method="S256",
        )
        return url

    def check_issuer_param(self, meta: Metadata, iss: str | None) -> None:
        """RFC 9207: a response that names another issuer came from another provider."""
        if iss is None and not meta.iss_in_response:
            return
        if iss != meta.issuer:
            raise Unauthenticated(f"the callback does not come from {LABEL} (iss mismatch)")

    async def exchange(self, meta: Metadata, code: str, code_verifier: str) -> dict[str, Any]:
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=self.redirect_uri, code_verifier=code_verifier
        )
        auth = ClientAuth(self.client_id, self._client_secret, meta.token_auth_method)
        _, headers, body = auth.prepare(
            "POST",
            meta.token_endpoint,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            body,
        )
        response = await send(self._http, LABEL, "POST", meta.token_endpoint, headers=headers, content=body)
        token = token_response(response, LABEL)
        if not isinstance(token.get("id_token"), str):
            raise Unauthenticated(f"{LABEL} returned no ID token")
        return token

    async def verify_id_token(
        self, meta: Metadata, id_token: str, nonce: str, access_token: str
    ) -> dict[str, Any]:
        try:
            token = await self._decode(meta, id_token)
        except (JoseError, ValueError, TypeError):
            raise Unauthenticated(f"the ID token from {LABEL} has no valid signature") from None
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": meta.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
            },
            params={"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except ClaimError as exc:
            raise Unauthenticated(f"the ID token from {LABEL} is not valid: {exc.description}") from None
        except (JoseError, ValueError, TypeError):  # e.g. an `at_hash` that is not a string
            raise Unauthenticated(f"the ID token from {LABEL} is not valid") from None
        if not isinstance(claims.get("sub"), str):
            raise Unauthenticated(f"the ID token from {LABEL} has no subject")
        return dict(claims)

    async def _decode(self, meta: Metadata, id_token: str) -> jwt.Token:
        keys = await self._keys(meta, refresh=False)
        try:
            return jwt.decode(id_token, keys, algorithms=list(meta.algorithms))
        except InvalidKeyIdError:
            # Perhaps the provider rotated its keys since we fetched them.
            keys = await self._keys(meta, refresh=True)
            return jwt.decode(id_token, keys, algorithms=list(meta.algorithms))

    async def _keys(self, meta: Metadata, *, refresh: bool) -> KeySet:
        async with self._lock:
            if self._jwks is not None:
                age = time.monotonic() - self._jwks[0]
                may_refetch = refresh and age > JWKS_REFRESH_SECONDS
                if age < METADATA_TTL_SECONDS and not may_refetch:
                    return self._jwks[1]
            response = await send(
                self._http, LABEL, "GET", meta.jwks_uri, headers={"Accept": "application/json"}
            )
            doc = json_of(response, LABEL)
            try:
                keys = KeySet.import_key_set(doc)
            except (JoseError, ValueError, TypeError, KeyError, AttributeError):
                raise Unavailable(f"{LABEL}'s JWKS could not be read") from None
            self._jwks = (time.monotonic(), keys)
            return keys

    async def userinfo(self, meta: Metadata, access_token: str, subject: str) -> dict[str, Any]:
        if meta.userinfo_endpoint is None:
            return {}
        response = await send(
            self._http,
            LABEL,
            "GET",
            meta.userinfo_endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code in (401, 403):
            raise Unauthenticated(f"{LABEL} refused to describe the user ({response.status_code})")
        info = json_of(response, LABEL)
        if response.status_code != 200 or not isinstance(info, dict):
            raise Unavailable(f"{LABEL}'s userinfo could not be read ({response.status_code})")
        # OIDC Core 5.3.2: userinfo about someone else must not be used.
        if info.get("sub") != subject:
            raise Unauthenticated(f"{LABEL}'s userinfo is about another subject")
        return info
