"""What stands between the public and the service: limits, headers, logs, metrics.

One pure-ASGI middleware, outside FastAPI's routing, so that it sees every request
(also 404s and errors) and costs one function call rather than a task per request:

* request size limits (413) before the body is read: a declared ``Content-Length``
  over the limit is refused at once, and a streamed body is counted as it arrives;
* per-client rate limits (429 with ``Retry-After``): token buckets in memory, one for
  everything and a stricter one for public submissions; probes and static files are
  exempt, and so is a request with the valid admin token;
* one limit on guessing the admin token (``TokenGuard``): a wrong token counts against
  the client whichever way it came (``Authorization: Bearer`` on any route, the /admin
  sign-in form), 10 per 15 minutes; past that even the right token is answered 429 until
  the window has refilled, so neither a route nor the rate-limit exemption above lets
  anyone guess faster;
* ids in a path hold no control characters (``PlainId``): a NUL byte is refused before
  it reaches a store (PostgreSQL cannot even compare text holding one);
* ``HEAD`` on the probes (/healthz, /readyz): answered as GET, without the body, for
  load balancers that check with HEAD;
* security headers on every response: one Content-Security-Policy (built here, also
  for ``/embed`` with the operator's ``frame_ancestors``), ``X-Content-Type-Options``,
  ``Referrer-Policy: no-referrer`` (the need is in the URL; it must not travel on to
  a project's web site), ``X-Frame-Options``, ``Cache-Control: no-store`` on anything
  personal;
* structured JSON logs, one line per request, with the route template rather than the
  URL: query texts from municipal staff may be sensitive, so they are logged only when
  the operator sets ``ERFA_LOG_QUERIES=1``; client addresses are never logged;
* Prometheus metrics at ``/metrics``: request counts, latency histograms, index size.

Limits live in process memory, so behind several workers each has its own budget;
behind a reverse proxy, list it in ``ERFA_TRUSTED_PROXIES`` so that the client address
(the rate-limit key) is the user's, not the proxy's; no one else's X-Forwarded-For is
believed (`erfa serve` sets uvicorn's proxy options explicitly).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI, HTTPException
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import AfterValidator
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from erfa.service.api.auth import token_matches
from erfa.service.api.errors import error_response, internal_error
from erfa.service.settings import Settings

access_log = logging.getLogger("erfa.access")

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/favicon.ico"})
PROBES = frozenset({"/healthz", "/readyz"})  # also answer HEAD
EXEMPT_PREFIXES = ("/static/",)
UPLOAD_PATHS = frozenset({"/ingest"})
SUBMIT = ("POST", "/submissions")
MAX_CLIENTS = 50_000  # buckets kept in memory; the least recently seen are forgotten first
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# -- Content-Security-Policy -------------------------------------------------------
API_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)
# /docs (service/api/docs.py): Swagger UI from erfa's own /docs/assets, its start-up script allowed by
# hash. Styles keep 'unsafe-inline': Swagger UI sets style attributes as it renders, and a
# style cannot run code. Nothing is loaded from another host.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs",)


def docs_csp(script_hashes: Iterable[str] = ()) -> str:
    """The /docs policy, allowing exactly the inline scripts with these 'sha256-…' sources."""
    return DOCS_CSP.format(hashes="".join(f" {h}" for h in script_hashes))


EMBED_PREFIX = "/embed"


def frame_ancestors(settings: Settings) -> str:
    """Sources allowed to frame /embed, from the web page's ``frame_ancestors`` setting."""
    raw = getattr(settings, "frame_ancestors", None)
    if not raw:
        return "'self'"
    values = raw.replace(",", " ").split() if isinstance(raw, str) else [str(v) for v in raw]
    return " ".join(v for v in values if v) or "'self'"


def csp_for(path: str, content_type: str, settings: Settings) -> str:
    if path in DOCS_PATHS or path.startswith("/docs/"):
        return docs_csp()
    embed = path == EMBED_PREFIX or path.startswith(EMBED_PREFIX + "/")
    if content_type.startswith("text/html") or embed:
        return PAGE_CSP.format(ancestors=frame_ancestors(settings) if embed else "'none'")
    return API_CSP


