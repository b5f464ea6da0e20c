"""Proposed projects waiting for a moderator: stored, never searchable until approved.

Anyone may propose a project, so a proposal must not reach search results until a
trusted person has looked at it. Proposals live in their own SQLite file beside the
registry (``submissions.sqlite`` in the data directory): the registry store stays
the single source of truth for searchable records, and a pending proposal can never
leak into a FAISS rebuild by accident.

Durability: WAL mode with ``synchronous=FULL``, because a proposal is a person's
typing that exists nowhere else; a 201 must mean "on disk", even across a power cut.

Approve and reject are all or nothing across this store and the index (issue 14: with
the disk full, a failed approve had left the project searchable while the submission
stayed pending). Each decision is written inside a transaction of this store that is
committed only after the index has changed; if the index write fails the transaction
is rolled back, and if the commit fails the index change is undone. The one gap no
code can close, a crash between the index write and the commit, leaves a pending
submission whose record is indexed; ``withdraw_undecided`` removes such records and
runs at every start, so a submission that is not approved is never searchable for
long. The record id is derived from the submission id, so repeating an approval is a
no-op.
"""
from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erfa.index.sqlite import SqliteFile
from erfa.ingest.record import Record, RecordError, make_id, utcnow

if TYPE_CHECKING:
    import sqlite3

    from erfa.index.engine import ProjectIndex

log = logging.getLogger("erfa.submissions")

