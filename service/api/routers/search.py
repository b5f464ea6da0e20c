"""/search and /partners: a need in any language, the projects and organisations that match it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from erfa.index import MAX_WINDOW
from erfa.service.api.cache import CachedDep
from erfa.service.api.deps import AdmittedDep, CaughtUpIndexDep, FiltersDep, NeedDep
from erfa.service.api.presenter import partners_response, search_response
from erfa.service.api.schemas import PartnersResponse, SearchResponse

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResponse)
async def search(
    idx: CaughtUpIndexDep,
    q: NeedDep,
    filters: FiltersDep,
    cached: CachedDep,  # a repeated request at this generation is answered from service/api/cache.py
    _turn: AdmittedDep,  # last of the dependencies: a fair turn at the encoder (service/admission.py)
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, lt=MAX_WINDOW)] = 0,
) -> Response:
    """Projects ranked by how close they are to the need, whatever language either is written in."""
    return await cached.answer(lambda: search_response(idx.search(q, limit=limit, offset=offset, filters=filters)))


@router.get("/partners", response_model=PartnersResponse)
async def partners(
    idx: CaughtUpIndexDep,
    q: NeedDep,
    filters: FiltersDep,
    cached: CachedDep,
    _turn: AdmittedDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """Organisations with the most relevant experience of the need: whom to ask."""
    return await cached.answer(lambda: partners_response(idx.partners(q, limit=limit, filters=filters)))
