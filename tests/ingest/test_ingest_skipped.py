"""Ingest honesty (issue 21): a row left out on purpose is reported with its reason, and the
command's stderr holds erfa's report, not a library's debug lines."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from erfa.index.model.encoder import default_model_dir
from erfa.ingest import read_file

HEADER = [
    "entry_type", "cid", "id", "name", "url", "description", "geocoverage", "lead_organisation_name",
    "lead_organisation_category", "start_date", "primary_sector", "technology", "status",
]  # fmt: skip


def ipsx_like(path: Path) -> Path:
    """Our own five cases in IPS-X's columns: three AI cases, two blockchain ones (rows 3 and 5)."""
    rows = [
        ("101", "Talegjenkjenning for legevakten", "Transkriberer samtaler på legevakten.", "Artificial Intelligence"),
        ("102", "Land register on a ledger", "Property deeds recorded on a shared ledger.", "Blockchain"),
        ("103", "Bildeanalyse av veiskilt", "Finner skadde skilt på bilder fra kommunens biler.", "Machine learning"),
        ("104", "Diplomas on chain", "University diplomas issued as verifiable tokens.", "Blockchain"),
        ("105", "Chatbot för bygglov", "Svarar på frågor om bygglov dygnet runt.", "Artificial Intelligence"),
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for cid, name, desc, tech in rows:
            w.writerow(["case", cid, cid, name, "", desc, "Norway", "Testby kommune", "Local", "2021", "", tech, ""])
    return path


def test_skipped_rows_are_kept_with_row_and_reason(tmp_path: Path) -> None:
    result = read_file(ipsx_like(tmp_path / "cases.csv"))
    assert result.format == "aiwatch-csv"
    assert len(result.records) == 3 and not result.rejected
    assert [s.row for s in result.skipped] == [3, 5]
    (reason, count), *others = result.skip_counts().items()
    assert count == 2 and not others
    assert "not an AI case" in reason and "'Blockchain'" in reason
    assert str(result.skipped[0]).endswith(f"cases.csv:3: skipped: {reason}")


def test_erfa_ingest_reports_skips_and_prints_no_bm25s_debug(tmp_path: Path, model_home: Path) -> None:
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    os.symlink(default_model_dir(model_home), default_model_dir(home))
    src = ipsx_like(tmp_path / "cases.csv")
    done = subprocess.run(
        [sys.executable, "-m", "erfa.service.cli", "--home", str(home), "ingest", str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "ERFA_LOG_LEVEL": "info"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 records: 3 added, 0 updated, 0 unchanged, 0 rejected, 2 skipped" in done.stdout, done.stdout
    lines = [line for line in done.stderr.splitlines() if "skipped" in line]
    assert len(lines) == 1 and "skipped 2 rows (3, 5): not an AI case" in lines[0], done.stderr
    assert "bm25s" not in done.stderr, done.stderr
