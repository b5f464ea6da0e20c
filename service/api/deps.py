"""Everything a route depends on, in one place: settings, the index, the submission store,
the admin check, and the request parameters several routes share.

Routes declare what they need (``idx: IndexDep``) and never reach into ``app.state``
themselves, so a route reads as its contract and /docs documents it from the signature.
The app state is filled by create_app (service/app.py); while the model is still
loading, ``get_index`` answers 503 and the pages ask ``loaded_index`` instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from erfa.index import LIST_FILTERS, Filters, ProjectIndex
from erfa.index.moderation.queue import SubmissionQueue
from erfa.index.store.protocol import StoreUnavailable
from erfa.service.admission import Admission, Busy, client_of, need_cost
from erfa.service.api.auth import admin_token_ok
from erfa.service.api.errors import invalid, unprocessable
from erfa.service.api.ids import PlainId
from erfa.service.settings import Settings

if TYPE_CHECKING:
    from erfa.service.api.cache import ResponseCache

log = logging.getLogger("erfa.service")

MAX_NEED = 1000  # characters of a need, for the API and the web page alike
HIT_FLAG = "erfa_cache_hit"  # on request.state: service/api/cache.py answered, so no turn at the encoder


@dataclass
class AppState:
    """What one app holds (``app.state.erfa``); the loader thread sets ``index`` or ``error``."""

    settings: Settings
    submissions: SubmissionQueue
    index: ProjectIndex | None = None
    error: str | None = None
    following: bool = False  # a thread keeps the index up to date (service/database.py), not the requests
    admission: Admission | None = None  # the encoder's fair queue (service/admission.py), made on first use
    responses: ResponseCache | None = None  # finished answers by generation (service/api/cache.py), made on first use


def state(request: Request) -> AppState:
    st: AppState = request.app.state.erfa
    return st


def get_settings(request: Request) -> Settings:
    return state(request).settings


def loaded_index(request: Request) -> ProjectIndex | None:
    """The index, brought up to date with other processes' writes; None while loading."""
    idx = state(request).index
    if idx is not None and not state(request).following:
        try:
            idx.refresh()
        except StoreUnavailable:  # the database went away mid catch-up: answer from the last snapshot (issue 11)
            log.warning("catching up failed: the database is unreachable", extra={"event": "store_unreachable"})
    return idx


def get_index(request: Request) -> ProjectIndex:
    """The loaded index, or 503 while the model is still loading (or failed to)."""
    idx = loaded_index(request)
    if idx is None:
        raise HTTPException(
            503, detail=state(request).error or "erfa is still loading the model and index; retry in a few seconds"
        )
    return idx


# How long a read that names a generation (read-your-writes) may wait for this replica to reach it.
CATCH_UP_WAIT = 1.0


async def caught_up(
    idx: Annotated[ProjectIndex, Depends(get_index)],
    min_generation: Annotated[
        int | None,
        Query(
            ge=0,
            description=(
                "Read your writes: answer only once this server has caught up with this generation "
                "(the `generation` a write returned); 409 at once if the store has not reached it, "
                "409 if this server has not caught up within a second"
            ),
        ),
    ] = None,
) -> ProjectIndex:
    """The index, at least at ``min_generation``. With several replicas a client's next
    read may reach one that has not polled the database since the client's write; naming
    the write's generation makes that replica catch up first (or say it could not).

    A generation the store itself has not reached was never returned by a write to it
    (issue 18: sixty clients asking for 10**15 each held a worker thread for the whole
    wait), so it is refused at once; the wait for one it has reached sleeps in the event
    loop, holding a thread only while it reads the store."""
    if min_generation is None or idx.generation >= min_generation:
        return idx
    try:
        stored: int | None = await run_in_threadpool(idx.store.generation)
    except StoreUnavailable:
        stored = None
    if stored is not None and stored < min_generation:
        raise HTTPException(
            409,
            headers={"Retry-After": "1"},
            detail=(
                f"generation {min_generation} has not been written: the store is at generation {stored} "
                "(a generation from another database never arrives)"
            ),
        )
    deadline = time.monotonic() + CATCH_UP_WAIT
    while True:
        try:
            await run_in_threadpool(idx.refresh, 0)
        except StoreUnavailable:
            break
        if idx.generation >= min_generation or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    if idx.generation >= min_generation:
        return idx
    raise HTTPException(
        409,
        headers={"Retry-After": "1"},
        detail=(
            f"this server answers from generation {idx.generation}, not yet {min_generation}: retry in a moment "
            "(a generation from another database never arrives)"
        ),
    )


def get_submissions(request: Request) -> SubmissionQueue:
    return state(request).submissions


