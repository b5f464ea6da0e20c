"""End to end on Norway's real overview: the `erfa` command in a fresh process, twice.

Needs ../shared/data (the public datasets beside the checkout); skipped without it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from erfa.index.model.encoder import default_model_dir

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
DIGDIR = SHARED / "digdir_ai_projects_norwegian_state_Oversatt_v1.csv"

pytestmark = pytest.mark.shared


def erfa(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "erfa.service.cli", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@pytest.mark.skipif(not DIGDIR.is_file(), reason="../shared/data is not beside this checkout")
def test_norwegian_overview_ingests_all_179_and_reingest_is_a_no_op(tmp_path: Path, model_home: Path) -> None:
    home = tmp_path / "home"
    # reuse the session's built model folder instead of rebuilding it
    (home / "models").mkdir(parents=True)
    os.symlink(default_model_dir(model_home), default_model_dir(home))

    first = erfa(home, "ingest", str(DIGDIR))
    assert first.returncode == 0, first.stderr[-3000:]
    assert re.search(r": 179 records: 179 added, 0 updated, 0 unchanged, 0 rejected", first.stdout), first.stdout

    second = erfa(home, "ingest", str(DIGDIR))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "179 records: 0 added, 0 updated, 179 unchanged, 0 rejected" in second.stdout

    found = erfa(home, "search", "chattbot som svarar på frågor", "--json", "--limit", "5")
    assert found.returncode == 0, found.stderr[-3000:]
    assert '"digdir-' in found.stdout
