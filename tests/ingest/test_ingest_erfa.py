"""erfa's own JSON Lines and CSV formats, including the rows that must be rejected."""

from __future__ import annotations

from pathlib import Path

from erfa.ingest import make_id, read_file
from tests._shared import FIXTURES

JSONL = FIXTURES / "erfa_projects.jsonl"


def _reasons(result: object) -> dict[int, str]:
    return {r.row: r.reason for r in result.rejected}  # type: ignore[attr-defined]


def test_jsonl_valid_rows_pass_and_bad_rows_are_reported() -> None:
    result = read_file(JSONL, default_source="fjordby")
    assert result.format == "erfa-jsonl"
    assert [r.source_id for r in result.records] == ["p-1", "p-2", "p-3", "p-7", "p-8"]
    reasons = _reasons(result)
    assert set(reasons) == {5, 6, 8, 9}  # editor line numbers; line 7 is blank
    assert "unknown key 'titel'" in reasons[5] and "allowed keys are: source, source_id, title" in reasons[5]
    assert reasons[6].startswith("not valid JSON")
    assert "title is missing" in reasons[8]
    assert reasons[9] == "duplicate source_id p-1, first seen at row 2"
    assert all(r.file == str(JSONL) for r in result.rejected)


def test_jsonl_fields_are_normalised() -> None:
    records = {r.source_id: r for r in read_file(JSONL, default_source="fjordby").records}
    p1 = records["p-1"]
    assert p1.id == "fjordby-p-1"
    assert (p1.status, p1.owner_type, p1.country, p1.sector) == ("implemented", "municipality", "NO", "building_maps")
    assert p1.partners == ["Kartkontoret", "Nabokommunen"]
    assert p1.language == "nb"
    assert records["p-2"].language == "nn"
    assert records["p-2"].start_year == 2022
    assert records["p-3"].language == "nb"  # given: overrides detection (which finds nothing)
    p8 = records["p-8"]
    assert p8.description is None  # empty description: kept, not rejected
    assert p8.status is None and p8.owner_type is None  # unknown words: None, row kept


def test_default_source_fills_missing_source_only() -> None:
    with_default = {r.source_id: r for r in read_file(JSONL, default_source="fjordby").records}
    assert with_default["p-7"].source == "fjordby"
    assert with_default["p-7"].country == "SE"
    without = read_file(JSONL)
    reasons = _reasons(without)
    assert "source is missing" in reasons[10] and "--source" in reasons[10]
    assert "p-7" not in {r.source_id for r in without.records}


def test_about_line_is_skipped_not_rejected() -> None:
    result = read_file(JSONL, default_source="fjordby")
    assert 1 not in _reasons(result)


def test_ids_are_stable_across_reads() -> None:
    first = read_file(JSONL, default_source="fjordby").records
    second = read_file(JSONL, default_source="fjordby").records
    assert [r.id for r in first] == [r.id for r in second]
    assert [r.content_hash() for r in first] == [r.content_hash() for r in second]
    assert all(r.id == make_id(r.source, r.source_id) for r in first)


def test_id_in_input_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(
        '{"id": "evil-1", "source": "demo", "source_id": "x1", "title": "Ruteplan for brøyting"}\n', encoding="utf-8"
    )
    (record,) = read_file(path).records
    assert record.id == "demo-x1"


def test_csv_with_semicolon_lists_and_bad_row() -> None:
    result = read_file(FIXTURES / "erfa_projects.csv")
    assert result.format == "erfa-csv"
    k1, k3 = result.records
    assert k1.partners == ["Arkivsenteret", "Leverandør AS, avd. Nord"]  # ';' splits, ',' does not
    assert k1.tags == ["arkiv", "e-post"]
    assert (k1.status, k1.sector, k1.owner_type, k1.country) == (
        "pilot",
        "archives_case_handling",
        "municipality",
        "NO",
    )
    assert k3.description is None and k3.status == "planned" and (k3.start_year, k3.end_year) == (2025, 2026)
    assert [(r.row, "title is missing" in r.reason) for r in result.rejected] == [(3, True)]


def test_latin1_semicolon_csv_keeps_letters() -> None:
    result = read_file(FIXTURES / "erfa_latin1_semicolon.csv")
    assert result.format == "erfa-csv" and not result.rejected
    s1, s2 = result.records
    assert s1.title == "Översättning av blanketter"
    assert s1.organisation == "Älvby kommun"
    assert (s1.country, s1.status, s1.language) == ("SE", "implemented", "sv")
    assert s2.status == "pilot"


def test_utf8_bom_does_not_leak_into_first_column() -> None:
    result = read_file(FIXTURES / "erfa_bom.csv")
    assert not result.rejected
    (record,) = result.records
    assert record.source == "bjorkvik" and record.organisation == "Bjørkvik kommune"
    assert record.status == "implemented"


def test_csv_with_unknown_column_is_a_format_error(tmp_path: Path) -> None:
    import pytest

    from erfa.ingest import FormatError

    path = tmp_path / "extra.csv"
    path.write_text("source,source_id,title,notes\ndemo,1,Chatbot for skatt,hei\n", encoding="utf-8")
    with pytest.raises(FormatError) as err:
        read_file(path)
    assert "'notes'" in str(err.value) and "allowed columns" in str(err.value)


def test_invalid_language_code_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "lang.jsonl"
    path.write_text('{"source": "demo", "source_id": "1", "title": "Chatbot", "language": "Norsk"}\n', encoding="utf-8")
    result = read_file(path)
    assert not result.records and "ISO 639-1" in result.rejected[0].reason
