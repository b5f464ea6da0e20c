"""What a record store is: the `RecordStore` protocol that SQLite's `Store` (store/sqlite.py) and
PostgreSQL's (store/postgres.py) implement, and the small types they share.

The store is the source of truth. The saved search structures (FAISS file, space,
keyword index) are a checkpoint of it at some generation. Every record row carries
the generation that last wrote it and every deletion leaves a tombstone, so a process
holding a snapshot at generation g catches up by reading only what changed after g
(`changes_since`): its own writes, another process's, or everything since the last
checkpoint at start-up. A crash between a store write and a checkpoint therefore
costs a catch-up, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from erfa.ingest import Record


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredRecord:
    rowid: int
    record: Record


@dataclass
class UpsertPlan:
    """What an upsert would change, decided before any slow embedding happens."""

    added: list[Record]
    updated: list[Record]
    unchanged: list[Record]


class StoreError(RuntimeError):
    """A store could not do what it was asked, for a reason the caller can name to its user.

    Each store translates its driver's errors into these at its own boundary (SQLite's
    sqlite3 errors in store/sqlite.py, psycopg's in store/postgres.py), so the layers above
    (the engine, the HTTP service, the CLI) answer a full disk or a busy store the same way
    whichever database holds the data, and never import a driver to do so. A driver error
    that is none of these (a bug, a damaged page) is left as it is: it is unexpected."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached right now (a PostgreSQL restart, failover or
    network cut): readers keep serving their last snapshot and report themselves stale."""


class StoreBusy(StoreError):
    """Another writer held the store's lock for longer than this one would wait: nothing was
    written, and the same request a few seconds later will usually go through."""


class StoreFull(StoreError):
    """The disk under the store is full: the write was rolled back, and nothing changes until
    the operator frees space."""


class StoreUnreadable(StoreError):
    """A store file that cannot be opened as a database (damaged, or not erfa's), or that a full
    disk kept from being opened (``full``): the message names the file and what the operator can
    do, so `erfa serve` can say it in one line instead of a traceback."""

    def __init__(self, path: Path, reason: str, *, full: bool) -> None:
        self.path = path
        self.full = full
        if full:
            hint = "the disk is full: free some space and start again"
        else:
            hint = (
                f"move it away (mv {path} {path}.damaged) and restore your latest backup with "
                "`erfa import BACKUP.jsonl` (made by `erfa export`), or start without it"
            )
        super().__init__(f"{path} cannot be opened ({reason}); {hint}")


class RecordStore(Protocol):
    """What the engine needs of a store: the narrow interface a second implementation
    (PostgreSQL, issue 11) provides beside SQLite's `Store`.

    Rows are addressed by ``rowid``, an integer the store assigns, never reuses, and keeps
    across updates (it doubles as the vector slot). ``generation`` counts committed writes;
    every row remembers the generation that last wrote it, every deletion leaves a tombstone,
    so ``changes_since`` lets any reader catch up from the generation it holds.
    """

    # Abilities only a store with a server has, which every store answers (issue 20: no
    # getattr guessing): since when the server has been unreachable (None: reachable, or no
    # server), and waiting until a writer commits (a store without notifications just sleeps).
    unreachable_since: float | None

    def wait_for_change(self, timeout: float) -> None: ...
    def generation(self) -> int: ...
    def count(self) -> int: ...
    def get(self, record_id: str) -> StoredRecord | None: ...
    def all(self) -> Iterator[StoredRecord]: ...
    def read_all(self) -> tuple[int, list[StoredRecord]]: ...
    def changes_since(self, gen: int) -> tuple[int, list[StoredRecord], list[int]]: ...
    def count_changes_since(self, gen: int) -> int: ...
    def ids_of_source(self, source: str) -> set[str]: ...
    def plan(self, records: Iterable[Record]) -> UpsertPlan: ...
    def cached_vectors(self, model_id: str, hashes: Sequence[str], dim: int) -> dict[str, np.ndarray]: ...
    def cache_vectors(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None: ...
    def upsert(self, records: Sequence[Record]) -> tuple[int, dict[str, int]]: ...
    def delete(self, record_ids: Sequence[str]) -> tuple[int, dict[str, int]]: ...
    def writing(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


def _stored(row: tuple[int, str]) -> StoredRecord:
    return StoredRecord(int(row[0]), Record.stored(json.loads(row[1])))
