"""/search and /partners: a need in any language, the projects and organisations that match it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from erfa.index import MAX_WINDOW
from erfa.service.api.deps import AdmittedDep, CaughtUpIndexDep, FiltersDep, NeedDep
from erfa.service.api.presenter import partners_response, search_response
from erfa.service.api.schemas import PartnersResponse, SearchResponse

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResponse)
def search(
    idx: CaughtUpIndexDep,
    q: NeedDep,
    filters: FiltersDep,
    _turn: AdmittedDep,  # last of the dependencies: a fair turn at the encoder (service/admission.py)
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, lt=MAX_WINDOW)] = 0,
) -> SearchResponse:
    """Projects ranked by how close they are to the need, whatever language either is written in."""
    return search_response(idx.search(q, limit=limit, offset=offset, filters=filters))


@router.get("/partners", response_model=PartnersResponse)
def partners(
    idx: CaughtUpIndexDep,
    q: NeedDep,
    filters: FiltersDep,
    _turn: AdmittedDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> PartnersResponse:
    """Organisations with the most relevant experience of the need: whom to ask."""
    return partners_response(idx.partners(q, limit=limit, filters=filters))