SOURCE = "submission"  # the Record.source of every approved submission
STATUSES = ("pending", "approved", "rejected")
# Fields a member of the public may propose; everything else (language, tags,
# owner type) is derived or left to the moderator's later edits.
FIELDS = ("title", "description", "purpose", "organisation", "country", "municipality",
          "sector", "status", "start_year", "end_year", "link")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decided_at TEXT,
    reason TEXT,
    record_id TEXT
);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status, created_at);
"""


class SubmissionError(ValueError):
    """A state change that is not allowed (e.g. approving a rejected submission)."""


@dataclass(frozen=True)
class Submission:
    id: str
    status: str
    data: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None = None
    record_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The exchange form used by the API and by backups."""
        return {
            "id": self.id, "status": self.status, "data": self.data,
            "created_at": self.created_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason, "record_id": self.record_id,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Submission":
        status = obj.get("status")
        if status not in STATUSES:
            raise ValueError(f"status {status!r} must be one of {', '.join(STATUSES)}")
        sid = obj.get("id")
        if not isinstance(sid, str) or not sid:
            raise ValueError("id is missing")
        data = obj.get("data")
        if not isinstance(data, dict):
            raise ValueError("data must be an object")
        decided = obj.get("decided_at")
        return cls(
            id=sid, status=status, data=dict(data),
            created_at=datetime.fromisoformat(str(obj["created_at"])),
            decided_at=datetime.fromisoformat(str(decided)) if decided else None,
            reason=obj.get("reason"), record_id=obj.get("record_id"),
        )


@dataclass
class ImportCount:
    added: int = 0
    replaced: int = 0
    ids: list[str] = field(default_factory=list)


def record_id(submission_id: str) -> str:
    """The id of the record a submission becomes when approved (what ``to_record`` gives it)."""
    return make_id(SOURCE, submission_id)


def to_record(submission_id: str, data: Mapping[str, Any]) -> Record:
    """The Record an approved submission becomes.

    Goes through erfa's own-format adapter so a submission is normalised exactly like
    an ingested row ("Norge" -> NO, "I drift" -> implemented), and gets a stable id
    derived from the submission id, which makes approval idempotent.
    """
    from erfa.ingest import read_items

    row = {k: v for k, v in data.items() if k in FIELDS}
    read = read_items([{**row, "source": SOURCE, "source_id": submission_id}], file="submission")
    if read.rejected:
        raise RecordError(read.rejected[0].reason)
    if not read.records:  # the adapter skips only comment lines
        raise RecordError("the submission holds no project")
    return read.records[0]


class SubmissionStore(SqliteFile):
    """Pending, approved and rejected submissions in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, synchronous="FULL")

    @classmethod
    def in_home(cls, home: Path) -> "SubmissionStore":
        return cls(Path(home) / "submissions.sqlite")

    # -- reads ---------------------------------------------------------------
    def get(self, submission_id: str) -> Submission | None:
        row = self._con().execute("SELECT * FROM submissions WHERE id=?", (submission_id,)).fetchone()
        return _submission(row) if row else None

    def list(self, status: str | None = "pending", *, limit: int = 100, offset: int = 0) -> list[Submission]:
        if status is None:
            rows = self._con().execute("SELECT * FROM submissions ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset))
        else:
            rows = self._con().execute(
                "SELECT * FROM submissions WHERE status=? ORDER BY created_at, id LIMIT ? OFFSET ?", (status, limit, offset))
        return [_submission(r) for r in rows]

    def count(self, status: str | None = "pending") -> int:
        if status is None:
            return int(self._con().execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
        return int(self._con().execute("SELECT COUNT(*) FROM submissions WHERE status=?", (status,)).fetchone()[0])

    def all(self) -> Iterator[Submission]:
        for row in self._con().execute("SELECT * FROM submissions ORDER BY created_at, id"):
            yield _submission(row)

    # -- writes --------------------------------------------------------------
    def add(self, data: Mapping[str, Any]) -> Submission:
        """Store a proposal as pending; raises RecordError when it could never become a record."""
        clean = {k: data[k] for k in FIELDS if data.get(k) is not None}
        sid = "s" + secrets.token_hex(8)  # unguessable, so ids reveal nothing about volume or order
        to_record(sid, clean)  # validate now: a moderator should never face an unapprovable item
        sub = Submission(sid, "pending", clean, utcnow())
        with self._tx() as con:
            con.execute("INSERT INTO submissions (id, status, data, created_at) VALUES (?, 'pending', ?, ?)",
                        (sid, json.dumps(clean, ensure_ascii=False), sub.created_at.isoformat()))
        return sub

    def approve(self, submission_id: str, index: "ProjectIndex") -> tuple[Submission, Record]:
        """Make a pending submission searchable, all or nothing (see the module docstring).

        Raises whatever the index or the disk raised, after undoing the index change: the
        submission is then still pending (or approved, if it already was) and not searchable.
        """
        sub = self._require(submission_id)
        if sub.status == "rejected":
            raise SubmissionError(f"submission {submission_id!r} was rejected; it cannot be approved")
        record = to_record(sub.id, sub.data)
        if sub.status == "approved" and sub.record_id and index.get(sub.record_id) is not None:
            return sub, index.get(sub.record_id) or record
        try:
            with self._tx() as con:
                self._decide(con, sub.id, "approved", reason=None, record_id=record.id)
                index.upsert([record])
        except BaseException:
            if sub.status != "approved":
                self._unlist(index, [record.id])
            raise
        return self._require(sub.id), index.get(record.id) or record

    def reject(self, submission_id: str, reason: str, index: "ProjectIndex | None" = None) -> Submission:
        """Decline a submission and make sure it is not searchable, all or nothing.

        With ``index``, a record left over from an interrupted approval is removed in the same
        step; if that removal fails, the submission stays as it was.
        """
        sub = self._require(submission_id)
        if sub.status == "approved":
            raise SubmissionError(
                f"submission {submission_id!r} is already approved as {sub.record_id!r}; delete that project instead")
        leftover = record_id(sub.id)
        with self._tx() as con:
            self._decide(con, sub.id, "rejected", reason=reason, record_id=None)
            if index is not None and index.get(leftover) is not None:
                index.delete([leftover])
        return self._require(sub.id)

    def withdraw_undecided(self, index: "ProjectIndex") -> list[str]:
        """Remove from the index every record whose submission is pending or rejected.

        Run at start-up: it closes the gap a crash between an approval's index write and its
        commit would leave. Returns the ids it removed.
        """
        rows = self._con().execute("SELECT id FROM submissions WHERE status IN ('pending', 'rejected')")
        listed = [rid for (sid,) in rows if index.get(rid := record_id(sid)) is not None]
        if listed:
            index.delete(listed)
            log.warning("withdrew records of submissions that are not approved",
                        extra={"event": "withdraw_undecided", "ids": ",".join(listed)})
        return listed

    @staticmethod
    def _decide(con: "sqlite3.Connection", sid: str, status: str, *, reason: str | None, record_id: str | None) -> None:
        con.execute("UPDATE submissions SET status=?, decided_at=?, reason=?, record_id=? WHERE id=?",
                    (status, utcnow().isoformat(), reason, record_id, sid))

    @staticmethod
    def _unlist(index: "ProjectIndex", ids: list[str]) -> None:
        """Best effort after a failed approval: a record that got in goes out again.

        If even that fails (the disk is still full), the start-up sweep removes it later;
        the failure is logged, and the original error is what the caller sees.
        """
        try:
            listed = [i for i in ids if index.get(i) is not None]
            if listed:
                index.delete(listed)
        except Exception:
            log.exception("could not withdraw a record after a failed approval; it is removed at the next start",
                          extra={"event": "withdraw_failed", "ids": ",".join(ids)})

    def restore(self, submissions: list[Submission]) -> ImportCount:
        """Put back submissions from a backup exactly as they were (same ids and states)."""
        count = ImportCount()
        with self._tx() as con:
            for s in submissions:
                exists = con.execute("SELECT 1 FROM submissions WHERE id=?", (s.id,)).fetchone()
                con.execute(
                    "INSERT OR REPLACE INTO submissions (id, status, data, created_at, decided_at, reason, record_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (s.id, s.status, json.dumps(s.data, ensure_ascii=False), s.created_at.isoformat(),
                     s.decided_at.isoformat() if s.decided_at else None, s.reason, s.record_id))
                if exists:
                    count.replaced += 1
                else:
                    count.added += 1
                count.ids.append(s.id)
        return count

    def _require(self, submission_id: str) -> Submission:
        sub = self.get(submission_id)
        if sub is None:
            raise KeyError(submission_id)
        return sub


def _submission(row: tuple[Any, ...]) -> Submission:
    sid, status, data, created, decided, reason, record_id = row
    return Submission(sid, status, json.loads(data), datetime.fromisoformat(created),
                      datetime.fromisoformat(decided) if decided else None, reason, record_id)
