"""Error responses: always JSON, always saying what is wrong, never a stack trace.

Every error body erfa sends, from a route, an exception handler or the security
middleware, is built by ``error_response`` (``{"detail": ..., "request_id"?: ...}``),
and every 422 entry by ``invalid``, so a client parses one shape whoever refused it.

A public service inside government networks must not show internals to whoever
probes it, and a caller who sent something wrong deserves to learn which field and
what would be accepted. Validation errors keep FastAPI's shape
(``{"detail": [{"loc", "msg", "type"}]}``, which the web form codes against) but
leave out echoed input beyond a short scalar: a 5 MB body should not come back in
the error, and neither should anything the client did not need repeated.
Unexpected failures are logged server-side with a request id that the client also
gets, so an operator can find the trace from a user's report. A full disk is not
unexpected: every write handler answers it with 507 and a sentence saying what
happened, and the operator gets one log line to alert on (``event=disk_full``).

Every body is valid JSON (RFC 8259), whatever the client sent: Python's parser accepts
``NaN`` and ``Infinity``, which JSON has no numbers for, so a value that fails validation
because of one is refused with a message saying so and never echoed, and the builder
writes any non-finite number that reaches it as ``null`` rather than failing.
"""

from __future__ import annotations

import errno
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from erfa.index import FilterError
from erfa.index.store.protocol import StoreBusy, StoreFull, StoreUnavailable, StoreUnreadable

log = logging.getLogger("erfa.service")

_ECHO_LIMIT = 100  # longest input value repeated back in a validation error
INTERNAL = "internal error; the operator can find it in the log by this request id"
NOT_A_NUMBER = (
    "NaN, Infinity and -Infinity are not numbers in JSON (RFC 8259): send a finite number, or leave the field out"
)

# OpenAPI descriptions of the error bodies, for the routes' ``responses=``.
PROBLEM: dict[str, Any] = {
    "description": "What is wrong, in `detail`",
    "content": {"application/json": {"example": {"detail": "..."}}},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**PROBLEM, "description": "Missing or invalid admin token"},
    403: {**PROBLEM, "description": "Writes are disabled: ERFA_ADMIN_TOKEN is not set"},
}


def problem(description: str) -> dict[str, Any]:
    """One ``responses=`` entry: an error body with this description."""
    return {**PROBLEM, "description": description}


def error_response(
    status: int, detail: Any, *, request_id: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one builder of erfa's error bodies: ``{"detail": ...}``, plus the request id to quote."""
    body: dict[str, Any] = {"detail": detail}
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(_finite(jsonable_encoder(body)), status_code=status, headers=dict(headers or {}) or None)


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _finite(value: Any) -> Any:
    """The body with every NaN or infinity as null: JSON cannot carry them, and the error must still go out."""
    if _non_finite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def full_disk(exc: BaseException) -> bool:
    """A full disk: under a store (whichever database), under the index's own files (ENOSPC,
    EDQUOT), or keeping a store from even being opened."""
    return (
        isinstance(exc, StoreFull)
        or (isinstance(exc, StoreUnreadable) and exc.full)
        or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT))
    )


def invalid(loc: Sequence[str | int], msg: str) -> dict[str, Any]:
    """One entry of a 422's ``detail`` list, in FastAPI's own shape (the web form codes against it)."""
    return {"loc": list(loc), "msg": msg, "type": "value_error"}


def unprocessable(*entries: dict[str, Any]) -> HTTPException:
    """A 422 for what a route found wrong itself (raise it), listing ``invalid`` entries."""
    return HTTPException(422, detail=list(entries))


