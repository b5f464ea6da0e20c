"""The HTTP API: search, project pages, similar projects, health.

Handlers are small and typed, so /docs documents them from their signatures. They
get the `ProjectIndex` through a dependency and never see FAISS or SQLite. Loading
the model takes seconds, so it happens in the background while /healthz already
answers and /readyz says 503 until search can be served.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from erfa.index import MAX_WINDOW, Hit, ProjectIndex
from erfa.ingest import Record
from erfa.service.demo import seed_demo
from erfa.service.settings import Settings

log = logging.getLogger("erfa.service")


class SearchResult(BaseModel):
    id: str
    title: str
    organisation: str | None
    country: str | None
    language: str | None
    score: float = Field(description="Cosine similarity between the need and the project (higher is closer).")
    snippet: str = Field(description="The part of the description that best explains the match.")
    link: str | None

    @classmethod
    def of(cls, hit: Hit) -> "SearchResult":
        r = hit.record
        return cls(
            id=r.id, title=r.title, organisation=r.organisation, country=r.country, language=r.language,
            score=round(hit.score, 4), snippet=hit.snippet, link=r.link,
        )


class SearchResponse(BaseModel):
    query: str
    total: int = Field(description="How many ranked projects can be paged through with offset.")
    results: list[SearchResult]


class SimilarResponse(BaseModel):
    id: str
    results: list[SearchResult]


class Status(BaseModel):
    status: str
    projects: int | None = None
    model: str | None = None
    detail: str | None = None


class _State:
    """What the loader thread hands over to the request handlers."""

    def __init__(self) -> None:
        self.index: ProjectIndex | None = None
        self.error: str | None = None


def _load(settings: Settings, state: _State, index: ProjectIndex | None) -> None:
    try:
        idx = index or ProjectIndex(
            settings.home, model=settings.model,
            query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt,
        )
        idx.load()
        if settings.demo and idx.count() == 0:
            seed_demo(idx)
        state.index = idx
        log.info("ready: %d projects, model %s", idx.count(), idx.encoder.model_id)
    except Exception as exc:  # reported through /readyz; the process stays up to say why
        log.exception("loading failed")
        state.error = f"{type(exc).__name__}: {exc}"


def get_index(request: Request) -> ProjectIndex:
    """The loaded index, or 503 while the model is still loading (or failed to)."""
    st: _State = request.app.state.erfa
    if st.index is None:
        raise HTTPException(503, detail=st.error or "erfa is still loading the model and index; retry in a few seconds")
    st.index.refresh()
    return st.index


IndexDep = Annotated[ProjectIndex, Depends(get_index)]
ProjectId = Annotated[str, Path(min_length=1, max_length=200, description="A project id as returned by /search.")]


def create_app(settings: Settings | None = None, *, index: ProjectIndex | None = None, wait: bool = False) -> FastAPI:
    """Build the app. Pass ``index`` to serve an existing one; ``wait`` loads before returning."""
    settings = settings or Settings()
    state = _State()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.index is None and state.error is None:
            threading.Thread(target=_load, args=(settings, state, index), daemon=True, name="erfa-load").start()
        yield

    if wait:
        _load(settings, state, index)

    app = FastAPI(
        title="erfa",
        summary="Find public-sector AI projects like yours, across Nordic languages, and whom to ask.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.erfa = state

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/healthz", response_model=Status, response_model_exclude_none=True, tags=["health"])
    def healthz() -> Status:
        """The process is up (it may still be loading)."""
        return Status(status="ok")

    @app.get("/readyz", response_model=Status, tags=["health"], responses={503: {"model": Status}})
    def readyz(request: Request) -> JSONResponse:
        """Search can be served: the model and the index are loaded."""
        st: _State = request.app.state.erfa
        if st.index is None:
            body = Status(status="failed" if st.error else "loading", detail=st.error)
            return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
        body = Status(status="ready", projects=st.index.count(), model=st.index.encoder.model_id)
        return JSONResponse(body.model_dump(exclude_none=True))

    @app.get("/search", response_model=SearchResponse, tags=["search"])
    def search(
        idx: IndexDep,
        q: Annotated[str, Query(min_length=1, max_length=1000, description="The need, in any language, e.g. 'chattbot som svarar på frågor om bygglov'.")],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        offset: Annotated[int, Query(ge=0, lt=MAX_WINDOW)] = 0,
    ) -> SearchResponse:
        """Projects ranked by how close they are to the need, whatever language either is written in."""
        text = q.strip()
        if not text:
            raise HTTPException(422, detail="q is blank: describe what you want to use AI for")
        page = idx.search(text, limit=limit, offset=offset)
        return SearchResponse(query=page.query, total=page.total, results=[SearchResult.of(h) for h in page.hits])

    @app.get("/projects/{project_id}", response_model=Record, tags=["projects"])
    def project(idx: IndexDep, project_id: ProjectId) -> Record:
        """One project's full record."""
        rec = idx.get(project_id)
        if rec is None:
            raise HTTPException(404, detail=f"no project with id {project_id!r}")
        return rec

    @app.get("/projects/{project_id}/similar", response_model=SimilarResponse, tags=["projects"])
    def similar(idx: IndexDep, project_id: ProjectId, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> SimilarResponse:
        """Projects closest to this one (never the project itself)."""
        try:
            hits = idx.similar(project_id, limit=limit)
        except KeyError:
            raise HTTPException(404, detail=f"no project with id {project_id!r}") from None
        return SimilarResponse(id=project_id, results=[SearchResult.of(h) for h in hits])

    return app
