"""The Content-Security-Policy of every response: which policy a path and content type get.

One policy per kind of answer, built in one place: JSON answers may load nothing
(``API_CSP``); HTML pages only erfa's own scripts and styles, and may be framed only
where the operator allows it for ``/embed`` (``frame_ancestors``); /docs allows Swagger
UI's start-up script by hash (``docs_csp``). The security middleware (security.py) sets
the header; docs.py asks for the /docs policy with its scripts' hashes.
"""

from __future__ import annotations

from collections.abc import Iterable

from erfa.service.settings import Settings

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
