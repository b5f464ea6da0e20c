"""Everything a route depends on, in one place: settings, the index, the submission store,
the admin check, and the request parameters several routes share.

Routes declare what they need (``idx: IndexDep``) and never reach into ``app.state``
themselves, so a route reads as its contract and /docs documents it from the signature.
The app state is filled by create_app (service/app.py); while the model is still
loading, ``get_index`` answers 503 and the pages ask ``loaded_index`` instead.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from erfa.index import Filters, ProjectIndex
from erfa.index.store import StoreUnavailable
from erfa.index.submissions import SubmissionStore
from erfa.service.auth import token_matches
from erfa.service.errors import invalid, unprocessable
from erfa.service.settings import Settings

log = logging.getLogger("erfa.service")

MAX_NEED = 1000  # characters of a need, for the API and the web page alike


@dataclass
class AppState:
    """What one app holds (``app.state.erfa``); the loader thread sets ``index`` or ``error``."""

    settings: Settings
    submissions: SubmissionStore
    index: ProjectIndex | None = None
    error: str | None = None
    following: bool = False  # a thread keeps the index up to date (service/database.py), not the requests


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
        raise HTTPException(503, detail=state(request).error or "erfa is still loading the model and index; retry in a few seconds")
    return idx


# How long a read that names a generation (read-your-writes) may wait for this replica to reach it.
CATCH_UP_WAIT = 1.0


def caught_up(
    idx: Annotated[ProjectIndex, Depends(get_index)],
    min_generation: Annotated[int | None, Query(ge=0, description=(
        "Read your writes: answer only once this server has caught up with this generation "
        "(the `generation` a write returned); 409 if it has not within a second"))] = None,
) -> ProjectIndex:
    """The index, at least at ``min_generation``. With several replicas a client's next
    read may reach one that has not polled the database since the client's write; naming
    the write's generation makes that replica catch up first (or say it could not)."""
    if min_generation is None or idx.generation >= min_generation:
        return idx
    deadline = time.monotonic() + CATCH_UP_WAIT
    while True:
        try:
            idx.refresh(min_interval=0)
        except StoreUnavailable:
            break
        if idx.generation >= min_generation or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if idx.generation >= min_generation:
        return idx
    raise HTTPException(409, headers={"Retry-After": "1"}, detail=(
        f"this server answers from generation {idx.generation}, not yet {min_generation}: retry in a moment "
        "(a generation from another database never arrives)"))


def get_submissions(request: Request) -> SubmissionStore:
    return state(request).submissions


# auto_error=False: a missing header is answered by require_admin, with a message that says what to send.
bearer = HTTPBearer(auto_error=False, scheme_name="admin", description="`Authorization: Bearer $ERFA_ADMIN_TOKEN`")


def require_admin(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Write endpoints: 403 when writes are disabled (no token configured fails safe), 401 without a valid token."""
    expected = get_settings(request).admin_token
    if not expected:
        raise HTTPException(403, detail="writes are disabled on this server: the operator has not set ERFA_ADMIN_TOKEN")
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, detail="this endpoint needs the header 'Authorization: Bearer <admin token>'", headers=challenge)
    if not token_matches(credentials.credentials, expected):
        log.warning("admin token rejected", extra={"event": "auth_failed", "path": request.url.path})
        raise HTTPException(401, detail="the admin token is not valid", headers=challenge)


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


def need(q: Annotated[str, Query(min_length=1, max_length=MAX_NEED, description=(
        "The need, in any language, e.g. 'chattbot som svarar på frågor om bygglov'."))]) -> str:
    """The need as searched: a q of only spaces is refused like a missing one, never searched."""
    text = q.strip()
    if not text:
        raise unprocessable(invalid(["query", "q"], "q is blank: describe what you want to use AI for"))
    return text


IndexDep = Annotated[ProjectIndex, Depends(get_index)]
CaughtUpIndexDep = Annotated[ProjectIndex, Depends(caught_up)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SubmissionsDep = Annotated[SubmissionStore, Depends(get_submissions)]
FiltersDep = Annotated[Filters, Depends(filter_params)]
NeedDep = Annotated[str, Depends(need)]
AdminDep = Depends(require_admin)
ProjectId = Annotated[str, Path(min_length=1, max_length=200, description="A project id as returned by /search.")]