def _printable(value: Any) -> Any:
    """Strings as UTF-8 can carry them: a lone surrogate ("\\ud800", which JSON can smuggle in)
    is shown as its escape instead of making the error response itself fail to encode."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _clean_error(err: dict[str, Any]) -> dict[str, Any]:
    value = err.get("input")
    if _non_finite(value):  # NaN or Infinity in the body: say that, whatever the field's type made pydantic say
        return {
            "loc": [_printable(p) for p in err.get("loc", ())],
            "msg": _field_message(err, NOT_A_NUMBER),
            "type": "json_invalid",
        }
    out: dict[str, Any] = {
        "loc": [_printable(p) for p in err.get("loc", ())],
        "msg": _printable(_message(err)),
        "type": err.get("type", "value_error"),
    }
    if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= _ECHO_LIMIT):
        out["input"] = _printable(value)
    ctx = err.get("ctx")
    if isinstance(ctx, dict):
        safe = {
            k: _printable(v)
            for k, v in ctx.items()
            if isinstance(v, (int, float, str, bool)) and not _non_finite(v) and k != "error"
        }
        if safe:
            out["ctx"] = safe
    return out


def _message(err: dict[str, Any]) -> str:
    """Pydantic's message, prefixed with the field name so it reads on its own."""
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path", "header")]
    kind = err.get("type")
    if kind == "json_invalid":
        return f"the body is not valid JSON ({(err.get('ctx') or {}).get('error', 'syntax error')})"
    if kind == "extra_forbidden" and loc:
        return f"unknown field {loc[-1]!r}: remove it (see /docs for the allowed fields)"
    if kind == "missing" and loc:
        return f"{loc[-1]} is required"
    if kind == "string_unicode":
        where = f"{loc[-1]}: " if loc else ""
        return (
            f"{where}the text holds a lone surrogate (an escape like \\ud800 without its pair), which is not "
            "valid Unicode; send the text as UTF-8"
        )
    return _field_message(err, msg)


def _field_message(err: dict[str, Any], msg: str) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path", "header")]
    return f"{loc[-1]}: {msg}" if loc and not msg.startswith(loc[-1]) else msg


def request_id(request: Request) -> str | None:
    rid = request.scope.get("erfa.request_id")
    return str(rid) if rid else None


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(422, [_clean_error(e) for e in exc.errors()])


async def bad_filter(request: Request, exc: FilterError) -> JSONResponse:
    """A filter value that can never match: 422 naming the field and the allowed values."""
    return error_response(422, [invalid(["query", exc.field], str(exc))])


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Every HTTPException a route or dependency raises (404, 401, 409, 413, 503, ...)."""
    return error_response(exc.status_code, exc.detail, headers=exc.headers)


async def store_busy(request: Request, exc: StoreBusy) -> JSONResponse:
    """A long write holds the store's lock past the wait: ask the client to retry, do not crash."""
    log.warning("database busy", extra={"event": "db_busy", "error": str(exc)[:200], "request_id": request_id(request)})
    return error_response(
        503,
        "the registry is busy with a write; retry in a few seconds",
        request_id=request_id(request),
        headers={"Retry-After": "5"},
    )


async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
    """PostgreSQL cannot be reached (restart, failover): nothing was written; retry shortly (issue 11)."""
    log.warning("database unreachable", extra={"event": "store_unreachable", "request_id": request_id(request)})
    return error_response(
        503,
        "the database cannot be reached right now, so nothing was saved; retry in a few seconds",
        request_id=request_id(request),
        headers={"Retry-After": "5"},
    )


async def disk_full(request: Request, exc: Exception) -> JSONResponse:
    """507 Insufficient Storage: the write did not happen (each store rolls back), and the
    client should not retry at once; the operator must free space."""
    rid = request_id(request)
    log.error(
        "disk full: a write was refused", extra={"event": "disk_full", "request_id": rid, "error": str(exc)[:200]}
    )
    return error_response(
        507,
        "the server's disk is full, so nothing was saved; please try again later "
        "(the operator has been told in the log)",
        request_id=rid,
        headers={"Retry-After": "3600"},
    )


async def os_error(request: Request, exc: OSError) -> JSONResponse:
    return await (disk_full(request, exc) if full_disk(exc) else unexpected(request, exc))


async def store_unreadable(request: Request, exc: StoreUnreadable) -> JSONResponse:
    """A store opened on first use (the moderators' sessions) that a full disk kept from being created: 507."""
    return await (disk_full(request, exc) if full_disk(exc) else unexpected(request, exc))


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: a 500 with an id to quote, the trace stays in the server log."""
    return internal_error(exc, request_id(request))


def internal_error(exc: BaseException, rid: str | None) -> JSONResponse:
    """Log the trace with the request id; answer 500 with only that id (also from the middleware)."""
    log.error(
        "unhandled error",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"event": "error", "request_id": rid, "error": type(exc).__name__},
    )
    return error_response(500, INTERNAL, request_id=rid)


def install_errors(app: FastAPI) -> None:
    # Starlette types every handler as taking plain Exception; each of these takes the one class it is registered
    # for, which is what Starlette calls it with, but its signature cannot say so: hence arg-type, line by line.
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(FilterError, bad_filter)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreBusy, store_busy)  # type: ignore[arg-type]
    app.add_exception_handler(StoreFull, disk_full)
    app.add_exception_handler(OSError, os_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, store_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnreadable, store_unreadable)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)
