"""Export and import the whole registry as JSON Lines: the backup erfa can restore.

What is saved is what cannot be recomputed: every record exactly as stored, and
every submission (pending ones above all: they exist nowhere else) with its
moderation state. Vectors and the FAISS file are left out; they are derived and are
rebuilt from the records on import (re-embedding takes minutes, not data).

The file is erfa's own JSON Lines format with two additions, so it stays readable
and mostly re-usable:

* line 1 is a comment, ``{"_about": "...", "erfa_export": 1, ...counts}``, that
  `erfa ingest` skips and `erfa import` checks;
* a record line is the stored Record as JSON (``erfa ingest`` reads these too);
* a submission line is ``{"_submission": {...}}``.

Import validates the whole file before writing anything, then restores records
exactly (ids, language, updated_at kept; no re-normalisation) through
``ProjectIndex.upsert``, so importing twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from erfa.index.engine import ProjectIndex
from erfa.index.moderation.queue import SubmissionQueue
from erfa.index.moderation.submissions import Submission
from erfa.index.summary import WriteSummary
from erfa.ingest.record import Record, utcnow
from erfa.ingest.rows import json_loads

EXPORT_VERSION = 1
SUBMISSION_KEY = "_submission"
ABOUT_KEY = "_about"


class BackupError(ValueError):
    """The file is not an erfa export, or a line of it is damaged; nothing was written."""


@dataclass
class ExportCount:
    records: int = 0
    submissions: int = 0


@dataclass(kw_only=True)
class ImportSummary(WriteSummary):
    """An import's record counts (`WriteSummary`), and how many records and submissions the file held."""

    records: int = 0
    submissions: int = 0
    submissions_added: int = 0


def export(index: ProjectIndex, submissions: SubmissionQueue | None, out: IO[str]) -> ExportCount:
    """Write every record and submission to ``out``.

    Records are read in one SQLite read transaction (a snapshot in WAL mode), so a
    write running meanwhile is either wholly in the export or wholly absent.
    """
    records = list(index.records())
    subs = list(submissions.all()) if submissions is not None else []
    about = {
        ABOUT_KEY: "erfa export: every project record, then every submission (_submission lines); "
        "restore with `erfa import FILE`",
        "erfa_export": EXPORT_VERSION,
        "exported_at": utcnow().isoformat(),
        "records": len(records),
        "submissions": len(subs),
    }
    out.write(json.dumps(about, ensure_ascii=False) + "\n")
    for rec in records:
        out.write(rec.model_dump_json(exclude_none=False) + "\n")
    for sub in subs:
        out.write(json.dumps({SUBMISSION_KEY: sub.to_json()}, ensure_ascii=False) + "\n")
    return ExportCount(len(records), len(subs))


def read_export(lines: Iterator[str], name: str = "export") -> tuple[list[Record], list[Submission]]:
    """Parse and validate a whole export; raise BackupError listing every damaged line."""
    records: list[Record] = []
    subs: list[Submission] = []
    problems: list[str] = []
    header: dict[str, Any] | None = None
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json_loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{name}:{number}: not JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{name}:{number}: expected a JSON object")
            continue
        if ABOUT_KEY in obj:
            if header is None and "erfa_export" in obj:
                header = obj
            continue
        if SUBMISSION_KEY in obj:
            try:
                subs.append(Submission.from_json(obj[SUBMISSION_KEY]))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{name}:{number}: submission: {exc}")
            continue
        try:
            rec = Record.stored(obj)
        except ValidationError as exc:
            problems.append(f"{name}:{number}: record: {_explain(exc)}")
            continue
        if rec.id in seen:
            problems.append(f"{name}:{number}: record {rec.id!r} appears twice")
            continue
        seen.add(rec.id)
        records.append(rec)
    if header is None:
        problems.insert(
            0,
            f"{name}: no erfa export header on the first line: this is not a file written by `erfa export` "
            "(use `erfa ingest` for registry files)",
        )
    elif int(header.get("erfa_export", 0)) > EXPORT_VERSION:
        problems.insert(
            0, f"{name}: written by a newer erfa (export version {header['erfa_export']}); upgrade erfa first"
        )
    else:
        for key, got in (("records", len(records)), ("submissions", len(subs))):
            want = header.get(key)
            if isinstance(want, int) and want != got and not problems:
                problems.append(f"{name}: the header promises {want} {key} but the file holds {got}: it is truncated")
    if problems:
        raise BackupError(
            "\n".join(problems[:50]) + (f"\n... and {len(problems) - 50} more" if len(problems) > 50 else "")
        )
    return records, subs


def import_file(
    path: Path, index: ProjectIndex, submissions: SubmissionQueue, *, progress: bool = False
) -> ImportSummary:
    """Restore an export into a data directory (usually a fresh one); all-or-nothing validation."""
    with Path(path).open(encoding="utf-8") as f:
        records, subs = read_export(iter(f), str(path))
    if refused := index.refusals(records):  # all or nothing, like the file's own checks (issue 18)
        raise BackupError("\n".join(f"{path}: record {i!r}: {why}" for i, why in sorted(refused.items())[:50]))
    summary = ImportSummary(records=len(records), submissions=len(subs))
    if records:
        written = index.upsert(records, progress=progress)
        summary.added, summary.updated, summary.unchanged = written.added, written.updated, written.unchanged
    if subs:
        summary.submissions_added = submissions.restore(subs).added
    return summary


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors())
