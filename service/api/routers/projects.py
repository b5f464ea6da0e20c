"""/projects: read one project and its neighbours (public); add, replace and delete (admin).

Records posted here go through the same reader as ``erfa ingest`` (``ingest.read_items``),
so a project posted is normalised exactly like one read from a file (country names to ISO
codes, status words to the fixed vocabulary, language detected).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Response

from erfa.ingest import Record, read_items
from erfa.service.api.cache import CachedDep
from erfa.service.api.deps import AdminDep, IndexDep, ProjectId
from erfa.service.api.errors import AUTH_RESPONSES, invalid, problem, unprocessable
from erfa.service.api.presenter import similar_response
from erfa.service.api.schemas import MAX_RECORDS_PER_REQUEST, DeleteResponse, ProjectsIn, SimilarResponse, WriteSummary
from erfa.service.writes import refuse_unindexable

log = logging.getLogger("erfa.service")

router = APIRouter()

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("No such project")}


def not_found(project_id: str) -> HTTPException:
    return HTTPException(404, detail=f"no project with id {project_id!r}")


@router.get("/projects/{project_id}", response_model=Record, tags=["projects"])
def project(idx: IndexDep, project_id: ProjectId) -> Record:
    """One project's full record."""
    rec = idx.get(project_id)
    if rec is None:
        raise not_found(project_id)
    return rec


@router.get("/projects/{project_id}/similar", response_model=SimilarResponse, tags=["projects"])
async def similar(
    idx: IndexDep, project_id: ProjectId, cached: CachedDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> Response:
    """Projects closest to this one (never the project itself)."""
    try:
        return await cached.answer(lambda: similar_response(project_id, idx.similar(project_id, limit=limit)))
    except KeyError:
        raise not_found(project_id) from None


@router.post(
    "/projects",
    response_model=WriteSummary,
    tags=["admin"],
    dependencies=[AdminDep],
    responses={**AUTH_RESPONSES, 422: problem("An item is invalid; nothing was written")},
)
def post_projects(
    idx: IndexDep,
    body: Annotated[
        ProjectsIn, Body(description=f"A list of up to {MAX_RECORDS_PER_REQUEST} projects, or one project object")
    ],
    source: Annotated[str | None, Query(max_length=32, description="Source for items that name none")] = None,
) -> WriteSummary:
    """Add or replace projects (admin). All or nothing: if any item is invalid, none is written."""
    read = read_items([i.model_dump(exclude_none=True) for i in body.root], source)
    refuse_unindexable(idx, read)
    if read.rejected:
        raise unprocessable(*(invalid(["body", r.row - 1], r.reason) for r in read.rejected))
    s = idx.upsert(read.records)
    log.info("projects written", extra={"event": "write", "added": s.added, "updated": s.updated})
    return WriteSummary.of(s, generation=idx.generation)


@router.delete(
    "/projects/{project_id}",
    response_model=DeleteResponse,
    tags=["admin"],
    dependencies=[AdminDep],
    responses={**AUTH_RESPONSES, **NOT_FOUND},
)
def delete_project(idx: IndexDep, project_id: ProjectId) -> DeleteResponse:
    """Delete one project (admin)."""
    if idx.delete([project_id]) == 0:
        raise not_found(project_id)
    log.info("project deleted", extra={"event": "delete", "id": project_id})
    return DeleteResponse(deleted=project_id, generation=idx.generation)
