"""Format detection, --format override and whole-file errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from erfa.ingest import FORMATS, FormatError, detect_format, read_file
from tests._shared import FIXTURES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("erfa_projects.jsonl", "erfa-jsonl"),
        ("erfa_projects.csv", "erfa-csv"),
        ("erfa_latin1_semicolon.csv", "erfa-csv"),
        ("erfa_bom.csv", "erfa-csv"),
        ("digdir_projects.csv", "digdir-csv"),
        ("digdir_projects.json", "digdir-json"),
        ("digdir_projects_wrapped.json", "digdir-json"),
        ("pstw_cases.csv", "pstw-csv"),
    ],
)
def test_detects_format_from_content_not_extension(tmp_path: Path, name: str, expected: str) -> None:
    renamed = tmp_path / "upload.txt"
    shutil.copyfile(FIXTURES / name, renamed)
    assert detect_format(renamed) == expected


def test_compact_single_line_json_array(tmp_path: Path) -> None:
    path = tmp_path / "projects"
    path.write_text('[{"id": "9", "prosjekttittel": "Chatbot", "prosjekteier": "Sørvik kommune"}]', encoding="utf-8")
    assert detect_format(path) == "digdir-json"
    assert [r.id for r in read_file(path).records] == ["digdir-9"]


def test_format_override_reads_undetectable_file(tmp_path: Path) -> None:
    # Broken first line: detection still finds JSON Lines, and --format forces it anyway.
    path = tmp_path / "projects.data"
    path.write_text(
        '{"source": "demo", "source_id": "1", "title": "Broken\n'
        '{"source": "demo", "source_id": "2", "title": "Søknadsassistent for NAV-kontor"}\n',
        encoding="utf-8",
    )
    result = read_file(path, format="erfa-jsonl")
    assert result.format == "erfa-jsonl"
    assert [r.source_id for r in result.records] == ["2"]
    assert result.rejected[0].row == 1 and "not valid JSON" in result.rejected[0].reason


def test_wrong_format_override_names_the_right_one() -> None:
    with pytest.raises(FormatError) as err:
        read_file(FIXTURES / "digdir_projects.csv", format="pstw-csv")
    message = str(err.value)
    assert "digdir_projects.csv" in message and "use --format digdir-csv" in message


def test_unknown_format_name_lists_formats() -> None:
    with pytest.raises(FormatError) as err:
        read_file(FIXTURES / "erfa_projects.csv", format="excel")
    assert all(name in str(err.value) for name in FORMATS)


def test_xlsx_format_on_text_file() -> None:
    with pytest.raises(FormatError, match=r"not an XLSX workbook.*--format pstw-csv"):
        read_file(FIXTURES / "pstw_cases.csv", format="pstw-xlsx")


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)) * 16,  # binary with NUL bytes
        b"title\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 400,  # control characters, no NUL
    ],
)
def test_garbage_file_is_a_format_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "projects.csv"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=r"projects\.csv.*binary"):
        read_file(path)


def test_fake_xlsx_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "projects.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"not really a zip" * 10)
    with pytest.raises(FormatError, match="XLSX"):
        read_file(path)


def test_xlsx_that_is_not_pstw(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "list.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Prosjekt", "Eier"])
    workbook.save(path)
    with pytest.raises(FormatError, match="not a Public Sector Tech Watch export"):
        read_file(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("name,owner\nChatbot,Sørvik\n", "matches no supported format"),
        ('[{"title": "Chatbot"}]', "JSON Lines"),
    ],
)
def test_unreadable_text_files(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "input.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError, match=match):
        read_file(path)


def test_missing_file() -> None:
    with pytest.raises(FormatError, match="no such file"):
        read_file(FIXTURES / "does-not-exist.csv")


def test_csv_row_with_too_many_cells_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "source,source_id,title\ndemo,1,Chatbot for skatt,extra\ndemo,2,Ruteplan for brøyting\n", encoding="utf-8"
    )
    result = read_file(path)
    assert [r.source_id for r in result.records] == ["2"]
    assert result.rejected[0].row == 2 and "4 cells" in result.rejected[0].reason


def test_duplicates_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text(
        "source;source_id;title\ndemo;a1;Chatbot\n\ndemo;a1;Chatbot igjen\ndemo;a2;Annet\n", encoding="utf-8"
    )
    result = read_file(path)
    assert [r.source_id for r in result.records] == ["a1", "a2"]
    assert [(r.row, r.reason) for r in result.rejected] == [(4, "duplicate source_id a1, first seen at row 2")]


def test_windows_1252_smart_quotes_and_nordic_letters(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("source;source_id;title\r\ndemo;1;“Bodø” – søknadshjelp for Ærøy\r\n".encode("cp1252"))
    (record,) = read_file(path).records
    assert record.title == "“Bodø” – søknadshjelp for Ærøy"


def test_mostly_utf8_with_a_stray_byte_stays_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pasted.csv"
    good = "source,source_id,title\ndemo,1,Søknad om støtte i Tromsø\n".encode()
    path.write_bytes(good + b"demo,2,Kaf\xe9 i sentrum\n")  # one Latin-1 byte pasted in
    first, second = read_file(path).records
    assert first.title == "Søknad om støtte i Tromsø"  # not "SÃ¸knad"
    assert "\ufffd" in second.title


def test_json_format_on_csv_file_names_the_right_one() -> None:
    with pytest.raises(FormatError, match=r"not erfa-jsonl.*use --format erfa-csv"):
        read_file(FIXTURES / "erfa_projects.csv", format="erfa-jsonl")
