"""POST /ingest: a registry file uploaded and ingested like `erfa ingest` (admin).

The upload is copied to a private temporary file under a fixed name (the client's file
name never touches the file system), counted against ERFA_MAX_UPLOAD_BYTES as it
arrives, then read by ``read_file`` and written by the CLI's own ``upsert_and_prune``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from erfa.index import ProjectIndex
from erfa.ingest import FORMATS, FormatError, read_file
from erfa.service.api.deps import AdminDep, IndexDep, SettingsDep
from erfa.service.api.errors import AUTH_RESPONSES, invalid, problem, unprocessable
from erfa.service.api.schemas import Rejection, WriteSummary
from erfa.service.writes import refuse_unindexable, upsert_and_prune

log = logging.getLogger("erfa.service")

router = APIRouter()

UPLOAD_SUFFIXES = frozenset({".csv", ".jsonl", ".json", ".xlsx", ".txt", ".tsv"})


@router.post(
    "/ingest",
    response_model=WriteSummary,
    tags=["admin"],
    dependencies=[AdminDep],
    responses={
        **AUTH_RESPONSES,
        413: problem("The file is larger than ERFA_MAX_UPLOAD_BYTES"),
        422: problem("The file cannot be read; `detail` says why and what to do"),
    },
)
async def ingest(
    idx: IndexDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="A registry file in any supported format (CSV, JSON Lines, JSON, XLSX)")
    ],
    format: Annotated[Literal[FORMATS] | None, Form(description="Override format detection")] = None,  # type: ignore[valid-type]
    source: Annotated[str | None, Form(max_length=32, description="Source for erfa rows that name none")] = None,
    prune: Annotated[bool, Form(description="Delete records of the file's source that it no longer contains")] = False,
) -> WriteSummary:
    """Upload a file and ingest it like `erfa ingest` (admin): valid rows go in, the others are listed."""
    suffix = Path(file.filename or "").suffix.lower()
    with tempfile.TemporaryDirectory(prefix="erfa-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix if suffix in UPLOAD_SUFFIXES else '.upload'}"
        size = await run_in_threadpool(_copy, file, path, settings.max_upload_bytes)
        if size == 0:
            raise unprocessable(invalid(["body", "file"], "the file is empty"))
        return await run_in_threadpool(
            _ingest_file, idx, path, format, source, prune, file.filename or "upload", settings.max_xlsx_bytes
        )


def _copy(upload: UploadFile, dest: Path, limit: int) -> int:
    size = 0
    with dest.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise HTTPException(
                    413, detail=f"the file is larger than the limit of {limit} bytes (ERFA_MAX_UPLOAD_BYTES)"
                )
            out.write(chunk)
    return size


def _ingest_file(
    idx: ProjectIndex, path: Path, format: str | None, source: str | None, prune: bool, name: str, max_xlsx_bytes: int
) -> WriteSummary:
    def unreadable(msg: str) -> HTTPException:
        return unprocessable(invalid(["body", "file"], msg.replace(str(path), name)))

    try:
        result = read_file(path, format=format, default_source=source, max_xlsx_bytes=max_xlsx_bytes)
    except FormatError as exc:
        raise unreadable(str(exc)) from None
    except Exception as exc:  # a malformed upload is the client's problem, never a 500
        log.warning("upload could not be read", extra={"event": "ingest_unreadable", "error": type(exc).__name__})
        raise unreadable(
            f"the file cannot be read as {format or 'any supported format'} ({type(exc).__name__}); "
            f"supported formats: {', '.join(FORMATS)}"
        ) from None
    refuse_unindexable(idx, result)
    s = upsert_and_prune(idx, result.records, prune=prune)
    log.info(
        "file ingested",
        extra={
            "event": "ingest",
            "format": result.format,
            "added": s.added,
            "updated": s.updated,
            "rejected": len(result.rejected),
            "skipped": len(result.skipped),
            "deleted": s.deleted,
        },
    )
    return WriteSummary.of(
        s,
        generation=idx.generation,
        rejected=[Rejection(row=r.row, reason=r.reason) for r in result.rejected],
        skipped=[Rejection(row=r.row, reason=r.reason) for r in result.skipped],
        format=result.format,
    )
