"""What stands between the public and the service: the one middleware that applies the limits,
headers, logs and metrics, and its wiring into the app (`install_security`).

One pure-ASGI middleware, outside FastAPI's routing, so that it sees every request
(also 404s and errors) and costs one function call rather than a task per request:

* request size limits (413) before the body is read: a declared ``Content-Length``
  over the limit is refused at once, and a streamed body is counted as it arrives;
* per-client rate limits (429 with ``Retry-After``; the buckets are ratelimit.py's): one
  for everything and a stricter one for public submissions; probes and static files are
  exempt, and so is a request with the valid admin token, whose guessing is limited by
  auth.py's ``TokenGuard`` (one count for the API's bearer tokens and the /admin form);
* ``HEAD`` on the probes (/healthz, /readyz): answered as GET, without the body, for
  load balancers that check with HEAD;
* security headers on every response: the Content-Security-Policy of csp.py (also for
  ``/embed`` with the operator's ``frame_ancestors``), ``X-Content-Type-Options``,
  ``Referrer-Policy: no-referrer`` (the need is in the URL; it must not travel on to
  a project's web site), ``X-Frame-Options``, ``Cache-Control: no-store`` on anything
  personal;
* one JSON log line per request (service/logs.py formats it), with the route template
  rather than the URL: query texts from municipal staff may be sensitive, so they are
  logged only when the operator sets ``ERFA_LOG_QUERIES=1``; client addresses are never
  logged;
* Prometheus metrics (metrics.py) counted per request and served at ``/metrics``.

Ids in paths are checked by ids.py's ``PlainId`` where the routes declare them.

Limits live in process memory, so behind several workers each has its own budget;
behind a reverse proxy, list it in ``ERFA_TRUSTED_PROXIES`` so that the client address
(the rate-limit key) is the user's, not the proxy's; no one else's X-Forwarded-For is
believed (`erfa serve` sets uvicorn's proxy options explicitly).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI, HTTPException
from prometheus_client import (
    CONTENT_TYPE_LATEST,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from erfa.service.api.auth import TokenGuard
from erfa.service.api.csp import EMBED_PREFIX, csp_for
from erfa.service.api.errors import error_response, internal_error
from erfa.service.api.metrics import Metrics
from erfa.service.api.ratelimit import RateLimiter
from erfa.service.settings import Settings

access_log = logging.getLogger("erfa.access")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/favicon.ico"})
PROBES = frozenset({"/healthz", "/readyz"})  # also answer HEAD
EXEMPT_PREFIXES = ("/static/",)
UPLOAD_PATHS = frozenset({"/ingest"})
SUBMIT = ("POST", "/submissions")


# -- the middleware ---------------------------------------------------------------------
class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; FastAPI re-raises HTTPExceptions."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"the request body is larger than the limit of {limit} bytes")


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return bytes(v).decode("latin-1")
    return None


class SecurityMiddleware:
    def __init__(
        self, app: ASGIApp, settings: Settings, metrics: Metrics, limiter: RateLimiter, guard: TokenGuard
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.limiter = limiter
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = uuid.uuid4().hex[:16]
        scope["erfa.request_id"] = rid
        method: str = scope["method"]
        path: str = scope["path"]
        status = {"code": 0, "started": False}
        limit = self.settings.max_upload_bytes if path in UPLOAD_PATHS else self.settings.max_body_bytes
        head = method == "HEAD" and path in PROBES
        if head:  # routed as the GET it asks about (on a copy: the server must still know it answers a HEAD)
            scope = {**scope, "method": "GET"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                status["started"] = True
                message["headers"] = self._headers(scope, list(message.get("headers", [])), rid)
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        refusal = self._refuse(scope, method, path, limit)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            self._done(scope, method, path, status["code"], started, rid)
            return

        received = 0

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    self.metrics.too_large.inc()
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, receive_with_limit, send_with_headers)
        except BodyTooLarge as exc:
            if status["started"]:
                raise
            await error_response(413, exc.detail)(scope, receive, send_with_headers)
        except Exception as exc:
            # Answer here rather than in Starlette's ServerErrorMiddleware, so the 500 carries
            # the security headers too; the trace goes to the log, never to the client.
            if status["started"]:
                raise
            await internal_error(exc, rid)(scope, receive, send_with_headers)
        finally:
            self._done(scope, method, path, status["code"] or 500, started, rid)

    def _refuse(self, scope: Scope, method: str, path: str, limit: int) -> Response | None:
        """A response that refuses the request before the app sees it, or None."""
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return error_response(400, "Content-Length must be a whole number of bytes")
            if length > limit:
                self.metrics.too_large.inc()
                which = "ERFA_MAX_UPLOAD_BYTES" if path in UPLOAD_PATHS else "ERFA_MAX_BODY_BYTES"
                return error_response(
                    413, f"the request body ({length} bytes) is larger than the limit of {limit} bytes ({which})"
                )
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES) or self._is_admin(scope):
            return None
        client = (scope.get("client") or ("unknown", 0))[0]
        s = self.settings
        if s.rate_limit > 0:
            wait = self.limiter.take("all", client, s.rate_limit / 60.0, max(1, s.rate_burst))
            if wait:
                return self._limited("all", wait, f"too many requests: at most {s.rate_limit} per minute per client")
        if (method, path) == SUBMIT and s.submit_rate_limit > 0:
            wait = self.limiter.take("submit", client, s.submit_rate_limit / 3600.0, s.submit_rate_limit)
            if wait:
                return self._limited(
                    "submit", wait, f"too many submissions: at most {s.submit_rate_limit} per hour per client"
                )
        return None

    def _limited(self, bucket: str, wait: float, msg: str) -> Response:
        self.metrics.limited.labels(bucket).inc()
        retry = max(1, math.ceil(wait))
        return error_response(429, f"{msg}; retry in {retry} s", headers={"Retry-After": str(retry)})

    def _is_admin(self, scope: Scope) -> bool:
        """The right admin token, from a client that has not used up its tries (a wrong one is counted)."""
        token = self.settings.admin_token
        auth = _header(scope, b"authorization")
        if not token or not auth or not auth.lower().startswith("bearer "):
            return False
        return self.guard.verdict(scope, auth[7:].strip()) == "ok"

    def _headers(self, scope: Scope, headers: list[tuple[bytes, bytes]], rid: str) -> list[tuple[bytes, bytes]]:
        present = {k.lower() for k, _ in headers}
        content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
        path: str = scope["path"]
        embed = path == EMBED_PREFIX or path.startswith(EMBED_PREFIX + "/")
        add: list[tuple[str, str]] = [
            ("content-security-policy", csp_for(path, content_type, self.settings)),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-request-id", rid),
        ]
        if not embed:  # old browsers ignore frame-ancestors; /embed is meant to be framed
            add.append(("x-frame-options", "DENY"))
        personal = scope["method"] != "GET" or scope.get("query_string") or _header(scope, b"authorization")
        if personal:  # a need in the URL or an admin answer must not sit in a shared cache
            add.append(("cache-control", "no-store"))
        if scope.get("scheme") == "https":
            add.append(("strict-transport-security", "max-age=31536000"))
        for name, value in add:
            if name.encode() not in present:
                headers.append((name.encode(), value.encode("latin-1")))
        return headers

    def _done(self, scope: Scope, method: str, path: str, status: int, started: float, rid: str) -> None:
        seconds = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) if route is not None else None
        label = template or "unmatched"
        self.metrics.requests.labels(method, label, str(status)).inc()
        self.metrics.latency.labels(method, label).observe(seconds)
        entry: dict[str, Any] = {
            "event": "request",
            "request_id": rid,
            "method": method,
            "route": label,
            "status": status,
            "ms": round(seconds * 1000, 1),
        }
        if self.settings.log_queries:
            entry["path"] = path
            qs = scope.get("query_string", b"")
            if qs:
                entry["query"] = unquote_plus(qs.decode("latin-1"))
        elif template is None and status != 429:
            entry["path"] = path[:200]  # an unknown path (a probe); no need text travels in a path erfa serves
        level = logging.DEBUG if path in EXEMPT_PATHS and status < 500 else logging.INFO  # probes every few seconds
        access_log.log(level, "%s %s %s", method, label, status, extra=entry)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the middleware and /metrics to an app (call once, in create_app)."""
    metrics = Metrics(app)
    guard = TokenGuard(settings)
    app.state.erfa_token_guard = guard  # the routes' admin check and the sign-in form count with it too
    app.add_middleware(SecurityMiddleware, settings=settings, metrics=metrics, limiter=RateLimiter(), guard=guard)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
