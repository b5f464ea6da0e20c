"""The moderation queue in PostgreSQL: the queue of a deployment on several machines.

With several API replicas a submission posted to one must be seen, approved or rejected
on any other, so it lives in the shared database beside the records (tables
``submissions`` and ``decisions``, created by PostgreSQL's first migration from the one
schema of moderation/schema.py). The rules are the ones every queue keeps
(moderation/submissions.py: `new_submission`, `revise`); the SQL here is PostgreSQL's own.

SQLite's ``BEGIN IMMEDIATE`` lets one writer at a time read-then-write; here every write
transaction takes a transaction-level advisory lock (``SUBMISSIONS_LOCK``) for the same
effect across processes and machines. Connections come from the store's `Pool`, which
turns psycopg's errors into store errors (store/protocol.py). A submission is a person's
typing that exists nowhere else: a commit here is as durable as PostgreSQL's commits are.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg

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
from erfa.index.store import schema as pgschema
from erfa.index.store.postgres import NUL, Pool, connect, describe
from erfa.ingest.record import utcnow

_COLUMNS = schema.COLUMNS
_HISTORY = "SELECT submission_id, at, who, action, detail FROM decisions"
_UPDATE_ALL = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:])


class PgSubmissionQueue:
    """Pending, approved and rejected submissions and their history in PostgreSQL (thread-safe)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        con = connect(url, vectors=False)
        try:
            pgschema.ensure(con, migrate=migrate)
        finally:
            con.close()
        self._pool = Pool(url)

    def __repr__(self) -> str:
        return f"PgSubmissionQueue({describe(self._pool.url)})"

    def _tx(self) -> AbstractContextManager[psycopg.Connection]:
        """One write at a time on the queue, across every process on this database."""
        return self._pool.transaction(lock=pgschema.SUBMISSIONS_LOCK)

    # -- reads ---------------------------------------------------------------
    # An id holding a NUL byte names no submission (PostgreSQL text cannot hold one and refuses
    # the query): unknown, as SQLite answers, instead of an error. Status tokens are hashed first.
    def get(self, submission_id: str) -> Submission | None:
        if NUL in submission_id:
            return None

        def run(con: psycopg.Connection) -> Submission | None:
            with con.transaction():  # the submission and its history from one snapshot
                con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                row = con.execute(f"SELECT {_COLUMNS} FROM submissions WHERE id = %s", (submission_id,)).fetchone()
                if row is None:
                    return None
                history = con.execute(f"{_HISTORY} WHERE submission_id = %s ORDER BY seq", (submission_id,))
                return Submission(**{**submission_of(row).__dict__, "history": tuple(map(decision_of, history))})

        return self._pool.read(run)

    def by_status_token(self, token: str) -> Submission | None:
        if not token or len(token) > 100:
            return None
        row = self._pool.read(
            lambda con: con.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE status_hash = %s", (token_hash(token),)
            ).fetchone()
        )
        return submission_of(row) if row else None

    def list(self, status: str | None = "pending", *, limit: int = 100, offset: int = 0) -> builtins.list[Submission]:
        def run(con: psycopg.Connection) -> builtins.list[tuple[Any, ...]]:
            if status is None:
                return con.execute(
                    f"SELECT {_COLUMNS} FROM submissions ORDER BY created_at, id LIMIT %s OFFSET %s", (limit, offset)
                ).fetchall()
            return con.execute(
                f"SELECT {_COLUMNS} FROM submissions WHERE status = %s ORDER BY created_at, id LIMIT %s OFFSET %s",
                (status, limit, offset),
            ).fetchall()

        return [submission_of(r) for r in self._pool.read(run)]

    def count(self, status: str | None = "pending") -> int:
        def run(con: psycopg.Connection) -> int:
            if status is None:
                row = con.execute("SELECT count(*) FROM submissions").fetchone()
            else:
                row = con.execute("SELECT count(*) FROM submissions WHERE status = %s", (status,)).fetchone()
            return int(row[0]) if row else 0

        return self._pool.read(run)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict(
            self._pool.read(
                lambda con: con.execute("SELECT status, count(*) FROM submissions GROUP BY status").fetchall()
            )
        )
        return {st: int(found.get(st, 0)) for st in STATUSES}

    def all(self) -> Iterator[Submission]:
        def run(con: psycopg.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            with con.transaction():  # submissions and history from one snapshot
                con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                decided = con.execute(f"{_HISTORY} ORDER BY seq").fetchall()
                subs = con.execute(f"SELECT {_COLUMNS} FROM submissions ORDER BY created_at, id").fetchall()
                return decided, subs

        decided, subs = self._pool.read(run)
        history: dict[str, list[Decision]] = {}
        for row in decided:
            d = decision_of(row)
            history.setdefault(d.submission_id, []).append(d)
        for row in subs:
            sub = submission_of(row)
            yield Submission(**{**sub.__dict__, "history": tuple(history.get(sub.id, ()))})

    def history(self, submission_id: str) -> builtins.list[Decision]:
        if NUL in submission_id:
            return []
        rows = self._pool.read(
            lambda con: con.execute(f"{_HISTORY} WHERE submission_id = %s ORDER BY seq", (submission_id,)).fetchall()
        )
        return [decision_of(r) for r in rows]

    def decisions(self, *, limit: int = 100, offset: int = 0) -> builtins.list[Decision]:
        rows = self._pool.read(
            lambda con: con.execute(f"{_HISTORY} ORDER BY seq DESC LIMIT %s OFFSET %s", (limit, offset)).fetchall()
        )
        return [decision_of(r) for r in rows]

    def undecided(self) -> builtins.list[str]:
        rows = self._pool.read(
            lambda con: con.execute("SELECT id FROM submissions WHERE status IN ('pending', 'rejected')").fetchall()
        )
        return [str(sid) for (sid,) in rows]

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
                "VALUES (%s, 'pending', %s, %s, %s, 0)",
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
            if diff:
                con.execute(
                    "UPDATE submissions SET data = %s, revision = revision + 1 WHERE id = %s",
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
                exists = con.execute("SELECT 1 FROM submissions WHERE id = %s", (s.id,)).fetchone()
                con.execute(
                    f"INSERT INTO submissions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    f"ON CONFLICT (id) DO UPDATE SET {_UPDATE_ALL}",
                    submission_row(s),
                )
                if s.history or not exists:
                    con.execute("DELETE FROM decisions WHERE submission_id = %s", (s.id,))
                    with con.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO decisions (submission_id, at, who, action, detail) "
                            "VALUES (%s, %s, %s, %s, %s)",
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

    def close(self) -> None:
        self._pool.discard_idle()


class _OpenDecision:
    """`OpenDecision` (moderation/queue.py) on a PostgreSQL write transaction."""

    def __init__(self, con: psycopg.Connection, submission: Submission) -> None:
        self._con = con
        self.submission = submission

    def record(
        self, status: str, *, who: str, reason: str | None, record_id: str | None, detail: Mapping[str, Any]
    ) -> None:
        self._con.execute(
            "UPDATE submissions SET status = %s, decided_at = %s, reason = %s, record_id = %s WHERE id = %s",
            (status, utcnow().isoformat(), reason, record_id, self.submission.id),
        )
        _log(self._con, self.submission.id, who, status, detail)


def _locked(con: psycopg.Connection, submission_id: str) -> Submission:
    """The submission as it is now, read inside a write transaction (under the queue's lock)."""
    row = (
        None
        if NUL in submission_id
        else con.execute(f"SELECT {_COLUMNS} FROM submissions WHERE id = %s", (submission_id,)).fetchone()
    )
    if row is None:
        raise KeyError(submission_id)
    return submission_of(row)


def _log(con: psycopg.Connection, sid: str, who: str, action: str, detail: Mapping[str, Any]) -> None:
    con.execute(
        "INSERT INTO decisions (submission_id, at, who, action, detail) VALUES (%s, %s, %s, %s, %s)",
        (sid, utcnow().isoformat(), who, action, json.dumps(dict(detail), ensure_ascii=False)),
    )
