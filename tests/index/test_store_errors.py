"""Store errors stay in the store layer (issue 20): each store turns its driver's errors into
the store errors of index/store/protocol.py, and the HTTP layer answers those alone."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.index.store.postgres import store_error
from erfa.index.store.protocol import StoreBusy, StoreError, StoreFull, StoreUnavailable
from erfa.index.store.sqlite import Store
from erfa.ingest import Record
from tests._ops import AUTH

PROJECT = {"source": "t", "source_id": "9", "title": "Ny", "organisation": "Etat"}


def test_a_write_lock_held_past_the_timeout_is_store_busy(tmp_path: Path) -> None:
    store = Store(tmp_path / "erfa.sqlite")
    store._con().execute("PRAGMA busy_timeout=50")  # this thread's connection: wait 50 ms, not 30 s
    other = sqlite3.connect(tmp_path / "erfa.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's writer
    try:
        with pytest.raises(StoreBusy, match=r"erfa\.sqlite") as caught:
            store.upsert([Record.build("t", "1", title="Vann")])
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.upsert([Record.build("t", "1", title="Vann")])[1]  # free again: the write goes through
    store.close()


def test_a_full_database_is_store_full_and_nothing_is_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "erfa.sqlite")
    pages = store._con().execute("PRAGMA page_count").fetchone()[0]
    store._con().execute(f"PRAGMA max_page_count={pages}")  # SQLite's own SQLITE_FULL, as on a full disk
    with pytest.raises(StoreFull):
        store.upsert([Record.build("t", "1", title="Lang tekst", description="x" * 100_000)])
    assert store.count() == 0 and store.generation() == 0
    store.close()


def test_any_other_sqlite_error_is_a_plain_store_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "erfa.sqlite")
    with pytest.raises(StoreError) as caught:
        store._con().execute("SELECT * FROM nowhere")
    assert type(caught.value) is StoreError and "no such table" in str(caught.value)
    store.close()


@pytest.mark.parametrize(
    "error, kind",
    [
        (psycopg.errors.DiskFull("could not extend file"), StoreFull),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), StoreBusy),
        (psycopg.OperationalError("server closed the connection unexpectedly"), StoreUnavailable),
        (psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"), StoreUnavailable),
        (psycopg.errors.DataError("invalid byte sequence"), StoreError),
    ],
)
def test_postgresql_errors_become_store_errors_without_the_password(error: psycopg.Error, kind: type) -> None:
    got = store_error(error, "postgresql://erfa:secret@db.example:5432/erfa")
    assert type(got) is kind
    assert "secret" not in str(got) and "db.example" in str(got) and str(error) in str(got)


def test_a_busy_store_gets_503_with_retry_after_and_a_full_one_507(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = app_for()
    idx: ProjectIndex = c.app.state.erfa.index  # type: ignore[attr-defined]
    with monkeypatch.context() as m:
        m.setattr(idx, "upsert", lambda records, **kw: (_ for _ in ()).throw(StoreBusy("erfa.sqlite: locked")))
        r = c.post("/projects", json=PROJECT, headers=AUTH)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5", r.text
    assert "busy" in r.json()["detail"] and r.json()["request_id"]
    with monkeypatch.context() as m:
        m.setattr(idx, "upsert", lambda records, **kw: (_ for _ in ()).throw(StoreFull("erfa.sqlite: full")))
        r = c.post("/projects", json=PROJECT, headers=AUTH)
    assert r.status_code == 507 and r.headers["Retry-After"] == "3600" and "disk is full" in r.json()["detail"]
    with monkeypatch.context() as m:
        m.setattr(idx, "upsert", lambda records, **kw: (_ for _ in ()).throw(StoreError("erfa.sqlite: malformed")))
        r = c.post("/projects", json=PROJECT, headers=AUTH)
    assert r.status_code == 500 and "malformed" not in r.text  # unexpected: the detail stays in the log
    assert c.post("/projects", json=PROJECT, headers=AUTH).status_code == 200
