"""Fixtures for the PostgreSQL tests (issue 11): a real server on 127.0.0.1, a fresh database per test.

One cluster serves the whole session (starting one takes about a second); a test gets
its own database in it, so tests never see each other's rows. Tests that stop, crash or
promote a server take a cluster of their own (``own_cluster``). Where PostgreSQL cannot
start (the wheel missing, no way to run it as an unprivileged user) every test using
these fixtures is skipped with the reason.

A plugin of the whole suite (``pytest_plugins`` in tests/conftest.py), not this folder's conftest:
the few PostgreSQL tests that live with the feature they check (tests/ops/test_poisoned_records.py,
tests/service/test_hardening_small.py) ask for them by name like the tests in tests/postgres do.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.service import pgtesting
from erfa.service.pgtesting import Cluster

_names = itertools.count(1)


def _skip_unless_startable() -> None:
    reason = pgtesting.unavailable()
    if reason:
        pytest.skip(f"PostgreSQL cannot start here: {reason}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    _skip_unless_startable()
    with pgtesting.temporary_cluster() as cluster:
        yield cluster


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster for this test alone: it may stop, kill or promote it."""
    _skip_unless_startable()
    with pgtesting.temporary_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh, empty database in the session's cluster."""
    return pg_cluster.create_database(f"erfa_test_{next(_names)}")


@pytest.fixture
def make_pg_index(tmp_path: Path, encoder: Encoder) -> Iterator[Callable[..., ProjectIndex]]:
    """ProjectIndex on a PostgreSQL store, each call with its own local folder (a replica)."""
    from erfa.index.store.postgres import PgStore

    made: list[ProjectIndex] = []

    def make(url: str, name: str | None = None) -> ProjectIndex:
        idx = ProjectIndex(tmp_path / (name or f"replica-{len(made)}"), encoder=encoder, store=PgStore(url))
        made.append(idx)
        return idx

    yield make
    for idx in made:
        idx.close()
