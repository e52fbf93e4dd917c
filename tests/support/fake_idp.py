"""Loopback identity providers for the "Sign in with …" tests: real HTTP servers on 127.0.0.1
that the Hushroom server talks to exactly as it talks to Google or Facebook.

`FakeOidcProvider` is an OpenID Connect provider (discovery, JWKS, authorization code + PKCE,
RS256 ID tokens); `FakeFacebook` is Facebook's OAuth dialog and Graph API (v23.0 shape). Neither
has a login page: the authorization endpoint redirects straight back with a code (or an error),
so a test follows the redirects itself. Both can be told to misbehave, for the next
authorization or for all of them, and record every request they receive.

In pytest (either runs its own uvicorn in a thread, so it works from any event loop, under
xdist, and even from a client that blocks the test's loop):

    async with FakeOidcProvider(redirect_uris=[callback]) as idp:
        idp.next_user(User(sub="u1", email="u1@example.test", name="U One"))
        idp.fail_next(Fault.EXPIRED)
        ...

As a process (the Playwright run), printing `READY <base url>` once listening and exiting 0 on
SIGTERM or SIGINT:

    python -m tests.support.fake_idp oidc --port N [--redirect-uri URI …]
    python -m tests.support.fake_idp facebook --port N [--redirect-uri URI …]

Out of process, `POST /__fake/next` with JSON `{"user": {"sub", "email", "email_verified",
"name"}, "faults": ["expired", …], "deny": true}` (every key optional) sets up the next
authorization, and `GET /__fake/requests` lists the recorded requests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Self
from urllib.parse import parse_qsl, unquote_plus, urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, KeySetSerialization, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0
CODE_TTL = 60.0
ID_TOKEN_TTL = 600
# RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
ID_TOKEN_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "nonce")
WRONG_ISSUER = "http://127.0.0.1:9/wrong-issuer"
WRONG_AUDIENCE = "someone-else"

# The clients both fakes know by default: the ones the e2e provider config names.
OIDC_CLIENT_ID = "hushroom-e2e"
OIDC_CLIENT_SECRET = "e2e-secret"
FACEBOOK_APP_ID = "fb-app"
FACEBOOK_APP_SECRET = "fb-secret"


class Fault(StrEnum):
    """One way to misbehave. ID token faults apply to the token response's `id_token`."""

    WRONG_AUDIENCE = "wrong_audience"  # aud is another client
    WRONG_ISSUER = "wrong_issuer"  # iss is another issuer
    EXPIRED = "expired"  # exp an hour and more in the past (beyond any clock-skew leeway)
    WRONG_NONCE = "wrong_nonce"  # a nonce other than the one sent
    NO_NONCE = "no_nonce"  # no nonce claim at all
    FOREIGN_KEY = "foreign_key"  # signed by a key not in the JWKS, with the JWKS key's kid
    UNKNOWN_KID = "unknown_kid"  # signed by that key, with a kid in no JWKS
    ALG_NONE = "alg_none"  # unsigned: header {"alg": "none"}, empty signature
    NO_ID_TOKEN = "no_id_token"  # the token response has no id_token
    # Token endpoint (both fakes), after the code is validated and used up:
    TOKEN_HTTP_500 = "token_http_500"
    TOKEN_INVALID_JSON = "token_invalid_json"
    # OIDC /userinfo answers 401; Facebook /me answers Graph error 190.
    USERINFO_ERROR = "userinfo_error"
    # Global only (`faults`): the discovery document names another issuer.
    DISCOVERY_WRONG_ISSUER = "discovery_wrong_issuer"


@dataclass(frozen=True)
class User:
    """Who signs in. For Facebook `sub` is the app-scoped id and `email_verified` is unused;
    a None email is left out of the ID token / Graph response."""

    sub: str
    email: str | None = None
    email_verified: bool | None = True
    name: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(
            sub=str(data["sub"]),
            email=data.get("email"),
            email_verified=data.get("email_verified", True),
            name=data.get("name"),
        )


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class _Plan:
    """What one authorization does, fixed when the browser comes through the dialog."""

    user: User
    faults: frozenset[Fault]
    deny: bool


