"""Writes: add, replace and delete projects, upload files, and moderate submissions.

Every route here except ``POST /submissions`` needs the admin token (see auth.py).
The public submission route only ever creates a *pending* item in its own store;
nothing reaches search until a moderator approves it.

Records arrive in erfa's own exchange format and go through the same adapter as
``erfa ingest``, so a project posted here is normalised exactly like one read from
a file (country names to ISO codes, status words to the fixed vocabulary).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, File, Form, HTTPException, Path as PathParam, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationInfo, field_validator, model_validator

from erfa.index import ProjectIndex
from erfa.index.submissions import Submission, SubmissionError, SubmissionStore
from erfa.ingest import FORMATS, FormatError, Record, RecordError, read_items, vocab
from erfa.service.auth import AdminDep, check_token_strength
from erfa.service.settings import Settings
from erfa.service.writes import upsert_and_prune

log = logging.getLogger("erfa.service")

MAX_RECORDS_PER_REQUEST = 1000  # a bigger batch belongs in a file upload (POST /ingest)
UPLOAD_SUFFIXES = frozenset({".csv", ".jsonl", ".json", ".xlsx", ".txt", ".tsv"})


def _index(request: Request) -> ProjectIndex:
    from erfa.service.api import get_index  # late: api imports this module's installer

    return get_index(request)


def _submissions(request: Request) -> SubmissionStore:
    store: SubmissionStore = request.app.state.erfa_submissions
    return store


IndexDep = Annotated[ProjectIndex, Depends(_index)]
SubmissionsDep = Annotated[SubmissionStore, Depends(_submissions)]
Problem = {"description": "What is wrong, in `detail`", "content": {"application/json": {"example": {"detail": "..."}}}}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**Problem, "description": "Missing or invalid admin token"},
    403: {**Problem, "description": "Writes are disabled: ERFA_ADMIN_TOKEN is not set"},
}


def _blank(value: object) -> object:
    """Web forms send '' for a field left empty; that means 'not given', not an error."""
    return None if isinstance(value, str) and not value.strip() else value


Opt = BeforeValidator(_blank)
_Year = Annotated[int, Field(ge=1950, le=2100)]
_Link = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s]+$")]


def _Text(n: int) -> Any:
    """A string of at most n characters (constraints sit inside the Optional so None passes)."""
    return Annotated[str, Field(max_length=n)]


# -- models ---------------------------------------------------------------------------
class ProjectIn(BaseModel):
    """One project in erfa's own format (docs/ingest-formats.md). `id` is derived, never read."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[str | None, Field(max_length=32, description="Who publishes it, e.g. 'oslo-kommune'; or pass ?source=")] = None
    source_id: Annotated[str | int | None, Field(description="The publisher's own id for the project (required)")] = None
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
    tags: Annotated[list[Annotated[str, Field(max_length=200)]] | str | None, Field(max_length=200)] = None
    language: Annotated[str | None, Field(max_length=3)] = None
    updated_at: Annotated[str | None, Field(max_length=40)] = None
    id: Annotated[str | None, Field(max_length=200, description="Ignored (erfa derives ids), so exports re-import unchanged")] = None


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
    ids: list[str] = Field(default_factory=list, description="Ids of the records added or updated")
    format: str | None = None


class DeleteResponse(BaseModel):
    deleted: str


