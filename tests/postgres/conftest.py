"""The PostgreSQL tests: every test in this folder runs against a real server (fixtures.py), so each is
marked ``postgres`` here rather than by hand, and ``-m "not postgres"`` leaves the whole folder out."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.postgres)