@dataclass(frozen=True)
class _Code:
    plan: _Plan
    redirect_uri: str
    scope: frozenset[str]
    nonce: str | None
    challenge: str | None
    expires_at: float = field(default_factory=lambda: time.monotonic() + CODE_TTL)


@functools.cache
def _signing_keys() -> tuple[RSAKey, RSAKey]:
    """(the key the JWKS publishes, a key it does not). RSA key generation is slow-ish, so one
    pair serves every fake in the process."""
    published = RSAKey.generate_key(2048, parameters={"kid": "fake-idp-1", "use": "sig"})
    foreign = RSAKey.generate_key(2048)
    return published, foreign


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def _pkce_ok(challenge: str | None, verifier: str | None) -> bool:
    if challenge is None:
        # A verifier without a challenge is refused as well (RFC 9700 §2.1.1).
        return verifier is None
    if verifier is None or not CODE_VERIFIER.fullmatch(verifier):
        return False
    return _same(s256(verifier), challenge)


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two secrets (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode(), b.encode())


def _with_query(url: str, params: Mapping[str, str | None], fragment: str = "") -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}{fragment}"


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded body, parsed by hand (Starlette's form parser needs python-multipart)."""
    if request.method != "POST":
        return {}
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


class _LoopbackServer:
    """A Starlette app served by uvicorn on 127.0.0.1, in a thread with its own event loop."""

    def __init__(self, port: int = 0, *, own_process: bool = False) -> None:
        self._port = port
        self._own_process = own_process
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the test's thread and the server's share the state
        self._next_user: User | None = None
        self._next_faults: set[Fault] = set()
        self._next_deny = False
        self.faults: set[Fault] = set()  # applied to every authorization
        self.requests: list[RecordedRequest] = []
        # Every token response sent (canary tests look for them where they must not be).
        self.issued_tokens: list[dict[str, Any]] = []

    # -- serving ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port == 0:
            raise RuntimeError("not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def _launch(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        # Bound here, not by uvicorn, so that port 0 gives us the port before anything runs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        control = [
            Route("/__fake/next", self._control_next, methods=["POST"]),
            Route("/__fake/requests", self._control_requests, methods=["GET"]),
        ]
        app = Starlette(routes=[*self.routes(), *control])
        if self._own_process:
            config = uvicorn.Config(app, lifespan="off", ws="none", timeout_graceful_shutdown=2)
        else:
            # Inside a test process uvicorn must not touch logging: its default dictConfig
            # closes every handler already installed (the app's own, pytest's capture), and
            # log_level / access_log=False reset the shared "uvicorn.*" loggers.
            config = uvicorn.Config(
                app,
                lifespan="off",
                ws="none",
                timeout_graceful_shutdown=2,
                log_config=None,
                log_level=None,
            )
        server = uvicorn.Server(config)
        self._server = server
        # Not the main thread, so uvicorn leaves the process's signal handlers alone.
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"{type(self).__name__}:{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _wait_started(self) -> None:
        """Until uvicorn serves (its `started` is a plain flag, set in the server's thread)."""
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} failed to start")
            if time.monotonic() > deadline:
                self._halt()
                raise TimeoutError(f"{type(self).__name__} not serving in {STARTUP_TIMEOUT}s")
            time.sleep(0.01)

    def _halt(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(SHUTDOWN_TIMEOUT)

    async def start(self) -> None:
        self._launch()
        await asyncio.to_thread(self._wait_started)

    async def stop(self) -> None:
        await asyncio.to_thread(self._halt)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def serve_until_signalled(self) -> None:
        """The command-line mode: serve until SIGTERM or SIGINT, then exit cleanly."""
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        self._launch()
        self._wait_started()
        sys.stdout.write(f"READY {self.base_url}\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            assert self._thread is not None
            if not self._thread.is_alive():
                raise SystemExit(1)
        self._halt()

    # -- what the next authorization does ---------------------------------------------------

    def next_user(self, user: User) -> None:
        """The next authorization signs in `user` (afterwards, `self.user` again)."""
        with self._lock:
            self._next_user = user

    def fail_next(self, *faults: Fault) -> None:
        """The next authorization's token response has these faults (on top of `faults`)."""
        with self._lock:
            self._next_faults.update(faults)

    def deny_next(self) -> None:
        """The next authorization comes back as the user refusing (`error=access_denied`)."""
        with self._lock:
            self._next_deny = True

    def _take_plan(self, default_user: User) -> _Plan:
        with self._lock:
            plan = _Plan(
                user=self._next_user or default_user,
                faults=frozenset(self._next_faults | self.faults),
                deny=self._next_deny,
            )
            self._next_user, self._next_faults, self._next_deny = None, set(), False
        return plan

    # -- recording --------------------------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests whose path ends with `path`, oldest first."""
        return [r for r in list(self.requests) if r.path.endswith(path)]

    async def _record(self, request: Request) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            form=await _form(request),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        self.requests.append(recorded)
        return recorded

    # -- out-of-process control -------------------------------------------------------------

    async def _control_next(self, request: Request) -> Response:
        body = await request.json()
        if "user" in body:
            self.next_user(User.from_json(body["user"]))
        self.fail_next(*(Fault(f) for f in body.get("faults", [])))
        if body.get("deny"):
            self.deny_next()
        return Response(status_code=204)

    async def _control_requests(self, _: Request) -> Response:
        return JSONResponse([asdict(r) for r in list(self.requests)])


class FakeOidcProvider(_LoopbackServer):
    """An OpenID Connect provider with one confidential client.

    `redirect_uris` empty accepts any redirect URI. PKCE (S256) is required unless
    `require_pkce` is False; a code is good once, for `CODE_TTL` seconds. The client may
    authenticate at the token endpoint with any method in `client_auth_methods`."""

    def __init__(
        self,
        *,
        client_id: str = OIDC_CLIENT_ID,
        client_secret: str = OIDC_CLIENT_SECRET,
        redirect_uris: Iterable[str] = (),
        port: int = 0,
        own_process: bool = False,
    ) -> None:
        super().__init__(port, own_process=own_process)
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self.require_pkce = True
        self.client_auth_methods = {"client_secret_basic", "client_secret_post"}
        self.user = User(sub="oidc-user-1", email="oidc-user-1@example.test", name="Oidc User")
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, tuple[_Plan, frozenset[str]]] = {}

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def jwks(self) -> KeySetSerialization:
        """The published key set (public halves only)."""
        published, _ = _signing_keys()
        return KeySet([published]).as_dict(private=False)

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/openid-configuration", self._discovery),
            Route("/jwks", self._jwks),
            Route("/authorize", self._authorize),
            Route("/token", self._token, methods=["POST"]),
            Route("/userinfo", self._userinfo, methods=["GET", "POST"]),
        ]

    async def _discovery(self, request: Request) -> Response:
        await self._record(request)
        wrong = Fault.DISCOVERY_WRONG_ISSUER in self.faults
        return JSONResponse(
            {
                "issuer": WRONG_ISSUER if wrong else self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": sorted(self.client_auth_methods),
                "scopes_supported": ["openid", "email", "profile"],
                "claims_supported": [*ID_TOKEN_CLAIMS, "email", "email_verified", "name"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse(self.jwks)

    async def _authorize(self, request: Request) -> Response:
        q = (await self._record(request)).query
        redirect_uri = q.get("redirect_uri", "")
        # Bad client or redirect URI: an error page, never a redirect (RFC 6749 §4.1.2.1).
        if q.get("client_id") != self.client_id:
            return PlainTextResponse("unknown client_id", status_code=400)
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return PlainTextResponse("redirect_uri not registered", status_code=400)

        def back(**params: str | None) -> Response:
            location = _with_query(redirect_uri, {**params, "state": q.get("state")})
            return RedirectResponse(location, status_code=302)

        scope = frozenset(q.get("scope", "").split())
        challenge = q.get("code_challenge")
        if q.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in scope:
            return back(error="invalid_scope", error_description="openid is required")
        if challenge is None and self.require_pkce:
            return back(error="invalid_request", error_description="PKCE is required")
        if challenge is not None and q.get("code_challenge_method") != "S256":
            return back(error="invalid_request", error_description="only S256 is supported")
        plan = self._take_plan(self.user)
        if plan.deny:
            return back(error="access_denied", error_description="The user denied access")
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(plan, redirect_uri, scope, q.get("nonce"), challenge)
        return back(code=code)

    def _authenticated_client(self, request: Request, form: Mapping[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic ") and "client_secret" not in form:
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except ValueError:
                return False
            # RFC 6749 §2.3.1: both halves are form-url-encoded before joining.
            client_id, _, secret = (unquote_plus(part) for part in decoded.partition(":"))
            method = "client_secret_basic"
        elif not header and "client_secret" in form:
            client_id, secret = form.get("client_id", ""), form["client_secret"]
            method = "client_secret_post"
        else:
            return False  # none, or both at once (RFC 6749 §2.3)
        return (
            method in self.client_auth_methods
            and _same(client_id, self.client_id)
            and _same(secret, self.client_secret)
        )

    async def _token(self, request: Request) -> Response:
        form = (await self._record(request)).form

        def error(code: str, status: int = 400) -> Response:
            return JSONResponse({"error": code}, status_code=status)

        if not self._authenticated_client(request, form):
            response = error("invalid_client", 401)
            response.headers["www-authenticate"] = 'Basic realm="fake-idp"'
            return response
        if form.get("grant_type") != "authorization_code":
            return error("unsupported_grant_type")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # single use
        if grant is None or grant.expires_at < time.monotonic():
            return error("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return error("invalid_grant")
        if not _pkce_ok(grant.challenge, form.get("code_verifier")):
            return error("invalid_grant")
        faults = grant.plan.faults | self.faults
        if Fault.TOKEN_HTTP_500 in faults:
            return PlainTextResponse("Internal Server Error", status_code=500)
        if Fault.TOKEN_INVALID_JSON in faults:
            return Response('{"access_token": ', media_type="application/json")
        access_token = secrets.token_urlsafe(24)
        self._access_tokens[access_token] = (grant.plan, grant.scope)
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(sorted(grant.scope)),
        }
        if Fault.NO_ID_TOKEN not in faults:
            body["id_token"] = self.id_token(grant.plan.user, grant.scope, grant.nonce, faults)
        self.issued_tokens.append(body)
        return JSONResponse(body, headers={"cache-control": "no-store"})

    def user_claims(self, user: User, scope: frozenset[str]) -> dict[str, Any]:
        """The user's claims that `scope` releases (OIDC Core §5.4), None ones left out."""
        claims: dict[str, Any] = {"sub": user.sub}
        if "email" in scope:
            claims |= {"email": user.email, "email_verified": user.email_verified}
        if "profile" in scope:
            claims["name"] = user.name
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(
        self,
        user: User,
        scope: frozenset[str],
        nonce: str | None,
        faults: frozenset[Fault] = frozenset(),
    ) -> str:
        """A signed ID token, spoiled as `faults` say."""
        now = int(time.time())
        if Fault.EXPIRED in faults:
            now -= 7200
        claims: dict[str, Any] = {
            **self.user_claims(user, scope),
            "iss": WRONG_ISSUER if Fault.WRONG_ISSUER in faults else self.issuer,
            "aud": WRONG_AUDIENCE if Fault.WRONG_AUDIENCE in faults else self.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
        }
        if Fault.WRONG_NONCE in faults:
            claims["nonce"] = "not-the-nonce-you-sent"
        elif nonce is not None and Fault.NO_NONCE not in faults:
            claims["nonce"] = nonce
        published, foreign = _signing_keys()
        if Fault.ALG_NONE in faults:
            header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64url(json.dumps(claims).encode())}."
        if Fault.UNKNOWN_KID in faults:
            return jwt.encode({"alg": "RS256", "kid": "no-such-key"}, claims, foreign)
        key = foreign if Fault.FOREIGN_KEY in faults else published
        return jwt.encode({"alg": "RS256", "kid": published.kid}, claims, key)

    async def _userinfo(self, request: Request) -> Response:
        await self._record(request)
        header = request.headers.get("authorization", "")
        found = self._access_tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if found is None or Fault.USERINFO_ERROR in found[0].faults | self.faults:
            return Response(status_code=401, headers={"www-authenticate": "Bearer"})
        plan, scope = found
        return JSONResponse(self.user_claims(plan.user, scope))


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """Graph API's `appsecret_proof`: hex HMAC-SHA256 of the access token, keyed by the secret."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


class FakeFacebook(_LoopbackServer):
    """Facebook Login's dialog and the Graph API (v23.0) for one app.

    `dialog_url` and `graph_url` are what Hushroom's provider config takes. PKCE is checked
    when the dialog was given a challenge; `/me` requires `appsecret_proof` unless
    `require_appsecret_proof` is False. As Facebook does, the redirect back ends with `#_=_`
    (the browser keeps that fragment through the server's next redirect)."""

    version = "v23.0"

    def __init__(
        self,
        *,
        app_id: str = FACEBOOK_APP_ID,
        app_secret: str = FACEBOOK_APP_SECRET,
        redirect_uris: Iterable[str] = (),
        port: int = 0,
        own_process: bool = False,
    ) -> None:
        super().__init__(port, own_process=own_process)
        self.app_id = app_id
        self.app_secret = app_secret
        self.redirect_uris = list(redirect_uris)
        self.require_appsecret_proof = True
        self.user = User(sub="10000000000000001", email="fb-user-1@example.test", name="Fb User")
        self._codes: dict[str, _Code] = {}
        self._used_codes: set[str] = set()
        self._access_tokens: dict[str, _Plan] = {}

    @property
    def dialog_url(self) -> str:
        return f"{self.base_url}/{self.version}/dialog/oauth"

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/{self.version}"

    def routes(self) -> list[Route]:
        return [
            Route(f"/{self.version}/dialog/oauth", self._dialog),
            Route(f"/{self.version}/oauth/access_token", self._token, methods=["GET", "POST"]),
            Route(f"/{self.version}/me", self._me),
        ]

    @staticmethod
    def graph_error(
        message: str, code: int, kind: str = "OAuthException", status: int = 400
    ) -> Response:
        body = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_hex(8)}
        return JSONResponse({"error": body}, status_code=status)

    async def _dialog(self, request: Request) -> Response:
        q = (await self._record(request)).query
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != self.app_id:
            return PlainTextResponse("Invalid App ID", status_code=400)
        if not redirect_uri or (self.redirect_uris and redirect_uri not in self.redirect_uris):
            return PlainTextResponse("URL blocked: redirect_uri not allowed", status_code=400)
        state = q.get("state")
        challenge = q.get("code_challenge")
        if challenge is not None and q.get("code_challenge_method") != "S256":
            return PlainTextResponse("Invalid code_challenge_method", status_code=400)
        plan = self._take_plan(self.user)
        if plan.deny:
            denied = {
                "error": "access_denied",
                "error_code": "200",
                "error_description": "Permissions error",
                "error_reason": "user_denied",
                "state": state,
            }
            return RedirectResponse(_with_query(redirect_uri, denied, "#_=_"), status_code=302)
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(plan, redirect_uri, frozenset(), None, challenge)
        back = _with_query(redirect_uri, {"code": code, "state": state}, "#_=_")
        return RedirectResponse(back, status_code=302)

    async def _token(self, request: Request) -> Response:
        recorded = await self._record(request)
        params = {**recorded.query, **recorded.form}
        if params.get("client_id") != self.app_id:
            return self.graph_error("Error validating application. Invalid application ID.", 101)
        if not _same(params.get("client_secret", ""), self.app_secret):
            return self.graph_error("Error validating client secret.", 1)
        code = params.get("code", "")
        with self._lock:
            grant = self._codes.pop(code, None)  # single use
            reused = grant is None and code in self._used_codes
            self._used_codes.add(code)
        if reused:
            return self.graph_error("This authorization code has been used.", 100)
        if grant is None or grant.expires_at < time.monotonic():
            return self.graph_error("Invalid verification code format.", 100)
        if params.get("redirect_uri") != grant.redirect_uri:
            return self.graph_error(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                100,
            )
        if not _pkce_ok(grant.challenge, params.get("code_verifier")):
            return self.graph_error("Invalid code verifier.", 100)
        faults = grant.plan.faults | self.faults
        if Fault.TOKEN_HTTP_500 in faults:
            return PlainTextResponse("Internal Server Error", status_code=500)
        if Fault.TOKEN_INVALID_JSON in faults:
            return Response('{"access_token": ', media_type="application/json")
        access_token = "EAA" + secrets.token_urlsafe(32)
        self._access_tokens[access_token] = grant.plan
        body = {"access_token": access_token, "token_type": "bearer", "expires_in": 5183944}
        self.issued_tokens.append(body)
        return JSONResponse(body)

    async def _me(self, request: Request) -> Response:
        q = (await self._record(request)).query
        header = request.headers.get("authorization", "")
        token = q.get("access_token") or header.partition(" ")[2]
        plan = self._access_tokens.get(token)
        if plan is None or Fault.USERINFO_ERROR in plan.faults | self.faults:
            return self.graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        proof = q.get("appsecret_proof")
        if proof is None and self.require_appsecret_proof:
            return self.graph_error(
                "API calls from the server require an appsecret_proof argument",
                100,
                "GraphMethodException",
            )
        if proof is not None and not _same(proof, appsecret_proof(self.app_secret, token)):
            return self.graph_error(
                "Invalid appsecret_proof provided in the API argument", 100, "GraphMethodException"
            )
        fields = set(q.get("fields", "id,name").split(","))
        profile = {"id": plan.user.sub, "name": plan.user.name, "email": plan.user.email}
        return JSONResponse({k: v for k, v in profile.items() if k in fields and v is not None})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_idp")
    parser.add_argument("kind", choices=["oidc", "facebook"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
    parser.add_argument("--client-id", help="default: hushroom-e2e (oidc), fb-app (facebook)")
    parser.add_argument("--client-secret", help="default: e2e-secret (oidc), fb-secret (facebook)")
    args = parser.parse_args(argv)
    server: _LoopbackServer
    if args.kind == "oidc":
        server = FakeOidcProvider(
            client_id=args.client_id or OIDC_CLIENT_ID,
            client_secret=args.client_secret or OIDC_CLIENT_SECRET,
            redirect_uris=args.redirect_uris,
            port=args.port,
            own_process=True,
        )
    else:
        server = FakeFacebook(
            app_id=args.client_id or FACEBOOK_APP_ID,
            app_secret=args.client_secret or FACEBOOK_APP_SECRET,
            redirect_uris=args.redirect_uris,
            port=args.port,
            own_process=True,
        )
    server.serve_until_signalled()


if __name__ == "__main__":
    main()
