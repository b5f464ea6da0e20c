"""Public Sector Tech Watch: XLSX and its CSV export must give identical records."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from erfa.ingest import read_file
from tests._shared import FIXTURES

CSV = FIXTURES / "pstw_cases.csv"


@pytest.fixture(scope="module")
def xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CSV fixture as Excel holds it: years as numbers, dates as datetimes."""
    import openpyxl

    path = tmp_path_factory.mktemp("pstw") / "cases.xlsx"
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "About"
    notes.append(["Invented cases for erfa's tests"])
    sheet = workbook.create_sheet(" PSTW DB")
    with CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    sheet.append(header)
    for row in rows[1:]:
        cells: list[object] = []
        for name, value in zip(header, row, strict=True):
            if name in ("Start Year", "End Year") and value.isdigit():
                cells.append(int(value))
            elif name == "Date updated":
                cells.append(datetime(1899, 12, 30) + timedelta(days=int(value)))
            else:
                cells.append(value or None)
        sheet.append(cells)
    workbook.save(path)
    return path


def test_csv_maps_columns() -> None:
    result = read_file(CSV)
    assert result.format == "pstw-csv"
    by_id = {r.source_id: r for r in result.records}
    tax = by_id["PSTW-9001"]
    assert tax.id == "pstw-PSTW-9001" and tax.source == "pstw"
    assert (tax.country, tax.owner_type, tax.status, tax.sector) == ("NO", "state_agency", "implemented", None)
    assert tax.tags == [
        "Artificial Intelligence",
        "Communication",
        "Natural language processing",
        "Generative AI",
        "chatbot",
        "text analysis",
    ]
    assert tax.updated_at == datetime(2025, 3, 13, tzinfo=UTC)
    beds = by_id["PSTW-9002"]
    assert (beds.country, beds.status, beds.sector, beds.end_year) == ("SE", "pilot", "health", None)
    assert beds.link == "https://example.se/beds"  # no website: first URL in Source
    ledger = by_id["PSTW-9003"]
    assert ledger.country is None and ledger.status == "discontinued" and ledger.owner_type == "other"
    potholes = by_id["PSTW-9005"]
    assert potholes.country == "DK" and potholes.sector == "transport"
    assert (
        potholes.link
        == "https://interoperable-europe.ec.europa.eu/collection/public-sector-tech-watch/submit-your-case"
    )


def test_row_without_name_is_rejected_with_its_row() -> None:
    (rejected,) = read_file(CSV).rejected
    assert rejected.row == 5 and "title is missing" in rejected.reason


def test_xlsx_matches_csv(xlsx: Path) -> None:
    from_xlsx = read_file(xlsx)
    from_csv = read_file(CSV)
    assert from_xlsx.format == "pstw-xlsx"
    assert [r.model_dump() for r in from_xlsx.records] == [r.model_dump() for r in from_csv.records]
    assert [(r.row, r.reason) for r in from_xlsx.rejected] == [(r.row, r.reason) for r in from_csv.rejected]