class SubmissionIn(BaseModel):
    """A project proposed by anyone; a moderator decides whether it is listed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[_Text(5000) | None, Opt] = None
    purpose: Annotated[_Text(5000) | None, Opt] = None
    organisation: Annotated[str, Field(min_length=1, max_length=300)]
    country: Annotated[_Text(60) | None, Opt, Field(description="ISO code (NO, SE, DK, FI, IS) or a country name")] = None
    municipality: Annotated[_Text(200) | None, Opt] = None
    sector: Annotated[_Text(100) | None, Opt, Field(description=", ".join(vocab.SECTORS))] = None
    status: Annotated[_Text(100) | None, Opt, Field(description=", ".join(vocab.STATUSES))] = None
    start_year: Annotated[_Year | None, Opt] = None
    end_year: Annotated[_Year | None, Opt] = None
    link: Annotated[_Link | None, Opt, Field(description="An http(s) URL about the project")] = None

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and vocab.country_code(v) is None:
            raise ValueError("country is not one erfa knows: use an ISO code such as NO, SE, DK, FI, IS or a country name")
        return v

    @field_validator("status")
    @classmethod
    def _status(cls, v: str | None) -> str | None:
        if v is not None and vocab.normalise_status(v) is None:
            raise ValueError(f"status must be one of {', '.join(vocab.STATUSES)}")
        return v

    @field_validator("sector")
    @classmethod
    def _sector(cls, v: str | None) -> str | None:
        if v is not None and vocab.normalise_sector(v) is None:
            raise ValueError(f"sector must be one of {', '.join(vocab.SECTORS)}")
        return v

    @field_validator("end_year")
    @classmethod
    def _after_start(cls, v: int | None, info: ValidationInfo) -> int | None:
        start = info.data.get("start_year")
        if v is not None and start is not None and v < start:
            raise ValueError(f"end_year must not be before start_year ({start})")
        return v


class SubmissionCreated(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    message: str


class SubmissionOut(BaseModel):
    id: str
    status: Literal["pending", "approved", "rejected"]
    data: dict[str, Any]
    created_at: str
    decided_at: str | None = None
    reason: str | None = None
    record_id: str | None = None

    @classmethod
    def of(cls, s: Submission) -> "SubmissionOut":
        return cls(**s.to_json())


class SubmissionList(BaseModel):
    total: int
    submissions: list[SubmissionOut]


class Approved(BaseModel):
    submission: SubmissionOut
    record: Record


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why, for the record (and the submitter)")]


SubmissionId = Annotated[str, PathParam(min_length=1, max_length=100, description="As returned by POST /submissions")]


# -- routes -----------------------------------------------------------------------------
router = APIRouter()


@router.post("/projects", response_model=WriteSummary, tags=["admin"], dependencies=[AdminDep],
             responses={**AUTH_RESPONSES, 422: {**Problem, "description": "An item is invalid; nothing was written"}})
def post_projects(
    idx: IndexDep,
    body: Annotated[ProjectsIn, Body(description=f"A list of up to {MAX_RECORDS_PER_REQUEST} projects, or one project object")],
    source: Annotated[str | None, Query(max_length=32, description="Source for items that name none")] = None,
) -> WriteSummary:
    """Add or replace projects (admin). All or nothing: if any item is invalid, none is written."""
    read = read_items([i.model_dump(exclude_none=True) for i in body.root], source)
    if read.rejected:
        raise HTTPException(422, detail=[{"loc": ["body", r.row - 1], "msg": r.reason, "type": "value_error"}
                                         for r in read.rejected])
    s = idx.upsert(read.records)
    log.info("projects written", extra={"event": "write", "added": s.added, "updated": s.updated})
    return WriteSummary(added=s.added, updated=s.updated, unchanged=s.unchanged, ids=s.ids)


@router.delete("/projects/{project_id}", response_model=DeleteResponse, tags=["admin"], dependencies=[AdminDep],
               responses={**AUTH_RESPONSES, 404: {**Problem, "description": "No such project"}})
def delete_project(idx: IndexDep, project_id: Annotated[str, PathParam(min_length=1, max_length=200)]) -> DeleteResponse:
    """Delete one project (admin)."""
    if idx.delete([project_id]) == 0:
        raise HTTPException(404, detail=f"no project with id {project_id!r}")
    log.info("project deleted", extra={"event": "delete", "id": project_id})
    return DeleteResponse(deleted=project_id)


@router.post("/ingest", response_model=WriteSummary, tags=["admin"], dependencies=[AdminDep],
             responses={**AUTH_RESPONSES, 413: {**Problem, "description": "The file is larger than ERFA_MAX_UPLOAD_BYTES"},
                        422: {**Problem, "description": "The file cannot be read; `detail` says why and what to do"}})
async def ingest(
    request: Request,
    idx: IndexDep,
    file: Annotated[UploadFile, File(description="A registry file in any supported format (CSV, JSON Lines, JSON, XLSX)")],
    format: Annotated[Literal[FORMATS] | None, Form(description="Override format detection")] = None,  # type: ignore[valid-type]
    source: Annotated[str | None, Form(max_length=32, description="Source for erfa rows that name none")] = None,
    prune: Annotated[bool, Form(description="Delete records of the file's source that it no longer contains")] = False,
) -> WriteSummary:
    """Upload a file and ingest it like `erfa ingest` (admin): valid rows go in, the others are listed."""
    settings: Settings = request.app.state.erfa_settings
    suffix = Path(file.filename or "").suffix.lower()
    suffix = suffix if suffix in UPLOAD_SUFFIXES else ".upload"
    with tempfile.TemporaryDirectory(prefix="erfa-upload-") as tmp:
        # a fixed name: the client's file name never touches the file system
        path = Path(tmp) / f"upload{suffix}"
        size = await run_in_threadpool(_copy, file, path, settings.max_upload_bytes)
        if size == 0:
            raise HTTPException(422, detail=[{"loc": ["body", "file"], "type": "value_error", "msg": "the file is empty"}])
        summary = await run_in_threadpool(_ingest_file, idx, path, format, source, prune, file.filename or "upload",
                                          settings.max_xlsx_bytes)
    return summary


def _copy(upload: UploadFile, dest: Path, limit: int) -> int:
    size = 0
    with dest.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, detail=f"the file is larger than the limit of {limit} bytes (ERFA_MAX_UPLOAD_BYTES)")
            out.write(chunk)
    return size


def _ingest_file(idx: ProjectIndex, path: Path, format: str | None, source: str | None, prune: bool, name: str,
                 max_xlsx_bytes: int) -> WriteSummary:
    from erfa.ingest import read_file

    def problem(msg: str) -> HTTPException:
        return HTTPException(422, detail=[{"loc": ["body", "file"], "type": "value_error", "msg": msg.replace(str(path), name)}])

    try:
        result = read_file(path, format=format, default_source=source, max_xlsx_bytes=max_xlsx_bytes)
    except FormatError as exc:
        raise problem(str(exc)) from None
    except Exception as exc:  # a malformed upload is the client's problem, never a 500
        log.warning("upload could not be read", extra={"event": "ingest_unreadable", "error": type(exc).__name__})
        raise problem(f"the file cannot be read as {format or 'any supported format'} ({type(exc).__name__}); "
                      f"supported formats: {', '.join(FORMATS)}") from None
    s = upsert_and_prune(idx, result.records, prune=prune)
    log.info("file ingested", extra={"event": "ingest", "format": result.format, "added": s.added, "updated": s.updated,
                                     "rejected": len(result.rejected), "deleted": s.deleted})
    return WriteSummary(added=s.added, updated=s.updated, unchanged=s.unchanged, deleted=s.deleted, ids=s.ids,
                        rejected=[Rejection(row=r.row, reason=r.reason) for r in result.rejected], format=result.format)


@router.post("/submissions", status_code=201, response_model=SubmissionCreated, tags=["submissions"],
             responses={429: {**Problem, "description": "Too many submissions from this client; see Retry-After"},
                        503: {**Problem, "description": "The moderation queue is full; try again later"}})
def submit(store: SubmissionsDep, request: Request, body: SubmissionIn) -> SubmissionCreated:
    """Propose a project (public). It is listed only after a moderator approves it."""
    settings: Settings = request.app.state.erfa_settings
    if store.count("pending") >= settings.max_pending:
        raise HTTPException(503, detail="the moderation queue is full; please try again later", headers={"Retry-After": "3600"})
    try:
        sub = store.add(body.model_dump(exclude_none=True))
    except RecordError as exc:
        raise HTTPException(422, detail=[{"loc": ["body"], "type": "value_error", "msg": str(exc)}]) from None
    log.info("submission received", extra={"event": "submission", "submission": sub.id})
    return SubmissionCreated(id=sub.id, message="Thank you. A moderator will review the project before it is listed.")


@router.get("/submissions", response_model=SubmissionList, tags=["submissions"], dependencies=[AdminDep],
            responses=AUTH_RESPONSES)
def list_submissions(
    store: SubmissionsDep,
    status: Annotated[Literal["pending", "approved", "rejected", "all"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SubmissionList:
    """Submissions by status, oldest first (admin)."""
    st = None if status == "all" else status
    return SubmissionList(total=store.count(st), submissions=[SubmissionOut.of(s) for s in store.list(st, limit=limit, offset=offset)])


@router.get("/submissions/{submission_id}", response_model=SubmissionOut, tags=["submissions"], dependencies=[AdminDep],
            responses={**AUTH_RESPONSES, 404: {**Problem, "description": "No such submission"}})
def get_submission(store: SubmissionsDep, submission_id: SubmissionId) -> SubmissionOut:
    """One submission (admin)."""
    sub = store.get(submission_id)
    if sub is None:
        raise HTTPException(404, detail=f"no submission with id {submission_id!r}")
    return SubmissionOut.of(sub)


@router.post("/submissions/{submission_id}/approve", response_model=Approved, tags=["submissions"], dependencies=[AdminDep],
             responses={**AUTH_RESPONSES, 404: {**Problem, "description": "No such submission"},
                        409: {**Problem, "description": "The submission was rejected"}})
def approve(store: SubmissionsDep, idx: IndexDep, submission_id: SubmissionId) -> Approved:
    """List a pending submission as a project with source `submission` (admin). Repeating it is harmless."""
    try:
        sub, record = store.approve(submission_id, idx)
    except KeyError:
        raise HTTPException(404, detail=f"no submission with id {submission_id!r}") from None
    except SubmissionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    log.info("submission approved", extra={"event": "approve", "submission": sub.id, "id": record.id})
    return Approved(submission=SubmissionOut.of(sub), record=record)


@router.post("/submissions/{submission_id}/reject", response_model=SubmissionOut, tags=["submissions"], dependencies=[AdminDep],
             responses={**AUTH_RESPONSES, 404: {**Problem, "description": "No such submission"},
                        409: {**Problem, "description": "The submission was already approved"}})
def reject(store: SubmissionsDep, idx: IndexDep, submission_id: SubmissionId, body: RejectIn) -> SubmissionOut:
    """Decline a submission with a reason (admin). It stays stored, so the decision can be explained,
    and is never searchable: a record left by an interrupted approval is removed with it."""
    try:
        sub = store.reject(submission_id, body.reason, idx)
    except KeyError:
        raise HTTPException(404, detail=f"no submission with id {submission_id!r}") from None
    except SubmissionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    log.info("submission rejected", extra={"event": "reject", "submission": sub.id})
    return SubmissionOut.of(sub)


def install_admin(app: FastAPI, settings: Settings) -> None:
    """Mount the write routes and open the submission store in the data directory."""
    check_token_strength(settings.admin_token)
    app.state.erfa_settings = settings
    app.state.erfa_submissions = SubmissionStore.in_home(settings.home)
    app.include_router(router)


__all__ = ["install_admin", "router"]
