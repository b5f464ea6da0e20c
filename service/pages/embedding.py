"""Embedding that explains itself (issue 21): is the page framing /embed one the operator allowed?

A portal whose origin is not in ``ERFA_FRAME_ANCESTORS`` gets nothing from the browser but a
broken-page icon in the iframe: the CSP ``frame-ancestors`` refusal is silent for the web
editor who pasted the snippet. Browsers say where a frame is loaded: ``Sec-Fetch-Dest: iframe``
marks the request, and the ``Referer`` carries the host page's origin (the default referrer
policy sends at least the origin, also across sites). When that origin is not allowed, /embed
answers a short page that may be framed anywhere and says what to set; it holds no search,
no form and nothing of the user's, so framing it cannot be used to trick anyone into an action.
Without those headers (an old browser, ``Referrer-Policy: no-referrer`` on the portal) nothing
can be told and /embed answers as always.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import Request

# The one policy of the explanation page: the pages' own, but framable by any site.
REFUSED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors *"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-case, the default port left out; None otherwise."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = f":{port}" if port and port != _DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host.lower()}{shown_port}"


def framing_origin(request: Request) -> str | None:
    """The origin of the page that loads this request into an iframe, when the browser tells it."""
    if request.headers.get("sec-fetch-dest", "").lower() != "iframe":
        return None
    return origin_of(request.headers.get("referer"))


def source_allows(source: str, origin: str, own_origin: str) -> bool:
    """Whether one CSP source expression of ``frame-ancestors`` (as ERFA_FRAME_ANCESTORS takes them:
    'self', an origin, or one with a ``*.`` host wildcard) lets ``origin`` frame erfa."""
    source = source.strip().rstrip("/")
    if source == "'self'":
        return origin == own_origin
    if source == "*":
        return True
    wanted = re.fullmatch(r"(https?)://(\*\.)?([^/:]+)(?::(\d+|\*))?", source.lower())
    got = re.fullmatch(r"(https?)://([^/]+?)(?::(\d+))?", origin)
    if not wanted or not got:
        return False
    scheme, wildcard, host, port = wanted.groups()
    o_scheme, o_host, o_port = got.groups()
    # CSP lets an http: source match https: too (an upgrade), never the other way round
    if scheme != o_scheme and not (scheme == "http" and o_scheme == "https"):
        return False
    if wildcard:
        if not o_host.endswith("." + host):
            return False
    elif o_host != host:
        return False
    if port == "*":
        return True
    return (int(port) if port else _DEFAULT_PORTS[o_scheme]) == (int(o_port) if o_port else _DEFAULT_PORTS[o_scheme])


def refused_origin(request: Request, sources: Iterable[str]) -> str | None:
    """The framing page's origin when none of ``sources`` allows it, else None (allowed, or unknown)."""
    origin = framing_origin(request)
    if origin is None:
        return None
    own = origin_of(str(request.base_url)) or ""
    if any(source_allows(s, origin, own) for s in sources):
        return None
    return origin
