"""The moderation queue in PostgreSQL: `SubmissionStore`'s rules, another database.

With several API replicas a submission posted to one must be seen, approved or
rejected on any other, so it lives in the shared database beside the records
(table ``submissions``, created by index/store/schema.py with SQLite's columns).

The moderation logic (all-or-nothing approve and reject, edits, the decision log, the
start-up sweep of undecided records, restore) is `SubmissionStore`'s own, inherited, not
copied, so the two stores cannot drift apart: its SQL is plain standard SQL with sqlite3's
``?`` placeholders, so this class hands it connections whose ``execute`` speaks that
dialect (`_Qmark`), rewriting the one statement SQLite writes its own way
(``INSERT OR REPLACE``, keyed on its first column). SQLite's ``BEGIN IMMEDIATE`` lets one
writer at a time read-then-write; here every write transaction takes a transaction-level
advisory lock for the same effect across processes. A submission is a person's typing
that exists nowhere else: a commit here is as durable as PostgreSQL's commits are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from erfa.index.moderation.submissions import Submission, SubmissionStore
from erfa.index.store import schema as pgschema
from erfa.index.store.postgres import _UNAVAILABLE, NUL, _Pool, connect, describe
from erfa.index.store.protocol import StoreUnavailable


class _Rows(list[tuple[Any, ...]]):
    """A query's rows, read at once, with the cursor methods sqlite3 callers use."""

    def fetchone(self) -> tuple[Any, ...] | None:
        return self[0] if self else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self)


class _Qmark:
    """sqlite3's ``execute(sql, params)`` with ``?`` placeholders, on a psycopg connection
    (or, with none given, on one borrowed from the pool for that statement)."""

    def __init__(self, pool: _Pool, con: psycopg.Connection | None = None) -> None:
        self._pool = pool
        self._con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        sql = _upsert(sql)
        if params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        if self._con is not None:
            return _fetch(self._con, sql, params)
        try:
            with self._pool.borrow() as con:
                return _fetch(con, sql, params)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"{describe(self._pool.url)}: {str(exc).strip()}") from exc


_REPLACE = re.compile(r"\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)(.*)", re.S)


def _upsert(sql: str) -> str:
    """SQLite's ``INSERT OR REPLACE INTO t (key, a, b) VALUES ...`` as PostgreSQL's
    ``INSERT ... ON CONFLICT (key) DO UPDATE``; any other statement unchanged."""
    m = _REPLACE.match(sql)
    if not m:
        return sql
    table, columns, rest = m.groups()
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    return f"INSERT INTO {table} ({columns}){rest} ON CONFLICT ({names[0]}) DO UPDATE SET {updates}"


def _fetch(con: psycopg.Connection, sql: str, params: Sequence[Any]) -> _Rows:
    cur = con.execute(sql, list(params) or None)
    return _Rows(cur.fetchall() if cur.description else [])


class PgSubmissionStore(SubmissionStore):
    """Pending, approved and rejected submissions in PostgreSQL (thread-safe)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:  # no SQLite file: SqliteFile.__init__ is skipped
        con = connect(url, vectors=False)
        try:
            pgschema.ensure(con, migrate=migrate)
        finally:
            con.close()
        self._pool = _Pool(url)

    def __repr__(self) -> str:
        return f"PgSubmissionStore({describe(self._pool.url)})"

    def _con(self) -> _Qmark:  # type: ignore[override]
        return _Qmark(self._pool)

    @contextmanager
    def _tx(self) -> Iterator[_Qmark]:  # type: ignore[override]
        try:
            with self._pool.borrow() as con, con.transaction():
                con.execute("SELECT pg_advisory_xact_lock(%s)", (pgschema.SUBMISSIONS_LOCK,))
                yield _Qmark(self._pool, con)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"{describe(self._pool.url)}: {str(exc).strip()}") from exc

    # An id holding a NUL byte names no submission (PostgreSQL text cannot hold one and refuses
    # the query): unknown, as SQLite answers, instead of a DataError. Status tokens are hashed first.
    def get(self, submission_id: str) -> Submission | None:
        return None if NUL in submission_id else super().get(submission_id)

    @staticmethod
    def _locked(con: Any, submission_id: str) -> Submission:
        if NUL in submission_id:
            raise KeyError(submission_id)
        return SubmissionStore._locked(con, submission_id)

    def close(self) -> None:
        self._pool.discard_idle()