# -- rate limiting --------------------------------------------------------------------
class RateLimiter:
    """Token buckets per (bucket, client): ``capacity`` at once, refilled at ``per_second``.

    In the event loop only (no lock needed). Bounded: at most MAX_CLIENTS buckets, the
    least recently used dropped first, which at worst forgives an idle client.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS) -> None:
        self._clock = clock
        self._max = max_clients
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def take(self, bucket: str, client: str, per_second: float, capacity: float) -> float:
        """0 when allowed (a token is taken), else seconds until the next token."""
        now = self._clock()
        key = (bucket, client)
        tokens, last = self._buckets.pop(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / per_second
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    def wait(self, bucket: str, client: str, per_second: float, capacity: float) -> float:
        """Seconds until ``take`` would allow this client once more (0: now); takes nothing."""
        found = self._buckets.get((bucket, client))
        if found is None:
            return 0.0
        tokens = min(capacity, found[0] + (self._clock() - found[1]) * per_second)
        return 0.0 if tokens >= 1 else (1 - tokens) / per_second


# -- admin-token guesses ------------------------------------------------------------------
TOKEN_TRIES, TOKEN_WINDOW_S = 10, 900  # wrong admin tokens per client, refilled over 15 minutes
_VERDICTS = "erfa.token_verdicts"  # scope key: what this request's tokens were found to be


class TokenGuard:
    """Wrong admin tokens per client, one count for every way the token is checked.

    ``verdict`` is "ok", "wrong" (counted) or "blocked" (this client has used up its tries:
    not even compared, so a blocked client learns nothing, also not from the right token).
    Remembered per request, so the middleware's check and the route's count once. In the
    event loop and in route threads alike: a lost update between two threads can at worst
    forgive one guess.
    """

    def __init__(self, settings: Settings, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter()

    def verdict(self, scope: Scope, given: str) -> str:
        seen: dict[str, str] = scope.setdefault(_VERDICTS, {})
        if given not in seen:
            expected = self.settings.admin_token
            if self.retry_after(scope):
                seen[given] = "blocked"
            elif expected and token_matches(given, expected):
                seen[given] = "ok"
            else:
                self.limiter.take("admin-token", _client(scope), TOKEN_TRIES / TOKEN_WINDOW_S, TOKEN_TRIES)
                seen[given] = "wrong"
        return seen[given]

    def retry_after(self, scope: Scope) -> int:
        """Whole seconds until this client may try a token again (0: it may now)."""
        wait = self.limiter.wait("admin-token", _client(scope), TOKEN_TRIES / TOKEN_WINDOW_S, TOKEN_TRIES)
        return max(1, math.ceil(wait)) if wait else 0


def token_guard(request: Request) -> TokenGuard:
    guard: TokenGuard = request.app.state.erfa_token_guard
    return guard


def admin_token_ok(request: Request, given: str) -> bool:
    """For a route that takes the admin token: True if it is right, False if wrong (counted),
    429 with Retry-After while this client has used up its tries."""
    guard = token_guard(request)
    verdict = guard.verdict(request.scope, given)
    if verdict == "blocked":
        retry = guard.retry_after(request.scope) or 1
        raise HTTPException(
            429,
            headers={"Retry-After": str(retry)},
            detail=(
                f"too many wrong admin tokens from this client (at most {TOKEN_TRIES} per {TOKEN_WINDOW_S // 60} "
                "minutes); "
                f"retry in {retry} s"
            ),
        )
    return verdict == "ok"


def _client(scope: Scope) -> str:
    return str((scope.get("client") or ("unknown", 0))[0])


# -- ids in paths ---------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    """A control character (a NUL byte, a newline, ...): no id erfa hands out holds one."""
    return _CONTROL.search(text) is not None


def _plain(value: str) -> str:
    if has_control(value):
        raise ValueError("an id never holds control characters such as a NUL byte")
    return value


PlainId = AfterValidator(_plain)  # in a path parameter's Annotated: 422 before any store is asked


# -- metrics --------------------------------------------------------------------------
class _StateCollector(Collector):
    """Index size and queue length, read when Prometheus scrapes (never stale, no timer)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = getattr(self.app.state, "erfa", None)
        index = getattr(state, "index", None)
        ready = GaugeMetricFamily("erfa_ready", "1 when the model and index are loaded")
        ready.add_metric([], 1.0 if index is not None else 0.0)
        yield ready
        if index is not None:
            projects = GaugeMetricFamily("erfa_index_projects", "Projects in the registry (searchable)")
            try:
                projects.add_metric([], float(index.count()))
                yield projects
            except Exception:  # a busy database must not break the scrape
                pass
        subs = getattr(state, "submissions", None)
        if subs is not None:
            pending = GaugeMetricFamily("erfa_submissions_pending", "Submissions waiting for a moderator")
            try:
                pending.add_metric([], float(subs.count("pending")))
                yield pending
            except Exception:
                pass


class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self, app: FastAPI) -> None:
        # the *_created series double the output and say nothing an operator needs (prometheus_client leaves it untyped)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "erfa_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "erfa_http_request_duration_seconds",
            "Time to answer, by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.limited = Counter(
            "erfa_rate_limited", "Requests refused with 429, by bucket", ["bucket"], registry=self.registry
        )
        self.too_large = Counter("erfa_request_too_large", "Requests refused with 413", registry=self.registry)
        self.registry.register(_StateCollector(app))

    def render(self) -> bytes:
        return generate_latest(self.registry)


# -- logging --------------------------------------------------------------------------
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers in government networks ingest."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(out, ensure_ascii=False)


def logging_config(level: str = "info") -> dict[str, Any]:
    """dictConfig for `erfa serve`: JSON to stderr; uvicorn's access log (full URLs) off."""
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": lvl},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": lvl},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": lvl},
            # it logs the request line with the query string: the need, verbatim
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }


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
