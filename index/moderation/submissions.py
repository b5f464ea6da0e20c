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

Moderation leaves a trail (issue 12): every submission, edit, approval and rejection
is a row in ``decisions`` (who, when, what changed), written in the same transaction
as the change itself, so the history can never disagree with the state. A moderator
may correct a pending submission before deciding; each edit bumps ``revision``, and a
decision taken on a page that showed an older revision is refused rather than
publishing text the moderator never saw.

The submitter follows their submission with a private status link. Only a SHA-256 of
its token is stored, so the database (or a backup) leaks no working links, and the
token is 192 random bits, so it cannot be guessed. A functional contact (a team
mailbox or a role) is stored as given but reaches the public record only when the
submitter ticked the consent box (``contact_consent``).
"""

from __future__ import annotations

import builtins  # SubmissionStore.list shadows the builtin inside the class
import json
import logging
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erfa.index.store.protocol import text_hash
from erfa.index.store.sqlite import SqliteFile
from erfa.ingest.record import Record, RecordError, make_id, utcnow

if TYPE_CHECKING:
    import sqlite3

    from erfa.index.engine import ProjectIndex

log = logging.getLogger("erfa.submissions")

SOURCE = "submission"  # the Record.source of every approved submission
STATUSES = ("pending", "approved", "rejected")
# Fields a member of the public may propose; everything else (language, tags,
# owner type) is derived or left to the moderator's later edits.
FIELDS = (
    "title",
    "description",
    "purpose",
    "organisation",
    "country",
    "municipality",
    "sector",
    "status",
    "start_year",
    "end_year",
    "link",
    "website",
    "contact",
)
CONSENT = "contact_consent"  # the submitter agreed to publish `contact`; stored, never on the record
FORM_FIELDS = (*FIELDS, CONSENT)
ACTIONS = ("submitted", "edited", "approved", "rejected")

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
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id TEXT NOT NULL,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('submitted', 'edited', 'approved', 'rejected')),
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS decisions_submission ON decisions(submission_id, seq);
"""
# Columns added after the first release: (name, definition) for ALTER TABLE on an older file.
_ADDED_COLUMNS = (("status_hash", "TEXT"), ("revision", "INTEGER NOT NULL DEFAULT 0"))
_COLUMNS = "id, status, data, created_at, decided_at, reason, record_id, status_hash, revision"


class SubmissionError(ValueError):
    """A state change that is not allowed (e.g. approving a rejected submission)."""


class StaleSubmission(SubmissionError):
    """The submission changed since the moderator loaded it; deciding now would publish unseen text."""


def token_hash(token: str) -> str:
    """What is stored of a status token: enough to find the submission, useless as a link."""
    return text_hash(token)


@dataclass(frozen=True)
class Decision:
    """One line of a submission's history: who did what, when (``detail``: the edit's changes, the reason)."""

    submission_id: str
    at: datetime
    who: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "at": self.at.isoformat(),
            "who": self.who,
            "action": self.action,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Decision:
        action = obj.get("action")
        if action not in ACTIONS:
            raise ValueError(f"history action {action!r} must be one of {', '.join(ACTIONS)}")
        detail = obj.get("detail") or {}
        if not isinstance(detail, dict):
            raise ValueError("history detail must be an object")
        return cls(
            str(obj.get("submission_id") or ""),
            datetime.fromisoformat(str(obj["at"])),
            str(obj.get("who") or "admin"),
            action,
            dict(detail),
        )


@dataclass(frozen=True)
class Submission:
    id: str
    status: str
    data: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None = None
    record_id: str | None = None
    status_hash: str | None = None  # SHA-256 of the private status token (None: made before status links)
    revision: int = 0  # bumped by every edit; a decision names the revision it saw
    history: tuple[Decision, ...] = ()  # filled by get() and all(), not by list()
    # The status token itself: only on the object add() returns, never stored or exported.
    status_token: str | None = field(default=None, compare=False, repr=False)

    @property
    def contact_consent(self) -> bool:
        return self.data.get(CONSENT) is True

    def to_json(self) -> dict[str, Any]:
        """The exchange form used by backups (the API picks its fields from it)."""
        return {
            "id": self.id,
            "status": self.status,
            "data": self.data,
            "created_at": self.created_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason,
            "record_id": self.record_id,
            "status_hash": self.status_hash,
            "revision": self.revision,
            "history": [d.to_json() for d in self.history],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Submission:
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
        status_hash = obj.get("status_hash")
        if status_hash is not None and not (isinstance(status_hash, str) and len(status_hash) == 64):
            raise ValueError("status_hash must be a SHA-256 hex digest")
        history = obj.get("history") or []
        if not isinstance(history, list):
            raise ValueError("history must be a list")
        return cls(
            id=sid,
            status=status,
            data=dict(data),
            created_at=datetime.fromisoformat(str(obj["created_at"])),
            decided_at=datetime.fromisoformat(str(decided)) if decided else None,
            reason=obj.get("reason"),
            record_id=obj.get("record_id"),
            status_hash=status_hash,
            revision=int(obj.get("revision") or 0),
            history=tuple(Decision.from_json({**d, "submission_id": sid}) for d in history),
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
    if data.get(CONSENT) is not True:  # a contact nobody agreed to publish stays with the moderators
        row.pop("contact", None)
    read = read_items([{**row, "source": SOURCE, "source_id": submission_id}], file="submission")
    if read.rejected:
        raise RecordError(read.rejected[0].reason)
    if not read.records:  # the adapter skips only comment lines
        raise RecordError("the submission holds no project")
    return read.records[0]


def check(submission_id: str, data: Mapping[str, Any]) -> Record:
    """Raise RecordError unless ``data`` could be approved, its contact included (consent or not)."""
    return to_record(submission_id, {**data, CONSENT: True})


def clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a submission keeps: known ones with a value; consent only when given."""
    out = {k: data[k] for k in FIELDS if data.get(k) not in (None, "")}
    if data.get(CONSENT) is True and out.get("contact"):
        out[CONSENT] = True
    return out


class SubmissionStore(SqliteFile):
    """Pending, approved and rejected submissions and their history in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA, synchronous="FULL")
        self._migrate()

    @classmethod
    def in_home(cls, home: Path) -> SubmissionStore:
        return cls(Path(home) / "submissions.sqlite")

    def _migrate(self) -> None:
        """Add the columns a file from an older erfa lacks (its submissions keep working: no status link)."""
        with self._tx() as con:
            have = {row[1] for row in con.execute("PRAGMA table_info(submissions)")}
            for name, definition in _ADDED_COLUMNS:
                if name not in have:
                    con.execute(f"ALTER TABLE submissions ADD COLUMN {name} {definition}")
            con.execute("CREATE UNIQUE INDEX IF NOT EXISTS submissions_status_hash ON submissions(status_hash)")

    # -- reads ---------------------------------------------------------------
    def get(self, submission_id: str) -> Submission | None:
        row = self._con().execute(f"SELECT {_COLUMNS} FROM submissions WHERE id=?", (submission_id,)).fetchone()
        return self._with_history(_submission(row)) if row else None

    def by_status_token(self, token: str) -> Submission | None:
        """The submission a private status link points to, or None (also for any malformed token)."""
        if not token or len(token) > 100:
            return None
        row = (
            self._con()
            .execute(f"SELECT {_COLUMNS} FROM submissions WHERE status_hash=?", (token_hash(token),))
            .fetchone()
        )
        return _submission(row) if row else None

    def list(self, status: str | None = "pending", *, limit: int = 100, offset: int = 0) -> list[Submission]:
        if status is None:
            rows = self._con().execute(
                f"SELECT {_COLUMNS} FROM submissions ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset)
            )
        else:
            rows = self._con().execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE status=? ORDER BY created_at, id LIMIT ? OFFSET ?",
                (status, limit, offset),
            )
        return [_submission(r) for r in rows]

    def count(self, status: str | None = "pending") -> int:
        if status is None:
            return int(self._con().execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
        return int(self._con().execute("SELECT COUNT(*) FROM submissions WHERE status=?", (status,)).fetchone()[0])

    def counts(self) -> dict[str, int]:
        """Submissions per status (every status present, 0 when none), for the moderation queue."""
        found = dict(self._con().execute("SELECT status, COUNT(*) FROM submissions GROUP BY status").fetchall())
        return {st: int(found.get(st, 0)) for st in STATUSES}

    def all(self) -> Iterator[Submission]:
        history: dict[str, list[Decision]] = {}
        for d in self._decisions("SELECT submission_id, at, who, action, detail FROM decisions ORDER BY seq"):
            history.setdefault(d.submission_id, []).append(d)
        for row in self._con().execute(f"SELECT {_COLUMNS} FROM submissions ORDER BY created_at, id"):
            sub = _submission(row)
            yield Submission(**{**sub.__dict__, "history": tuple(history.get(sub.id, ()))})

    def history(self, submission_id: str) -> builtins.list[Decision]:
        """What happened to one submission, oldest first."""
        return list(
            self._decisions(
                "SELECT submission_id, at, who, action, detail FROM decisions WHERE submission_id=? ORDER BY seq",
                (submission_id,),
            )
        )

    def decisions(self, *, limit: int = 100, offset: int = 0) -> builtins.list[Decision]:
        """The moderation log across all submissions, newest first."""
        return list(
            self._decisions(
                "SELECT submission_id, at, who, action, detail FROM decisions ORDER BY seq DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
        )

    def _decisions(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[Decision]:
        for sid, at, who, action, detail in self._con().execute(sql, params):
            yield Decision(sid, datetime.fromisoformat(at), who, action, json.loads(detail or "{}"))

    def _with_history(self, sub: Submission) -> Submission:
        return Submission(**{**sub.__dict__, "history": tuple(self.history(sub.id))})

    # -- writes --------------------------------------------------------------
    def add(self, data: Mapping[str, Any]) -> Submission:
        """Store a proposal as pending; raises RecordError when it could never become a record.

        The returned submission carries ``status_token``, the secret of its status link:
        shown to the submitter once, stored only as a hash.
        """
        kept = clean(data)
        sid = "s" + secrets.token_hex(8)  # unguessable, so ids reveal nothing about volume or order
        check(sid, kept)  # validate now: a moderator should never face an unapprovable item
        token = secrets.token_urlsafe(24)
        sub = Submission(sid, "pending", kept, utcnow(), status_hash=token_hash(token), status_token=token)
        with self._tx() as con:
            con.execute(
                "INSERT INTO submissions (id, status, data, created_at, status_hash, revision) "
                "VALUES (?, 'pending', ?, ?, ?, 0)",
                (sid, json.dumps(kept, ensure_ascii=False), sub.created_at.isoformat(), sub.status_hash),
            )
            self._log(con, sid, "submitter", "submitted", {})
        return sub

    def edit(
        self,
        submission_id: str,
        changes: Mapping[str, Any],
        *,
        who: str = "admin",
        expected_revision: int | None = None,
    ) -> Submission:
        """Correct a pending submission before it is decided (a typo, a missing country).

        ``changes`` maps fields to new values (None or "" clears one). The result must still
        be approvable (RecordError otherwise), and the history records each field's old and
        new value. Nothing changed means nothing is written.
        """
        unknown = sorted(set(changes) - set(FORM_FIELDS))
        if unknown:
            raise RecordError(f"unknown field {unknown[0]!r}; a submission has {', '.join(FORM_FIELDS)}")
        with self._tx() as con:
            sub = self._locked(con, submission_id)
            if sub.status != "pending":
                raise SubmissionError(f"submission {submission_id!r} is {sub.status}; only a pending one can be edited")
            self._same_revision(sub, expected_revision)
            merged = {**sub.data, **changes}
            if CONSENT in changes and changes[CONSENT] is not True:
                merged.pop(CONSENT, None)
            new = clean(merged)
            check(sub.id, new)
            diff = {k: [sub.data.get(k), new.get(k)] for k in FORM_FIELDS if sub.data.get(k) != new.get(k)}
            if not diff:
                return self._with_history(sub)
            con.execute(
                "UPDATE submissions SET data=?, revision=revision+1 WHERE id=?",
                (json.dumps(new, ensure_ascii=False), sub.id),
            )
            self._log(con, sub.id, who, "edited", {"changes": diff})
        return self._require(sub.id)

    def approve(
        self, submission_id: str, index: ProjectIndex, *, who: str = "admin", expected_revision: int | None = None
    ) -> tuple[Submission, Record]:
        """Make a pending submission searchable, all or nothing (see the module docstring).

        Raises whatever the index or the disk raised, after undoing the index change: the
        submission is then still pending (or approved, if it already was) and not searchable.
        The record is built from the submission as read under the write lock, so an edit
        saved a moment earlier is what gets published, never an older text.
        """
        sub = self._require(submission_id)
        if sub.status == "rejected":
            raise SubmissionError(f"submission {submission_id!r} was rejected; it cannot be approved")
        if sub.status == "approved" and sub.record_id and index.get(sub.record_id) is not None:
            return sub, index.get(sub.record_id) or to_record(sub.id, sub.data)
        try:
            with self._tx() as con:
                current = self._locked(con, submission_id)
                if current.status == "rejected":
                    raise SubmissionError(f"submission {submission_id!r} was rejected; it cannot be approved")
                self._same_revision(current, expected_revision)
                record = to_record(current.id, current.data)
                self._decide(con, current.id, "approved", reason=None, record_id=record.id)
                self._log(con, current.id, who, "approved", {"record_id": record.id})
                if refused := index.upsert([record]).refused:  # rolls the decision back with the reason
                    raise SubmissionError(f"submission {submission_id!r} cannot be approved: {refused[record.id]}")
        except BaseException:
            if sub.status != "approved":
                self._unlist(index, [record_id(sub.id)])
            raise
        return self._require(sub.id), index.get(record.id) or record

    def reject(
        self,
        submission_id: str,
        reason: str,
        index: ProjectIndex | None = None,
        *,
        who: str = "admin",
        expected_revision: int | None = None,
    ) -> Submission:
        """Decline a submission and make sure it is not searchable, all or nothing.

        With ``index``, a record left over from an interrupted approval is removed in the same
        step; if that removal fails, the submission stays as it was. The reason is shown to
        the submitter on their status page.
        """
        sub = self._require(submission_id)
        if sub.status == "approved":
            raise SubmissionError(
                f"submission {submission_id!r} is already approved as {sub.record_id!r}; delete that project instead"
            )
        leftover = record_id(sub.id)
        with self._tx() as con:
            current = self._locked(con, submission_id)
            if current.status == "approved":
                raise SubmissionError(f"submission {submission_id!r} is already approved as {current.record_id!r}")
            self._same_revision(current, expected_revision)
            self._decide(con, sub.id, "rejected", reason=reason, record_id=None)
            self._log(con, sub.id, who, "rejected", {"reason": reason})
            if index is not None and index.get(leftover) is not None:
                index.delete([leftover])
        return self._require(sub.id)

    def withdraw_undecided(self, index: ProjectIndex) -> builtins.list[str]:
        """Remove from the index every record whose submission is pending or rejected.

        Run at start-up: it closes the gap a crash between an approval's index write and its
        commit would leave. Returns the ids it removed.
        """
        rows = self._con().execute("SELECT id FROM submissions WHERE status IN ('pending', 'rejected')")
        listed = [rid for (sid,) in rows if index.get(rid := record_id(sid)) is not None]
        if listed:
            index.delete(listed)
            log.warning(
                "withdrew records of submissions that are not approved",
                extra={"event": "withdraw_undecided", "ids": ",".join(listed)},
            )
        return listed

    @staticmethod
    def _locked(con: sqlite3.Connection, submission_id: str) -> Submission:
        """The submission as it is now, read inside a write transaction (so nobody changes it meanwhile)."""
        row = con.execute(f"SELECT {_COLUMNS} FROM submissions WHERE id=?", (submission_id,)).fetchone()
        if row is None:
            raise KeyError(submission_id)
        return _submission(row)

    @staticmethod
    def _same_revision(sub: Submission, expected: int | None) -> None:
        if expected is not None and sub.revision != expected:
            raise StaleSubmission(
                f"submission {sub.id!r} was changed since it was loaded "
                f"(revision {sub.revision}, not {expected}); reload it and decide again"
            )

    @staticmethod
    def _log(con: sqlite3.Connection, sid: str, who: str, action: str, detail: Mapping[str, Any]) -> None:
        con.execute(
            "INSERT INTO decisions (submission_id, at, who, action, detail) VALUES (?, ?, ?, ?, ?)",
            (sid, utcnow().isoformat(), who, action, json.dumps(dict(detail), ensure_ascii=False)),
        )

    @staticmethod
    def _decide(con: sqlite3.Connection, sid: str, status: str, *, reason: str | None, record_id: str | None) -> None:
        con.execute(
            "UPDATE submissions SET status=?, decided_at=?, reason=?, record_id=? WHERE id=?",
            (status, utcnow().isoformat(), reason, record_id, sid),
        )

    @staticmethod
    def _unlist(index: ProjectIndex, ids: builtins.list[str]) -> None:
        """Best effort after a failed approval: a record that got in goes out again.

        If even that fails (the disk is still full), the start-up sweep removes it later;
        the failure is logged, and the original error is what the caller sees.
        """
        try:
            listed = [i for i in ids if index.get(i) is not None]
            if listed:
                index.delete(listed)
        except Exception:
            log.exception(
                "could not withdraw a record after a failed approval; it is removed at the next start",
                extra={"event": "withdraw_failed", "ids": ",".join(ids)},
            )

    def restore(self, submissions: builtins.list[Submission]) -> ImportCount:
        """Put back submissions from a backup exactly as they were (same ids, states, status links and history)."""
        count = ImportCount()
        with self._tx() as con:
            for s in submissions:
                exists = con.execute("SELECT 1 FROM submissions WHERE id=?", (s.id,)).fetchone()
                con.execute(
                    f"INSERT OR REPLACE INTO submissions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        s.id,
                        s.status,
                        json.dumps(s.data, ensure_ascii=False),
                        s.created_at.isoformat(),
                        s.decided_at.isoformat() if s.decided_at else None,
                        s.reason,
                        s.record_id,
                        s.status_hash,
                        s.revision,
                    ),
                )
                if s.history or not exists:
                    con.execute("DELETE FROM decisions WHERE submission_id=?", (s.id,))
                    for d in s.history:
                        con.execute(
                            "INSERT INTO decisions (submission_id, at, who, action, detail) VALUES (?, ?, ?, ?, ?)",
                            (s.id, d.at.isoformat(), d.who, d.action, json.dumps(d.detail, ensure_ascii=False)),
                        )
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
    sid, status, data, created, decided, reason, record_id, status_hash, revision = row
    return Submission(
        sid,
        status,
        json.loads(data),
        datetime.fromisoformat(created),
        datetime.fromisoformat(decided) if decided else None,
        reason,
        record_id,
        status_hash,
        int(revision or 0),
    )
