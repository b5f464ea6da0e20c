"""One SQLite file shared by threads: the connection and transaction rules both stores use.

SQLite connections must not cross threads, and FastAPI serves requests from a
thread pool, so each thread gets its own connection. WAL mode lets readers keep
reading the last committed state while one writer commits; ``BEGIN IMMEDIATE``
takes the write lock up front, so two writers queue instead of failing half-way.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SqliteFile:
    """Base of erfa's stores: creates ``schema`` once, then hands out per-thread connections.

    ``synchronous`` is NORMAL for data that can be rebuilt or re-ingested and FULL for
    data that exists nowhere else (a person's submission): with FULL a commit has reached
    the disk even across a power cut.
    """

    def __init__(self, path: Path, schema: str, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._local = threading.local()
        self._con().executescript(f"BEGIN IMMEDIATE;{schema}COMMIT;")

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA synchronous={self._synchronous}")
            self._local.con = con
        return con

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their threads end)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
