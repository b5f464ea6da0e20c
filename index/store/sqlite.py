"""One SQLite file shared by threads: the connection and transaction rules both stores use.

SQLite connections must not cross threads, and FastAPI serves requests from a
thread pool, so each thread gets its own connection. WAL mode lets readers keep
reading the last committed state while one writer commits; ``BEGIN IMMEDIATE``
takes the write lock up front, so two writers queue instead of failing half-way.
"""
from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StoreUnreadable(RuntimeError):
    """A store file SQLite cannot open as a database (damaged, or not erfa's), or a disk too
    full to open it: the message names the file and what the operator can do, so
    `erfa serve` can say it in one line instead of a traceback."""

    def __init__(self, path: Path, exc: sqlite3.DatabaseError) -> None:
        self.path = path
        if is_disk_full(exc):
            hint = "the disk is full: free some space and start again"
        else:
            hint = (f"move it away (mv {path} {path}.damaged) and restore your latest backup with "
                    "`erfa import BACKUP.jsonl` (made by `erfa export`), or start without it")
        super().__init__(f"{path} cannot be opened ({exc}); {hint}")


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or the operating system's ENOSPC / EDQUOT."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


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
        try:
            self._con().executescript(f"BEGIN IMMEDIATE;{schema}COMMIT;")
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not is_disk_full(exc):
                raise  # locked, busy, permissions: not damage
            self.close()
            raise StoreUnreadable(self.path, exc) from exc

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
        try:
            con.execute("COMMIT")
        except BaseException:
            # e.g. "database or disk is full" at commit: SQLite may leave the transaction open,
            # and the next BEGIN on this thread's connection would then fail for ever
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close this thread's connection (other threads' close when their threads end)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None
