"""Where the real, shared datasets live, for tests marked `shared`.

They sit next to the repository (../shared/data), not in it, because their licences
and sizes do not belong in erfa's history. On a machine without them the tests skip
instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def shared_data_dir() -> Path:
    """The shared data folder, or skip the calling test when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared datasets not found at {path}")
    return path
