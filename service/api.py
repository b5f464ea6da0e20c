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
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from erfa.index import FACET_FIELDS, MAX_WINDOW, FilterError, Filters, Hit, ProjectIndex
from erfa.index.engine import FACET_DEPTH
from erfa.ingest import Record
from erfa.service.admin import install_admin
from erfa.service.demo import seed_demo
from erfa.service.docs import install_docs
from erfa.service.errors import install_errors
from erfa.service.security import install_security
from erfa.service.settings import Settings
from erfa.service.web import install_web

log = logging.getLogger("erfa.service")


class SearchResult(BaseModel):
    id: str
    title: str
    organisation: str | None
    country: str | None
    language: str | None
    owner_type: str | None = None
    sector: str | None = None
    status: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    score: float = Field(description="Ranking score (dense and keyword rankings fused); higher ranks first.")
    similarity: float = Field(0.0, description="Cosine similarity of the need and the project's best-matching passage.")
    snippet: str = Field(description="The part of the description that best explains the match.")
    marks: list[tuple[int, int]] = Field(default_factory=list, description="[start, end) character ranges of the query's words in the snippet.")
    link: str | None

    @classmethod
    def of(cls, hit: Hit) -> "SearchResult":
        r = hit.record
        return cls(
            id=r.id, title=r.title, organisation=r.organisation, country=r.country, language=r.language,
            owner_type=r.owner_type, sector=r.sector, status=r.status, start_year=r.start_year, end_year=r.end_year,
            score=round(hit.score, 6), similarity=round(hit.similarity, 4), snippet=hit.snippet, marks=hit.marks, link=r.link,
        )


class SearchResponse(BaseModel):
    query: str
    total: int = Field(description="How many ranked projects (after filters) can be paged through with offset.")
    close_match: bool | None = Field(
        None, description="False when no project stands out as a match for the need (see models.md); null when that "
        "cannot be told: an uncalibrated model, or too few projects (under 50 passages) to know what standing out means."
    )
    results: list[SearchResult]
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict, description=f"Counts per value of {', '.join(FACET_FIELDS)} among the best {FACET_DEPTH} results."
    )


class SimilarResponse(BaseModel):
    id: str
    results: list[SearchResult]


class Contact(BaseModel):
    website: str | None = Field(None, description="The organisation's own web site, where the data gives one.")
    registry_id: str | None = Field(None, description="Organisation number in a public registry, where the data gives one.")


class PartnerOut(BaseModel):
    organisation: str
    country: str | None
    owner_type: str | None
    score: float = Field(description="Relevant experience: matching projects weighed by relevance, status and recency.")
    projects: list[SearchResult]
    link: str | None
    contact: Contact


class PartnersResponse(BaseModel):
    query: str
    close_match: bool | None
    partners: list[PartnerOut]


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
            close_match=settings.close_match, encoder_options=settings.encoder_options,
        )
        idx.load()
        _withdraw_undecided(settings, idx)
        if settings.demo and idx.count() == 0:
            seed_demo(idx)
        state.index = idx
        log.info("ready: %d projects, model %s", idx.count(), idx.encoder.model_id)
    except Exception as exc:  # reported through /readyz; the process stays up to say why
        log.exception("loading failed")
        state.error = f"{type(exc).__name__}: {exc}"


def _withdraw_undecided(settings: Settings, idx: ProjectIndex) -> None:
    """Close the one gap of an approval a crash can leave (see index/submissions.py): a record
    whose submission is not approved is taken out of search before anyone can search."""
    from erfa.index.submissions import SubmissionStore

    store = SubmissionStore.in_home(settings.home)
    try:
        store.withdraw_undecided(idx)
    except Exception:  # a full disk must not keep search down; the next start tries again
        log.exception("could not check the index against the submissions")
    finally:
        store.close()


def get_index(request: Request) -> ProjectIndex:
    """The loaded index, or 503 while the model is still loading (or failed to)."""
    st: _State = request.app.state.erfa
    if st.index is None:
        raise HTTPException(503, detail=st.error or "erfa is still loading the model and index; retry in a few seconds")
    st.index.refresh()
    return st.index


IndexDep = Annotated[ProjectIndex, Depends(get_index)]
ProjectId = Annotated[str, Path(min_length=1, max_length=200, description="A project id as returned by /search.")]


def filter_params(
    country: Annotated[list[str] | None, Query(description="ISO codes, e.g. NO,SE")] = None,
    language: Annotated[list[str] | None, Query(description="nb, nn, sv, da, en, ...")] = None,
    owner_type: Annotated[list[str] | None, Query(description="municipality, county, region, health_trust, state_agency, ...")] = None,
    sector: Annotated[list[str] | None, Query(description="health, education, transport, ...")] = None,
    status: Annotated[list[str] | None, Query(description="planned, in_development, pilot, implemented, discontinued")] = None,
    organisation: Annotated[list[str] | None, Query(max_length=200, description="Organisation name (spelling variants match)")] = None,
    year_from: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2100)] = None,
) -> Filters:
    return Filters.parse({"country": country, "language": language, "owner_type": owner_type, "sector": sector,
                          "status": status, "organisation": organisation}, year_from, year_to)


def _need(q: str) -> str:
    text = q.strip()
    if not text:
        raise HTTPException(422, detail=[{"loc": ["query", "q"], "msg": "q is blank: describe what you want to use AI for", "type": "value_error"}])
    return text


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
        docs_url=None,  # served by install_docs: Swagger UI from a local package, strict CSP (issue 14)
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.erfa = state
    install_errors(app)  # issue 6: JSON errors, never a stack trace
    install_security(app, settings)  # issue 6: size/rate limits, headers, JSON logs, /metrics
    install_admin(app, settings)  # issue 6: token-guarded writes and moderated submissions

    @app.exception_handler(FilterError)
    async def bad_filter(request: Request, exc: FilterError) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": ["query", exc.field], "msg": str(exc), "type": "value_error"}]}, status_code=422)

    install_docs(app)  # issue 14: /docs without a CDN or inline scripts
    install_web(app)  # issue 4: HTML pages at /, /project/{id}, /submit, /embed and /static
    if settings.cors_origins:  # issue 4: the <erfa-search> widget on the listed portals may read the API
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"], max_age=600)

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
        filters: Annotated[Filters, Depends(filter_params)],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        offset: Annotated[int, Query(ge=0, lt=MAX_WINDOW)] = 0,
    ) -> SearchResponse:
        """Projects ranked by how close they are to the need, whatever language either is written in."""
        page = idx.search(_need(q), limit=limit, offset=offset, filters=filters)
        return SearchResponse(query=page.query, total=page.total, close_match=page.close_match,
                              results=[SearchResult.of(h) for h in page.hits], facets=page.facets)

    @app.get("/partners", response_model=PartnersResponse, tags=["search"])
    def partners(
        idx: IndexDep,
        q: Annotated[str, Query(min_length=1, max_length=1000, description="The need, in any language.")],
        filters: Annotated[Filters, Depends(filter_params)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> PartnersResponse:
        """Organisations with the most relevant experience of the need: whom to ask."""
        page = idx.partners(_need(q), limit=limit, filters=filters)
        return PartnersResponse(query=page.query, close_match=page.close_match, partners=[
            PartnerOut(organisation=p.organisation, country=p.country, owner_type=p.owner_type, score=p.score,
                       projects=[SearchResult.of(h) for h in p.projects], link=p.website,
                       contact=Contact(website=p.website, registry_id=p.registry_id))
            for p in page.partners
        ])

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
