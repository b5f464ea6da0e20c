"""Digdir's overview: the published CSV and the API's JSON must describe the same records."""

from __future__ import annotations

from erfa.ingest import read_file
from tests._shared import FIXTURES

CSV = FIXTURES / "digdir_projects.csv"
JSON = FIXTURES / "digdir_projects.json"


def test_csv_maps_columns() -> None:
    result = read_file(CSV)
    assert result.format == "digdir-csv"
    by_id = {r.source_id: r for r in result.records}
    assert sorted(by_id) == ["1", "2", "3", "5"]
    one = by_id["1"]
    assert one.id == "digdir-1" and one.source == "digdir" and one.country == "NO"
    assert one.organisation == "Fjordby kommune" and one.owner_type == "municipality"
    assert one.partners == ["Kartkontoret", "Nabokommunen"]
    assert (one.start_year, one.end_year, one.status) == (2021, 2023, "implemented")
    assert one.link == "https://example.no/chatbot"
    assert one.sector is None  # the internal "Sektor" column is not used; KDD is too broad
    assert one.tags == [
        "Kommunal- og distriktsdepartementet",
        "Natural language processing",
        "Machine learning",
        "Fritekst",
        "strukturerte data",
        "Registerdata",
        "modellutvikling",
    ]
    assert one.language == "nb"
    two = by_id["2"]
    assert (two.sector, two.purpose, two.status, two.owner_type) == (
        "health",
        "Bedre utnyttelse av sengeplasser",
        "pilot",
        "state_agency",
    )
    three = by_id["3"]
    assert (three.language, three.owner_type, three.status, three.sector) == (
        "nn",
        "county",
        "in_development",
        "culture",
    )
    assert "innleide konsulenter" in three.tags
    five = by_id["5"]
    assert five.description is None and five.language == "en" and five.status == "in_development"


def test_csv_row_numbers_count_spreadsheet_rows_not_lines() -> None:
    # Project 1 has a multi-line cell; project 4 is still spreadsheet row 5.
    (rejected,) = read_file(CSV).rejected
    assert rejected.row == 5 and "title is missing" in rejected.reason


def test_json_uses_same_ids_and_drops_contact_person() -> None:
    result = read_file(JSON)
    assert result.format == "digdir-json" and not result.rejected
    by_id = {r.source_id: r for r in result.records}
    assert sorted(by_id) == ["1", "2", "6"]  # 6 was an integer in the JSON
    assert "Ola Nordmann" not in by_id["1"].model_dump_json()


def test_json_after_csv_updates_instead_of_duplicating() -> None:
    from_csv = {r.id: r for r in read_file(CSV).records}
    from_json = {r.id: r for r in read_file(JSON).records}
    assert from_csv["digdir-1"].content_hash() == from_json["digdir-1"].content_hash()  # unchanged
    assert from_csv["digdir-2"].content_hash() != from_json["digdir-2"].content_hash()  # updated
    assert from_json["digdir-2"].status == "implemented"
    assert set(from_csv) & set(from_json) == {"digdir-1", "digdir-2"}


def test_wrapped_json_with_untagged_go_field_names() -> None:
    result = read_file(FIXTURES / "digdir_projects_wrapped.json")
    assert result.format == "digdir-json"
    (record,) = result.records
    assert record.id == "digdir-7"
    assert record.purpose == "Universell utforming"
    assert record.description and record.description.startswith("Talegjenkjenning")
