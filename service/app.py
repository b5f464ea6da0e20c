"""The app: composed here from its parts, and nothing else.

Routes live in routers by resource (service/api/routers/) and the pages in service/pages/web.py;
what they depend on is service/api/deps.py; error bodies come from service/api/errors.py;
limits, headers, logs and metrics from service/api/security.py. Loading the model takes
seconds, so it happens in a background thread while /healthz already answers and
/readyz says 503 until search can be served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from erfa.index import ProjectIndex
from erfa.index.moderation.queue import SubmissionQueue
from erfa.index.moderation.workflow import Moderation
from erfa.service.api.auth import check_token_strength
from erfa.service.api.deps import AppState
from erfa.service.api.docs import install_docs
from erfa.service.api.errors import install_errors
from erfa.service.api.routers import feeds, health, ingest, projects, search, submissions
from erfa.service.api.security import install_security
from erfa.service.database import follow, open_index, open_submissions
from erfa.service.demo import seed_demo
from erfa.service.pages import admin
from erfa.service.pages.web import install_web
from erfa.service.settings import Settings

log = logging.getLogger("erfa.service")


def create_app(settings: Settings | None = None, *, index: ProjectIndex | None = None, wait: bool = False) -> FastAPI:
    """Build the app. Pass ``index`` to serve an existing one; ``wait`` loads before returning.

    With no ``settings`` they are read from the environment: that is how each worker of
    `erfa serve --workers N` gets the settings its parent wrote there.
    """
    settings = settings or Settings()
    check_token_strength(settings.admin_token)
    state = AppState(settings=settings, submissions=open_submissions(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.index is None and state.error is None:
            threading.Thread(target=_load, args=(state, index), daemon=True, name="erfa-load").start()
        yield

    if wait:
        _load(state, index)

    app = FastAPI(
        title="erfa",
        summary="Find public-sector AI projects like yours, across Nordic languages, and whom to ask.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs: Swagger UI from a local package, strict CSP (issue 14)
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.erfa = state
    install_errors(app)  # JSON errors from one builder, never a stack trace
    install_security(app, settings)  # size/rate limits, headers, JSON logs, /metrics
    for router in (health.router, search.router, projects.router, ingest.router, submissions.router, feeds.router):
        app.include_router(router)
    install_docs(app)  # /docs without a CDN or inline scripts
    install_web(app)  # HTML pages at /, /project/{id}, /submit, /embed and /static
    app.include_router(admin.router)  # the moderation pages at /admin (sign-in, queue, edit, decide, history)
    if settings.cors_origins:  # the <erfa-search> widget on the listed portals may read the API
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"], max_age=600)
    return app


def _load(state: AppState, index: ProjectIndex | None) -> None:
    settings = state.settings
    try:
        idx = index or open_index(settings)  # SQLite in ERFA_HOME, or PostgreSQL with ERFA_DATABASE_URL
        idx.load()
        _withdraw_undecided(state.submissions, idx)
        if settings.demo and idx.count() == 0:
            seed_demo(idx)
        state.index = idx
        if settings.database_url and index is None:  # a replica: follow the database from a thread (issue 11)
            follow(idx)
            state.following = True
        log.info("ready: %d projects, model %s", idx.count(), idx.encoder.model_id)
    except Exception as exc:  # reported through /readyz; the process stays up to say why
        log.exception("loading failed")
        state.error = f"{type(exc).__name__}: {exc}"


def _withdraw_undecided(store: SubmissionQueue, idx: ProjectIndex) -> None:
    """Close the one gap of an approval a crash can leave (see index/moderation/workflow.py): a record
    whose submission is not approved is taken out of search before anyone can search."""
    try:
        Moderation(store, idx).withdraw_undecided()
    except Exception:  # a full disk must not keep search down; the next start tries again
        log.exception("could not check the index against the submissions")
