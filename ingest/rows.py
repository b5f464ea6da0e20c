"""Split a decoded file into numbered rows, before anything knows what the rows mean.

Row numbers are the ones a person sees when they open the file to fix a rejected row:
the spreadsheet row for CSV and XLSX (header = row 1, a multi-line cell is still one
row), the editor line for JSON Lines, and the 1-based position for a JSON array.
A row that cannot even be parsed becomes a RecordError in its place, so one broken
line never costs the rest of the file.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from erfa.ingest.errors import FormatError
from erfa.ingest.record import RecordError

NumberedRow: TypeAlias = tuple[int, Mapping[str, object] | RecordError]

DELIMITERS = (",", ";", "\t")
# Keys under which JSON APIs commonly wrap their list of items.
WRAPPER_KEYS = ("projects", "content", "data", "items", "results", "records")

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet as Worksheet

csv.field_size_limit(10 * 1024 * 1024)  # long descriptions are normal


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into the most columns.

    csv.Sniffer guesses from the whole sample and is easily fooled by commas inside
    descriptions; the header line has no prose in it, so it is the reliable witness.
    """
    header = first_line(text)
    best, best_count = ",", 1
    for delimiter in DELIMITERS:
        count = len(next(csv.reader([header], delimiter=delimiter), []))
        if count > best_count:
            best, best_count = delimiter, count
    return best


def csv_header(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for row in reader:
        if any(cell.strip() for cell in row):
            return [cell.strip() for cell in row]
    return []


def csv_rows(text: str, delimiter: str, file: object) -> tuple[list[str], Iterator[NumberedRow]]:
    """Header and numbered data rows; blank rows are skipped but still counted."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    header: list[str] | None = None
    number = 0
    try:
        for row in reader:
            number += 1
            if any(cell.strip() for cell in row):
                header = [cell.strip() for cell in row]
                break
    except csv.Error as exc:
        raise FormatError(file, f"the header row cannot be read as CSV ({exc})") from None
    if header is None:
        raise FormatError(file, "the file has no header row", "The first row must name the columns")

    def generate() -> Iterator[NumberedRow]:
        n = number
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                n += 1
                yield n, RecordError(f"cannot be read as CSV: {exc}")
                continue
            n += 1
            if not any(cell.strip() for cell in row):
                continue
            extra = [cell for cell in row[len(header):] if cell.strip()]
            if extra:
                yield n, RecordError(
                    f"row has {len(row)} cells but the header has {len(header)} columns "
                    f"(a stray delimiter or an unquoted line break?)"
                )
                continue
            yield n, zip_row(header, row)

    return header, generate()


def zip_row(header: list[str], values: list[str] | tuple[object, ...]) -> dict[str, object]:
    """Map cells to column names; the first of two same-named columns wins.

    Excel often leaves several unnamed trailing columns; letting the last "" win would
    overwrite a real unnamed column (Digdir's id column has no name) with nothing.
    """
    out: dict[str, object] = {}
    for i, name in enumerate(header):
        if name not in out:
            out[name] = values[i] if i < len(values) else None
    return out


def jsonl_rows(text: str) -> Iterator[NumberedRow]:
    """One JSON object per line; blank lines are allowed and still counted."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, RecordError(f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(value, dict):
            yield number, RecordError(f"expected a JSON object {{...}}, got {type(value).__name__}")
            continue
        yield number, value


def json_items(text: str, file: object) -> Iterator[NumberedRow]:
    """Items of a JSON array, or of the array an API wraps in an object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            file, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    items = unwrap_items(value)
    if items is None:
        raise FormatError(
            file,
            "expected a JSON array of projects, or an object with the array under one of "
            + ", ".join(repr(k) for k in WRAPPER_KEYS),
        )
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield number, item
        else:
            yield number, RecordError(f"item {number} is not a JSON object")


def unwrap_items(value: object) -> list[object] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in WRAPPER_KEYS:
            inner = value.get(key)
            if isinstance(inner, list):
                return inner
            if isinstance(inner, dict):  # e.g. {"data": {"projects": [...]}}
                nested = unwrap_items(inner)
                if nested is not None:
                    return nested
    return None


def xlsx_header(path: Path, wanted: str | None = None) -> list[str]:
    workbook = _open_workbook(path)
    try:
        return _pick_sheet(workbook, wanted, path)[1]
    finally:
        workbook.close()


def xlsx_rows(path: Path, wanted: str | None = None) -> tuple[list[str], Iterator[NumberedRow]]:
    """Header and numbered rows of the sheet whose header has `wanted` (else the first).

    read_only mode streams the sheet instead of building it in memory, which is what
    keeps a 2,000-row, 56-column export around a second. The workbook is closed when
    the rows are exhausted.
    """
    workbook = _open_workbook(path)
    try:
        chosen, header = _pick_sheet(workbook, wanted, path)
    except FormatError:
        workbook.close()
        raise

    def generate() -> Iterator[NumberedRow]:
        try:
            for number, values in enumerate(chosen.iter_rows(min_row=2, values_only=True), start=2):
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                yield number, zip_row(header, values)
        finally:
            workbook.close()

    return header, ClosingRows(generate(), workbook.close)


class ClosingRows(Iterator[NumberedRow]):
    """Rows that hold a file open; `close()` releases it even if never iterated.

    A generator's `finally` only runs once the generator has started, so a reader
    that rejects a workbook after looking at its header needs an explicit close.
    """

    def __init__(self, rows: Iterator[NumberedRow], release: Callable[[], None]) -> None:
        self._rows = rows
        self._release = release

    def __next__(self) -> NumberedRow:
        return next(self._rows)

    def close(self) -> None:
        close = getattr(self._rows, "close", None)
        if close is not None:
            close()
        self._release()


def _open_workbook(path: Path) -> Workbook:
    import openpyxl  # imported here: only XLSX input pays for it
    from zipfile import BadZipFile

    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError) as exc:
        raise FormatError(
            path,
            f"cannot open it as an XLSX workbook ({exc})",
            "Save it again from Excel as .xlsx, or export the sheet as CSV UTF-8",
        ) from None


def _pick_sheet(workbook: Workbook, wanted: str | None, path: Path) -> tuple[Worksheet, list[str]]:
    first_seen: tuple[Worksheet, list[str]] | None = None
    for sheet in workbook.worksheets:
        top = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        names = [_cell_text(v) for v in top]
        if wanted is None or wanted in names:
            return sheet, names
        if first_seen is None:
            first_seen = (sheet, names)
    if first_seen is None:
        raise FormatError(path, "the workbook has no sheets")
    return first_seen


def _cell_text(value: object) -> str:
    return "" if value is None else str(value).strip()