# auto_error=False: a missing header is answered by require_admin, with a message that says what to send.
bearer = HTTPBearer(auto_error=False, scheme_name="admin", description="`Authorization: Bearer $ERFA_ADMIN_TOKEN`")


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Write endpoints: 403 when writes are disabled (no token configured fails safe), 401 without a valid token."""
    expected = get_settings(request).admin_token
    if not expected:
        raise HTTPException(403, detail="writes are disabled on this server: the operator has not set ERFA_ADMIN_TOKEN")
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401, detail="this endpoint needs the header 'Authorization: Bearer <admin token>'", headers=challenge
        )
    if not admin_token_ok(request, credentials.credentials):  # a wrong one counts, as at the sign-in form
        log.warning("admin token rejected", extra={"event": "auth_failed", "path": request.url.path})
        raise HTTPException(401, detail="the admin token is not valid", headers=challenge)


async def filter_params(
    country: Annotated[list[str] | None, Query(description="ISO codes, e.g. NO,SE")] = None,
    language: Annotated[list[str] | None, Query(description="nb, nn, sv, da, en, ...")] = None,
    owner_type: Annotated[
        list[str] | None, Query(description="municipality, county, region, health_trust, state_agency, ...")
    ] = None,
    sector: Annotated[list[str] | None, Query(description="health, education, transport, ...")] = None,
    status: Annotated[
        list[str] | None, Query(description="planned, in_development, pilot, implemented, completed, discontinued")
    ] = None,
    organisation: Annotated[
        list[str] | None, Query(max_length=200, description="Organisation name (spelling variants match)")
    ] = None,
    year_from: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2100)] = None,
) -> Filters:
    return Filters.parse(
        {
            "country": country,
            "language": language,
            "owner_type": owner_type,
            "sector": sector,
            "status": status,
            "organisation": organisation,
        },
        year_from,
        year_to,
    )


def filters_as_params(filters: Filters) -> list[tuple[str, str]]:
    """The filters as query parameters (one pair per value), to carry them through links and feeds:
    what `filter_params` reads back."""
    out = [(f, v) for f in LIST_FILTERS for v in getattr(filters, f)]
    out += [(f, str(getattr(filters, f))) for f in ("year_from", "year_to") if getattr(filters, f) is not None]
    return out


# The cookie that remembers the reader's interface language (set by the pages, read by the feeds too).
LANG_COOKIE = "erfa_lang"
# Results per page on the pages, and in the export of "the page the person was on" (feeds).
PAGE_SIZE = 10


async def need(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_NEED,
            description=("The need, in any language, e.g. 'chattbot som svarar på frågor om bygglov'."),
        ),
    ],
) -> str:
    """The need as searched: a q of only spaces is refused like a missing one, never searched.
    (async, as are the filters and the cache look-up: they never block, and a sync dependency
    costs a hop through the thread pool, a third of a cached answer's time, issue 22)"""
    text = q.strip()
    if not text:
        raise unprocessable(invalid(["query", "q"], "q is blank: describe what you want to use AI for"))
    return text


def admission(request: Request) -> Admission:
    st = state(request)
    if st.admission is None:  # only ever called from the event loop: no race
        s = st.settings
        st.admission = Admission(s.search_slots, s.search_queue, s.search_wait)
    return st.admission


@asynccontextmanager
async def turn(request: Request, q: str) -> AsyncIterator[None]:
    """A fair turn at the encoder for searching ``q`` (issue 18), or 503 with Retry-After
    when the queue is full or the wait too long."""
    gate = admission(request)
    try:
        ticket = await gate.enter(client_of(request.scope), need_cost(q))
    except Busy as exc:
        raise HTTPException(
            503,
            headers={"Retry-After": str(exc.retry_after)},
            detail=f"erfa is busy: {exc.reason}; retry in {exc.retry_after} s",
        ) from None
    try:
        yield
    finally:
        gate.leave(ticket)


async def admitted(request: Request, q: NeedDep) -> AsyncIterator[None]:
    """The route's turn, held while it runs: declared after the route's other parameters,
    so a request that is refused anyway (422, 409) never queues, and one the response cache
    answers (service/api/cache.py) never waits behind needs being encoded."""
    if getattr(request.state, HIT_FLAG, False):
        yield
        return
    async with turn(request, q):
        yield


async def page_admitted(request: Request) -> AsyncIterator[Busy | None]:
    """The same turn for the HTML pages that search (/ and /embed), which read ``q``
    themselves: no need (the empty form) or one they refuse as too long takes no turn.
    A refusal is handed to the page (not raised) so that a person gets a page in their
    language saying when to try again, not a JSON body."""
    q = (request.query_params.get("q") or "").strip()
    if not q or len(q) > MAX_NEED:
        yield None
        return
    gate = admission(request)
    try:
        ticket = await gate.enter(client_of(request.scope), need_cost(q))
    except Busy as exc:
        yield exc
        return
    try:
        yield None
    finally:
        gate.leave(ticket)


IndexDep = Annotated[ProjectIndex, Depends(get_index)]
CaughtUpIndexDep = Annotated[ProjectIndex, Depends(caught_up)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SubmissionsDep = Annotated[SubmissionQueue, Depends(get_submissions)]
FiltersDep = Annotated[Filters, Depends(filter_params)]
NeedDep = Annotated[str, Depends(need)]
# scope="function": the slot is given back when the route returns, not after a slow client has read the answer
AdmittedDep = Annotated[None, Depends(admitted, scope="function")]
PageAdmittedDep = Annotated[Busy | None, Depends(page_admitted, scope="function")]
AdminDep = Depends(require_admin)
ProjectId = Annotated[
    str, Path(min_length=1, max_length=200, description="A project id as returned by /search."), PlainId
]
