"""/docs: Swagger UI served by erfa itself, under a Content-Security-Policy without CDNs.

FastAPI's own /docs loads Swagger UI from jsDelivr and starts it with an inline script,
which forced the page's CSP to allow a CDN and ``'unsafe-inline'`` scripts (issue 14):
on a government network the CDN may be unreachable, and a policy that runs any inline
script protects nothing. Here the assets come from the ``swagger-ui-bundle-v2`` wheel
(Swagger UI's own dist files, under /docs/assets), the page is still FastAPI's
``get_swagger_ui_html``, and its one inline start-up script is allowed by its SHA-256
hash, computed from the page actually sent, so nothing else inline can run.
ReDoc (/redoc) is not served: it would need a CDN too, and /docs documents the same API.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from erfa.service.api.csp import docs_csp

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"  # under /docs, so the docs CSP covers the assets too
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def script_hashes(html: str) -> list[str]:
    """CSP hash sources ('sha256-…') for every inline <script> in ``html``."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI's files and the /docs page (create the app with ``docs_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=None,  # erfa's token is a bearer token: no OAuth2 flow, no redirect page
            swagger_ui_parameters={"validatorUrl": None},  # never send the schema to swagger.io's validator
        )
        html = bytes(page.body).decode("utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(script_hashes(html))})
