"""The real registries in ../shared/data: every project must come through."""

from __future__ import annotations

import pytest

from erfa.ingest import read_file
from tests._shared import shared_data_dir

pytestmark = pytest.mark.shared


def test_digdir_overview_all_179_projects() -> None:
    result = read_file(shared_data_dir() / "digdir_ai_projects_norwegian_state_Oversatt_v1.csv")
    assert result.format == "digdir-csv"
    assert result.rejected == []
    assert len(result.records) == 179
    assert len({r.id for r in result.records}) == 179
    assert {r.country for r in result.records} == {"NO"}
    assert sum(1 for r in result.records if r.link) == 97  # every link cell but one "NA"
    assert {r.language for r in result.records} <= {"nb", "nn", "en"}


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("pstw_dataset_from_Marchant01_ai_eu_project.xlsx", "pstw-xlsx"),
        ("pstw_dataset_from_Marchant01_ai_eu_project__sheet_PSTW_DB.csv", "pstw-csv"),
    ],
)
def test_pstw_all_1964_cases(name: str, fmt: str) -> None:
    result = read_file(shared_data_dir() / "pstw" / name)
    assert result.format == fmt
    assert result.rejected == []
    assert len(result.records) == 1964
    assert all(r.status for r in result.records)
    assert sum(1 for r in result.records if r.country) == 1964 - 64  # 64 are EU-wide


def test_pstw_xlsx_and_csv_agree() -> None:
    base = shared_data_dir() / "pstw"
    xlsx = read_file(base / "pstw_dataset_from_Marchant01_ai_eu_project.xlsx").records
    csv = read_file(base / "pstw_dataset_from_Marchant01_ai_eu_project__sheet_PSTW_DB.csv").records
    assert [r.content_hash() for r in xlsx] == [r.content_hash() for r in csv]
    assert [r.updated_at for r in xlsx] == [r.updated_at for r in csv]


def test_ai_watch_and_ipsx_case_lists_are_read_whole() -> None:
    """Both JRC lists are detected by their columns; IPS-X's blockchain cases are left out."""
    t6 = read_file(shared_data_dir() / "aiwatch_t6x" / "9-services-ai-watch-t6-jrc120399.csv")
    ips = read_file(shared_data_dir() / "ips_explorer" / "cases.csv")
    assert t6.format == ips.format == "aiwatch-csv"
    assert len(t6.records) == 143 and not t6.rejected
    assert len(ips.records) == 686 and not ips.rejected  # the 686 AI cases of 853
    assert len(ips.skipped) == 167 and len(ips.skip_counts()) == 1  # the blockchain cases, reported, not lost
    assert "not an AI case" in ips.skipped[0].reason and "Blockchain" in ips.skipped[0].reason
    assert {r.source for r in t6.records} == {"aiwatch"} and {r.source for r in ips.records} == {"ipsx"}
    assert len({r.id for r in t6.records}) == 143  # derived ids are unique
    assert all(r.link is None or r.link.startswith(("http://", "https://")) for r in t6.records + ips.records)
