"""The rules every request meets before the app sees it, in one ASGI middleware.

In order:

1. **Host.** Without an access token the app listens on loopback only, and a request must name
   a loopback host (`127.0.0.1`, `localhost`, `[::1]`): a web page cannot then reach the app
   by pointing its own domain name at 127.0.0.1 (DNS rebinding).
2. **Token.** With a token, every request must carry it: `Authorization: Bearer TOKEN`, or the
   cookie set when the browser first opens `/?token=TOKEN` (the address `serve-ui` prints),
   which is then redirected to a clean URL. Otherwise 401.
3. **Origin.** A request that may change something (any method but GET, HEAD, OPTIONS) must
   come from the app's own page: its `Origin` header must be this server. Otherwise 403.
4. **Size.** Such a request's body is at most `max_body` bytes, whether announced by
   Content-Length or streamed. Otherwise 413, before the app reads any of it.

Every response also gets headers that keep the page to its own scripts and styles (a
Content-Security-Policy without inline scripts), forbid framing and MIME sniffing, stop API
answers from being cached, and make the browser revalidate the front end's files.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY_BYTES = 64 * 1024
"""A 30x30 grid is about 2 KB of JSON; nothing the app accepts comes near this."""
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
ACCESS_COOKIE = "arcbench_access"
TOKEN_PARAM = "token"

_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


@dataclass(frozen=True)
class GuardRules:
    """`token`: the access token, or None for a loopback-only app."""

    token: str | None
    max_body: int = MAX_BODY_BYTES

    def token_digest(self) -> str:
        """What the access cookie holds: a digest of the token, never the token itself."""
        assert self.token is not None
        return hashlib.sha256(b"arcbench-access:" + self.token.encode()).hexdigest()


class Guard:
    """Pure ASGI middleware enforcing `GuardRules` (see the module docstring)."""

    def __init__(self, app: ASGIApp, rules: GuardRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refuse(scope, headers)
        if refusal is not None:
            await _secured(refusal)(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS:
            body = await _read_body(receive, headers, self.rules.max_body)
            if body is None:
                too_big = _error(413, f"request body over {self.rules.max_body} bytes")
                await _secured(too_big)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, _with_security_headers(scope, send))

    def _refuse(self, scope: Scope, headers: Headers) -> Response | None:
        host = headers.get("host", "")
        if self.rules.token is None and _host_name(host) not in LOOPBACK_NAMES:
            return _error(
                403, "this app answers on a loopback address only (127.0.0.1 or localhost)"
            )
        if self.rules.token is not None:
            answer = self._check_token(scope, headers)
            if answer is not None:
                return answer
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            own = f"{scope.get('scheme', 'http')}://{host}"
            if origin != own:
                return _error(
                    403,
                    "changes are accepted from this app's own page only "
                    f"(Origin {origin or 'missing'}, expected {own})",
                )
        return None

    def _check_token(self, scope: Scope, headers: Headers) -> Response | None:
        token = self.rules.token
        assert token is not None
        given = headers.get("authorization", "")
        if given.startswith("Bearer ") and _same(given[len("Bearer ") :], token):
            return None
        cookies = _cookies(headers)
        if _same(cookies.get(ACCESS_COOKIE, ""), self.rules.token_digest()):
            return None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        if any(key == TOKEN_PARAM and _same(value, token) for key, value in query):
            if scope["method"] == "GET" and not scope["path"].startswith("/api/"):
                return self._enter(scope, query)
            return None
        return _error(
            401,
            "this app needs its access token: open the address arcbench serve-ui printed "
            "(it ends in ?token=…), or send Authorization: Bearer TOKEN",
        )

    def _enter(self, scope: Scope, query: list[tuple[str, str]]) -> Response:
        """A page opened with `?token=`: keep the token in a cookie, continue without it."""
        rest = urlencode([(k, v) for k, v in query if k != TOKEN_PARAM])
        target = scope["path"] + (f"?{rest}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        # Lax, not Strict: a link to the app from elsewhere (a chat, a mail) opens it. Nothing a
        # cross-site request can send changes anything: changes need the same Origin and the
        # session cookie, which is Strict.
        response.set_cookie(
            ACCESS_COOKIE, self.rules.token_digest(), httponly=True, samesite="lax", path="/"
        )
        return response


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _host_name(host: str) -> str:
    """The name part of a Host header: `[::1]:8765` -> `::1`, `localhost:8765` -> `localhost`."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cookies(headers: Headers) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            found.setdefault(name, value)
    return found


def _error(code: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=code)


def _secured(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS:
        response.headers[name.decode()] = value.decode()
    response.headers["cache-control"] = "no-store"
    return response


async def _read_body(receive: Receive, headers: Headers, limit: int) -> list[Message] | None:
    """The request's body messages, or None as soon as it is known to exceed `limit`."""
    declared = headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _with_security_headers(scope: Scope, send: Send) -> Send:
    """Add the security headers, and say how to cache: API answers never (they change with
    the store), the front end's files only after asking whether they changed (an upgraded
    install must not mix old and new modules)."""
    caching = b"no-store" if scope["path"].startswith("/api/") else b"no-cache"

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [*_SECURITY_HEADERS, (b"cache-control", caching)]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending
