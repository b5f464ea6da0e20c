"""The moderation queue in SQLite: ``submissions.sqlite`` beside the registry (one machine).

Durability: WAL mode with ``synchronous=FULL``, because a proposal is a person's typing
that exists nowhere else; a 201 must mean "on disk", even across a power cut. Every write
runs in a ``BEGIN IMMEDIATE`` transaction (store/sqlite.py's `SqliteFile`), so one writer
at a time reads a submission and changes it, across threads and processes.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from erfa.index.moderation import schema
from erfa.index.moderation.submissions import (
    STATUSES,
    Decision,
    ImportCount,
    Submission,
    check_changes,
    decision_of,
    new_submission,
    revise,
    submission_of,
    submission_row,
    token_hash,
)
from erfa.index.store.sqlite import SqliteFile
from erfa.ingest.record import utcnow

_COLUMNS = schema.COLUMNS
_HISTORY = "SELECT submission_id, at, who, action, detail FROM decisions"


class SqliteSubmissionQueue(SqliteFile):
    """Pending, approved and rejected submissions and their history in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, schema.ddl("sqlite"), synchronous="FULL")
        self._migrate()

    @classmethod
    def in_home(cls, home: Path) -> SqliteSubmissionQueue:
        return cls(Path(home) / "submissions.sqlite")

    def _migrate(self) -> None:
        """Add the columns a file from an older erfa lacks (its submissions keep working: no status link)."""
        with self._tx() as con:
            have = {row[1] for row in con.execute("PRAGMA table_info(submissions)")}
            for name, definition in schema.SQLITE_ADDED_COLUMNS:
                if name not in have:
                    con.execute(f"ALTER TABLE submissions ADD COLUMN {name} {definition}")
            con.execute(schema.SQLITE_STATUS_HASH_INDEX)

    # -- reads ---------------------------------------------------------------
    def get(self, submission_id: str) -> Submission | None:
        row = self._con().execute(f"SELECT {_COLUMNS} FROM submissions WHERE id=?", (submission_id,)).fetchone()
        return self._with_history(submission_of(row)) if row else None

    def by_status_token(self, token: str) -> Submission | None:
        if not token or len(token) > 100:
            return None
        row = (
            self._con()
            .execute(f"SELECT {_COLUMNS} FROM submissions WHERE status_hash=?", (token_hash(token),))
            .fetchone()
        )
        return submission_of(row) if row else None

    def list(self, status: str | None = "pending", *, limit: int = 100, offset: int = 0) -> builtins.list[Submission]:
        if status is None:
            rows = self._con().execute(
                f"SELECT {_COLUMNS} FROM submissions ORDER BY created_at, id LIMIT ? OFFSET ?", (limit, offset)
            )
        else:
            rows = self._con().execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE status=? ORDER BY created_at, id LIMIT ? OFFSET ?",
                (status, limit, offset),
            )
        return [submission_of(r) for r in rows]

    def count(self, status: str | None = "pending") -> int:
        if status is None:
            return int(self._con().execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
        return int(self._con().execute("SELECT COUNT(*) FROM submissions WHERE status=?", (status,)).fetchone()[0])

    def counts(self) -> dict[str, int]:
        found = dict(self._con().execute("SELECT status, COUNT(*) FROM submissions GROUP BY status").fetchall())
        return {st: int(found.get(st, 0)) for st in STATUSES}

    def all(self) -> Iterator[Submission]:
        history: dict[str, list[Decision]] = {}
        for row in self._con().execute(f"{_HISTORY} ORDER BY seq"):
            d = decision_of(row)
            history.setdefault(d.submission_id, []).append(d)
        for row in self._con().execute(f"SELECT {_COLUMNS} FROM submissions ORDER BY created_at, id"):
            sub = submission_of(row)
            yield Submission(**{**sub.__dict__, "history": tuple(history.get(sub.id, ()))})

    def history(self, submission_id: str) -> builtins.list[Decision]:
        rows = self._con().execute(f"{_HISTORY} WHERE submission_id=? ORDER BY seq", (submission_id,))
        return [decision_of(r) for r in rows]

    def decisions(self, *, limit: int = 100, offset: int = 0) -> builtins.list[Decision]:
        rows = self._con().execute(f"{_HISTORY} ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset))
        return [decision_of(r) for r in rows]

    def undecided(self) -> builtins.list[str]:
        return [
            sid for (sid,) in self._con().execute("SELECT id FROM submissions WHERE status IN ('pending', 'rejected')")
        ]

    def _with_history(self, sub: Submission) -> Submission:
        return Submission(**{**sub.__dict__, "history": tuple(self.history(sub.id))})

    def _require(self, submission_id: str) -> Submission:
        sub = self.get(submission_id)
        if sub is None:
            raise KeyError(submission_id)
        return sub

    # -- writes --------------------------------------------------------------
    def add(self, data: Mapping[str, Any]) -> Submission:
        sub = new_submission(data)
        with self._tx() as con:
            con.execute(
                "INSERT INTO submissions (id, status, data, created_at, status_hash, revision) "
                "VALUES (?, 'pending', ?, ?, ?, 0)",
                (sub.id, json.dumps(sub.data, ensure_ascii=False), sub.created_at.isoformat(), sub.status_hash),
            )
            _log(con, sub.id, "submitter", "submitted", {})
        return sub

    def edit(
        self,
        submission_id: str,
        changes: Mapping[str, Any],
        *,
        who: str = "admin",
        expected_revision: int | None = None,
    ) -> Submission:
        check_changes(changes)
        with self._tx() as con:
            sub = _locked(con, submission_id)
            new, diff = revise(sub, changes, expected_revision)
            if not diff:
                return self._with_history(sub)
            con.execute(
                "UPDATE submissions SET data=?, revision=revision+1 WHERE id=?",
                (json.dumps(new, ensure_ascii=False), sub.id),
            )
            _log(con, sub.id, who, "edited", {"changes": diff})
        return self._require(sub.id)

    @contextmanager
    def deciding(self, submission_id: str) -> Iterator[_OpenDecision]:
        with self._tx() as con:
            yield _OpenDecision(con, _locked(con, submission_id))

    def restore(self, submissions: builtins.list[Submission]) -> ImportCount:
        count = ImportCount()
        with self._tx() as con:
            for s in submissions:
                exists = con.execute("SELECT 1 FROM submissions WHERE id=?", (s.id,)).fetchone()
                con.execute(
                    f"INSERT OR REPLACE INTO submissions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    submission_row(s),
                )
                if s.history or not exists:
                    con.execute("DELETE FROM decisions WHERE submission_id=?", (s.id,))
                    con.executemany(
                        "INSERT INTO decisions (submission_id, at, who, action, detail) VALUES (?, ?, ?, ?, ?)",
                        [
                            (s.id, d.at.isoformat(), d.who, d.action, json.dumps(d.detail, ensure_ascii=False))
                            for d in s.history
                        ],
                    )
                if exists:
                    count.replaced += 1
                else:
                    count.added += 1
                count.ids.append(s.id)
        return count


class _OpenDecision:
    """`OpenDecision` (moderation/queue.py) on a SQLite write transaction."""

    def __init__(self, con: sqlite3.Connection, submission: Submission) -> None:
        self._con = con
        self.submission = submission

    def record(
        self, status: str, *, who: str, reason: str | None, record_id: str | None, detail: Mapping[str, Any]
    ) -> None:
        self._con.execute(
            "UPDATE submissions SET status=?, decided_at=?, reason=?, record_id=? WHERE id=?",
            (status, utcnow().isoformat(), reason, record_id, self.submission.id),
        )
        _log(self._con, self.submission.id, who, status, detail)


def _locked(con: sqlite3.Connection, submission_id: str) -> Submission:
    """The submission as it is now, read inside a write transaction (so nobody changes it meanwhile)."""
    row = con.execute(f"SELECT {_COLUMNS} FROM submissions WHERE id=?", (submission_id,)).fetchone()
    if row is None:
        raise KeyError(submission_id)
    return submission_of(row)


def _log(con: sqlite3.Connection, sid: str, who: str, action: str, detail: Mapping[str, Any]) -> None:
    con.execute(
        "INSERT INTO decisions (submission_id, at, who, action, detail) VALUES (?, ?, ?, ?, ?)",
        (sid, utcnow().isoformat(), who, action, json.dumps(dict(detail), ensure_ascii=False)),
    )
