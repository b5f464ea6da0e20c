"""The JSON API: its dependencies (deps.py), errors as problem details (errors.py), the
request and response models (schemas.py) and the functions that fill them from search
answers (presenter.py), the admin token and its guard (auth.py), the one middleware in
front of every request (security.py) with the parts it applies: Content-Security-Policy
(csp.py), rate limits (ratelimit.py) and metrics (metrics.py); plain ids in paths (ids.py),
the HTTP protocol tweaks (protocol.py), the API docs (docs.py) and the routes (routers/).
The pages people read are in service/pages/, the JSON log format in service/logs.py; the
app is composed in service/app.py.

``erfa.service.api:create_app`` is the name uvicorn's factory, the tests and older scripts
use; it is looked up on first use, because service/app.py imports this package's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI


def __getattr__(name: str) -> Callable[..., FastAPI]:
    if name == "create_app":
        from erfa.service.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app"]
