"""/projects: read one project and its neighbours (public); add, replace and delete (admin).

Records posted here go through the same reader as ``erfa ingest`` (``ingest.read_items``),
so a project posted is normalised exactly like one read from a file (country names to ISO
codes, status words to the fixed vocabulary, language detected).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from erfa.ingest import Record, read_items
from erfa.service.api.deps import AdminDep, IndexDep, ProjectId
from erfa.service.api.errors import AUTH_RESPONSES, invalid, problem, unprocessable
from erfa.service.api.presenter import SimilarResponse, similar_response
from erfa.service.writes import refuse_unindexable

log = logging.getLogger("erfa.service")

router = APIRouter()

MAX_RECORDS_PER_REQUEST = 1000  # a bigger batch belongs in a file upload (POST /ingest)
NOT_FOUND = {404: problem("No such project")}


class ProjectIn(BaseModel):
    """One project in erfa's own format (docs/ingest-formats.md). `id` is derived, never read."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[
        str | None, Field(max_length=32, description="Who publishes it, e.g. 'oslo-kommune'; or pass ?source=")
    ] = None
    source_id: Annotated[str | int | None, Field(description="The publisher's own id for the project (required)")] = (
        None
    )
    title: Annotated[str | None, Field(max_length=500, description="Required")] = None
    description: Annotated[str | None, Field(max_length=20_000)] = None
    purpose: Annotated[str | None, Field(max_length=20_000)] = None
    organisation: Annotated[str | None, Field(max_length=500)] = None
    owner_type: Annotated[str | None, Field(max_length=100)] = None
    partners: Annotated[list[Annotated[str, Field(max_length=500)]] | str | None, Field(max_length=200)] = None
    country: Annotated[str | None, Field(max_length=60)] = None
    region: Annotated[str | None, Field(max_length=200)] = None
    municipality: Annotated[str | None, Field(max_length=200)] = None
    sector: Annotated[str | None, Field(max_length=100)] = None
    status: Annotated[str | None, Field(max_length=100)] = None
    start_year: int | str | None = None
    end_year: int | str | None = None
    link: Annotated[str | None, Field(max_length=2000)] = None
    website: Annotated[str | None, Field(max_length=2000, description="The organisation's own web site")] = None
    contact: Annotated[
        str | None, Field(max_length=200, description="A functional contact (team mailbox or role), never a person")
    ] = None
    tags: Annotated[list[Annotated[str, Field(max_length=200)]] | str | None, Field(max_length=200)] = None
    language: Annotated[str | None, Field(max_length=3)] = None
    updated_at: Annotated[str | None, Field(max_length=40)] = None
    id: Annotated[
        str | None, Field(max_length=200, description="Ignored (erfa derives ids), so exports re-import unchanged")
    ] = None


class ProjectsIn(RootModel[list[ProjectIn]]):
    """A list of projects; a single object is accepted as a list of one."""

    root: Annotated[list[ProjectIn], Field(max_length=MAX_RECORDS_PER_REQUEST)]

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value


class Rejection(BaseModel):
    row: int = Field(description="1-based position in the request body, or the file's row as an editor shows it")
    reason: str


class WriteSummary(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: list[Rejection] = Field(default_factory=list)
    skipped: list[Rejection] = Field(
        default_factory=list,
        description="Rows of an uploaded file left out on purpose, with why (e.g. IPS-X's blockchain cases: not AI)",
    )
    ids: list[str] = Field(default_factory=list, description="Ids of the records added or updated")
    generation: int | None = Field(
        None,
        description=(
            "The store's generation once this write is searchable here; pass it as `min_generation` to read your writes"
        ),
    )
    format: str | None = None


class DeleteResponse(BaseModel):
    deleted: str
    generation: int | None = Field(None, description="Pass it as `min_generation` to read your writes")


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
def similar(idx: IndexDep, project_id: ProjectId, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> SimilarResponse:
    """Projects closest to this one (never the project itself)."""
    try:
        return similar_response(project_id, idx.similar(project_id, limit=limit))
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
    return WriteSummary(added=s.added, updated=s.updated, unchanged=s.unchanged, ids=s.ids, generation=idx.generation)


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
