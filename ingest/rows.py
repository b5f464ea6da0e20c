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
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from erfa.ingest.errors import FormatError
from erfa.ingest.limits import MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS, MAX_XLSX_BYTES, MAX_XLSX_MEMBERS, mib
from erfa.ingest.record import RecordError

NumberedRow: TypeAlias = tuple[int, Mapping[str, object] | RecordError]

DELIMITERS = (",", ";", "\t")
# Keys under which JSON APIs commonly wrap their list of items.
WRAPPER_KEYS = ("projects", "content", "data", "items", "results", "records")

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet as Worksheet

# The parser's own guard against a runaway field (10 MB). The cell cap is far lower
# (MAX_CELL_CHARS); it is checked per row, where the reason can name the column.
csv.field_size_limit(10 * 1024 * 1024)


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
        try:
            count = len(next(csv.reader([header], delimiter=delimiter), []))
        except csv.Error:  # e.g. the whole line as one field over the parser's limit
            continue
        if count > best_count:
            best, best_count = delimiter, count
    return best


def csv_header(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    except csv.Error:
        pass  # an unreadable header matches no format, which the caller says
    return []


def csv_rows(text: str, delimiter: str, file: object) -> tuple[list[str], Iterator[NumberedRow]]:
    """Header and numbered data rows; blank rows are skipped but still counted.

    The reader is strict about quotes: a cell whose quote is never closed would
    otherwise swallow the rows after it into that cell, silently. Such a row is
    rejected and reading resumes on the line after the one it started on, so the
    rows it would have swallowed are read on their own.
    """
    lines = _Lines(io.StringIO(text, newline="").readlines())
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
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
        nonlocal reader
        n = number
        while True:
            start = lines.position
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                n += 1
                yield n, RecordError(_csv_problem(exc))
                lines.position = start + 1  # resume on the next line, with a fresh parser state
                reader = csv.reader(lines, delimiter=delimiter, strict=True)
                continue
            n += 1
            if not any(cell.strip() for cell in row):
                continue
            extra = [cell for cell in row[len(header) :] if cell.strip()]
            if extra:
                yield (
                    n,
                    RecordError(
                        f"row has {len(row)} cells but the header has {len(header)} columns "
                        f"(a stray delimiter or an unquoted line break?)"
                    ),
                )
                continue
            yield n, zip_row(header, row)

    return header, generate()


class _Lines(Iterator[str]):
    """The file's lines with a position that can be moved back, for csv_rows' resync."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _csv_problem(exc: csv.Error) -> str:
    """A csv.Error as a reason a person can act on."""
    message = str(exc)
    if "field larger than field limit" in message:
        return (
            f"cannot be read as CSV: a cell is longer than {csv.field_size_limit():,} characters, far more than "
            f"the {MAX_CELL_CHARS:,} erfa reads per cell (or a quote opened in this row is never closed)"
        )
    if "expected after" in message or "unexpected end of data" in message:
        return (
            f"cannot be read as CSV ({message}): a quote opened in this row is never closed, or a quote inside "
            'a cell is not doubled (""); the rows after it were read on their own'
        )
    return f"cannot be read as CSV: {message}"


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


def json_loads(text: str) -> object:
    """json.loads, with nesting too deep for the parser reported as invalid JSON.

    The parser recurses per level and raises RecursionError at about 1,000 levels,
    which no project record has; as a JSONDecodeError it becomes the same rejected
    row or FormatError as any other broken JSON, instead of a traceback.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(
            "values nested too deeply (erfa reads at most a few hundred levels)", text, 0
        ) from None


def jsonl_rows(text: str) -> Iterator[NumberedRow]:
    """One JSON object per line; blank lines are allowed and still counted."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json_loads(line)
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
        value = json_loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(file, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
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


def xlsx_header(path: Path, wanted: str | None = None, max_bytes: int = MAX_XLSX_BYTES) -> list[str]:
    workbook = _open_workbook(path, max_bytes)
    try:
        return _pick_sheet(workbook, wanted, path)[1]
    finally:
        workbook.close()


def xlsx_rows(
    path: Path, wanted: str | None = None, max_bytes: int = MAX_XLSX_BYTES
) -> tuple[list[str], Iterator[NumberedRow]]:
    """Header and numbered rows of the sheet whose header has `wanted` (else the first).

    read_only mode streams the sheet instead of building it in memory, which is what
    keeps a 2,000-row, 56-column export around a second. The workbook is closed when
    the rows are exhausted. Rows are read as wide as the header and no wider: a cell
    far to the right (XFD) must not make every row 16,384 values long. A workbook that
    unpacks to more than ``max_bytes`` is refused before it is opened.
    """
    workbook = _open_workbook(path, max_bytes)
    try:
        chosen, header = _pick_sheet(workbook, wanted, path)
    except FormatError:
        workbook.close()
        raise
    width = max(1, len(header))

    def generate() -> Iterator[NumberedRow]:
        try:
            rows = chosen.iter_rows(min_row=2, max_col=width, values_only=True)
            for number, values in enumerate(_damaged_as_format_error(rows, path), start=2):
                if number > MAX_ROWS:
                    yield (
                        number,
                        RecordError(
                            f"the sheet goes on beyond row {MAX_ROWS:,}, Excel's last row: "
                            "the file is damaged; nothing from here on is read"
                        ),
                    )
                    return
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


def _open_workbook(path: Path, max_bytes: int) -> Workbook:
    from zipfile import BadZipFile

    import openpyxl  # imported here: only XLSX input pays for it
    from openpyxl.utils.exceptions import InvalidFileException

    _check_unpacked_size(path, max_bytes)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, zlib.error, EOFError) as exc:
        raise FormatError(
            path,
            f"cannot open it as an XLSX workbook ({exc})",
            "Save it again from Excel as .xlsx, or export the sheet as CSV UTF-8",
        ) from None
    for sheet in workbook.worksheets:
        # read_only trusts the <dimension> the file claims; A1:XFD1048576 would pad
        # every row to 16,384 cells and fill a million empty ones. Read what is there.
        reset = getattr(sheet, "reset_dimensions", None)
        if reset is not None:
            reset()
    return workbook


def _check_unpacked_size(path: Path, cap: int) -> None:
    """Refuse a workbook whose members unpack to more than the cap, before unpacking any.

    The sizes come from the zip's directory. A member that claims less than it holds
    cannot slip through: zipfile stops at the claimed size and then fails its CRC
    check, which _damaged_as_format_error reports.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(
            path,
            f"cannot open it as an XLSX workbook ({exc})",
            "Save it again from Excel as .xlsx, or export the sheet as CSV UTF-8",
        ) from None
    total = sum(m.file_size for m in members)
    if len(members) > MAX_XLSX_MEMBERS or total > cap:
        biggest = max(members, key=lambda m: m.file_size)
        raise FormatError(
            path,
            f"the workbook unpacks to {mib(total)} in {len(members):,} parts ({biggest.filename} alone "
            f"{mib(biggest.file_size)}); erfa reads workbooks of at most {mib(cap)} unpacked and "
            f"{MAX_XLSX_MEMBERS:,} parts",
            "Check that this is the registry's export (a real one unpacks to a few MB); "
            "set ERFA_MAX_XLSX_BYTES to raise the limit, or save the sheet as CSV",
        )


def _damaged_as_format_error(rows: Iterator[tuple[object, ...]], path: Path) -> Iterator[tuple[object, ...]]:
    """The sheet's rows; a zip damaged mid-way (bad CRC, truncated) raises FormatError, not a traceback."""
    from zipfile import BadZipFile

    try:
        yield from rows
    except (BadZipFile, zlib.error, EOFError) as exc:
        raise FormatError(
            path,
            f"the workbook is damaged and cannot be read to the end ({exc})",
            "Save it again from Excel as .xlsx, or export the sheet as CSV UTF-8",
        ) from None


def _pick_sheet(workbook: Workbook, wanted: str | None, path: Path) -> tuple[Worksheet, list[str]]:
    first_seen: tuple[Worksheet, list[str]] | None = None
    for sheet in workbook.worksheets:
        top = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
        names = _trimmed([_cell_text(v) for v in top])
        if len(names) > MAX_COLUMNS:
            raise FormatError(
                path,
                f"the sheet {sheet.title!r} has {len(names):,} columns; erfa reads at most {MAX_COLUMNS:,}",
                "Delete the unused columns, or save the sheet as CSV",
            )
        if wanted is None or wanted in names:
            return sheet, names
        if first_seen is None:
            first_seen = (sheet, names)
    if first_seen is None:
        raise FormatError(path, "the workbook has no sheets")
    return first_seen


def _trimmed(names: list[str]) -> list[str]:
    """The header without its trailing unnamed columns (Excel leaves many)."""
    end = len(names)
    while end and not names[end - 1]:
        end -= 1
    return names[:end]


def _cell_text(value: object) -> str:
    return "" if value is None else str(value).strip()
