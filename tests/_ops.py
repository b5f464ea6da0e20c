"""Helpers for the operating tests (issue 6): an in-process app with a token, a real
`erfa serve` on loopback, a store/index consistency check, signing in to /admin, and a
submission store whose disk fills up at COMMIT.

Servers here bind 127.0.0.1 on a free port, reuse the session's built model (a
symlink, never a rebuild) and are always killed by the fixture that started them.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from erfa.index import ProjectIndex
from erfa.index.model.encoder import default_model_dir
from erfa.service import testing as harness
from erfa.service.testing import Server, erfa_cmd  # noqa: F401  (erfa_cmd: for the tests)

if TYPE_CHECKING:
    import pytest
    from fastapi.testclient import TestClient

    from erfa.index.moderation.sqlite import SqliteSubmissionQueue

TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


def prepare_home(home: Path, model_home: Path, seed_from: Path | None = None) -> Path:
    """A data directory that reuses the built model; optionally a copy of another index."""
    (home / "models").mkdir(parents=True, exist_ok=True)
    link = default_model_dir(home)
    if not link.exists():
        os.symlink(default_model_dir(model_home), link)
    if seed_from is not None:
        src = sqlite3.connect(seed_from / "erfa.sqlite")
        dst = sqlite3.connect(home / "erfa.sqlite")
        src.backup(dst)  # consistent copy even while WAL holds recent pages
        src.close()
        dst.close()
        for name in ("vectors.faiss", "vectors.faiss.meta.json"):
            if (seed_from / name).exists():
                shutil.copy2(seed_from / name, home / name)
    return home


def erfa_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ERFA_DEMO": "0",
        "ERFA_ADMIN_TOKEN": TOKEN,
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.update(extra)
    return env


def start_server(home: Path, *, timeout: float = 120, **env: str) -> Server:
    """`erfa serve` on 127.0.0.1:<free port> with the test environment plus ``env``; returns once ready."""
    return harness.start_server(home, env=erfa_env(**env), timeout=timeout)


def running_server(home: Path, **env: str) -> AbstractContextManager[Server]:
    """start_server for the length of a with-block."""
    return harness.running_server(home, env=erfa_env(**env))


def check_consistent(idx: ProjectIndex) -> dict[str, int]:
    """Store and index agree: ids unique, every record has its vectors, no orphan vector."""
    report = idx.check()
    assert report["duplicate_ids"] == [], "duplicate record ids in the store"
    assert report["duplicate_vectors"] == 0, "duplicate vector ids"
    assert report["orphan_vectors"] == [] and report["unindexed"] == [], report
    return {"records": int(report["records"]), "vectors": int(report["vectors"])}  # type: ignore[call-overload]


def wait_for(pred: Callable[[], bool], timeout: float = 30, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


class _SameCutOff(dict):
    """A calibration table (ranking.CLOSE_MATCH) that gives every model one cut-off."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def get(self, key: object, default: object = None) -> float:
        return self.value


def set_close_match(monkeypatch: pytest.MonkeyPatch, standout: float) -> None:
    """Make ``standout`` the close-match cut-off for whatever model the test uses
    (99: nothing stands out; -99: everything does): the fitted marker (index/search/marker.py) is
    set aside, so results are marked by that standout alone, as for an uncalibrated model."""
    from erfa.index.search import marker, ranking

    monkeypatch.setattr(ranking, "CLOSE_MATCH", _SameCutOff(standout))
    monkeypatch.setattr(marker, "for_model", lambda model_id: None)


def csrf_of(html: str) -> str:
    """The CSRF token of the form on an /admin page (fails the test when there is none)."""
    found = CSRF.search(html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def signed_in(c: TestClient) -> str:
    """Sign in through the form; returns the session's CSRF token (from the queue page)."""
    page = c.get("/admin?lang=en")
    assert page.status_code == 200 and 'name="token"' in page.text
    r = c.post("/admin/sign-in?lang=en", data={"csrf": csrf_of(page.text), "token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303, r.text
    queue = c.get("/admin?lang=en")
    assert "Sign out" in queue.text
    return csrf_of(queue.text)


def commit_fails(store: SqliteSubmissionQueue) -> Callable[[], AbstractContextManager[sqlite3.Connection]]:
    """A replacement for the store's ``_tx``: its transactions run their statements, then the
    disk is full at COMMIT (DISK_FULL), so nothing they wrote is kept."""
    real = type(store)._tx

    @contextmanager
    def tx() -> Iterator[sqlite3.Connection]:
        with real(store) as con:
            yield con
            raise DISK_FULL

    return tx
