"""The one entry point of ingest: a file in, records and a rejection report out.

Callers (the CLI, the index builder) should not need to know which registry a file
came from. They get every row that could be read as a Record, with language filled
in, and for every other row the file, the row number a person would look up, and a
reason they can act on. Only a file that cannot be read at all raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from erfa.ingest.detect import Loaded, classify, csv_format_of, detect_format, load
from erfa.ingest.errors import FormatError
from erfa.ingest.formats import aiwatch, digdir, erfa, pstw
from erfa.ingest.formats._base import Outcome, Skip, norm_key
from erfa.ingest.language import with_detected_language
from erfa.ingest.limits import MAX_XLSX_BYTES, names_preview
from erfa.ingest.record import Record, RecordError
from erfa.ingest.rows import csv_rows, json_items, jsonl_rows, sniff_delimiter, xlsx_rows

FORMATS: tuple[str, ...] = (
    "erfa-jsonl",
    "erfa-csv",
    "digdir-csv",
    "digdir-json",
    "pstw-xlsx",
    "pstw-csv",
    "aiwatch-csv",
)


@dataclass(frozen=True)
class Rejected:
    """A row that did not become a record; `row` is as shown in a spreadsheet/editor."""

    file: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.reason}"


@dataclass(frozen=True)
class Note:
    """A row that was read, but changed on the way (e.g. a description cut to the cap)."""

    file: str
    row: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: {self.text}"


@dataclass(frozen=True)
class Skipped:
    """A row left out on purpose (e.g. an IPS-X blockchain case: not an AI project)."""

    file: str
    row: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}: skipped: {self.reason}"


@dataclass
class ReadResult:
    format: str
    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    file: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # record id -> its row, to name it in a later rejection

    def reject(self, reasons: Mapping[str, str]) -> None:
        """Move the records a later step refused (record id -> reason) to the rejected rows."""
        if not reasons:
            return
        self.rejected.extend(Rejected(self.file, self.rows.get(i, 0), why) for i, why in reasons.items())
        self.rejected.sort(key=lambda r: r.row)
        self.records = [r for r in self.records if r.id not in reasons]

    def skip_counts(self) -> dict[str, int]:
        """Skipped rows per reason, in the order the reasons first occur (one report line each)."""
        counts: dict[str, int] = {}
        for s in self.skipped:
            counts[s.reason] = counts.get(s.reason, 0) + 1
        return counts


def read_file(
    path: Path, format: str | None = None, default_source: str | None = None, *, max_xlsx_bytes: int = MAX_XLSX_BYTES
) -> ReadResult:
    """Read one file in any supported format.

    `format` overrides detection (one of FORMATS). `default_source` is used for erfa
    rows without a `source`; the external formats have fixed sources and ignore it.
    An XLSX workbook that unpacks to more than `max_xlsx_bytes` is refused unopened.
    Raises FormatError when the file as a whole is unreadable.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise FormatError(path, f"unknown format {format!r}", f"Use one of: {', '.join(FORMATS)}")
    loaded = load(path, max_xlsx_bytes)
    fmt = format or classify(loaded)
    return collect(_outcomes(fmt, loaded, default_source), str(path), fmt)


def read_items(
    items: Iterable[Mapping[str, object]], default_source: str | None = None, *, file: str = "request"
) -> ReadResult:
    """Objects in erfa's own format (a POST /projects body, a submission), read as a file's rows are.

    Row numbers are 1-based positions in ``items``; a None value counts as a field not given.
    """
    rows = [(n, {k: v for k, v in item.items() if v is not None}) for n, item in enumerate(items, 1)]
    return collect(erfa.erfa_jsonl(rows, default_source), file, "erfa-jsonl")


def collect(outcomes: Iterable[Outcome], file: str, format: str) -> ReadResult:
    """The one path from an adapter's rows to records, whichever door they came in by.

    Each record gets its detected language; a row that failed, or that repeats an earlier
    row's source and source_id, becomes a rejection naming its row; notes are kept. A file,
    an API request and a submission therefore agree on what a valid project is.
    """
    result = ReadResult(format=format, file=file)
    first_row = result.rows
    for number, outcome in outcomes:
        if isinstance(outcome, RecordError):
            result.rejected.append(Rejected(file, number, str(outcome)))
        elif isinstance(outcome, Skip):
            result.skipped.append(Skipped(file, number, outcome.reason))
        elif outcome.id in first_row:
            result.rejected.append(
                Rejected(
                    file, number, f"duplicate source_id {outcome.source_id}, first seen at row {first_row[outcome.id]}"
                )
            )
        else:
            first_row[outcome.id] = number
            result.notes.extend(Note(file, number, note) for note in outcome.notes)
            result.records.append(with_detected_language(outcome))
    return result


def _outcomes(fmt: str, loaded: Loaded, default_source: str | None) -> Iterator[Outcome]:
    path = loaded.path
    if fmt == "pstw-xlsx":
        if not loaded.is_xlsx:
            raise FormatError(
                path, "this is a text file, not an XLSX workbook", f"Use --format {_text_hint(loaded) or 'pstw-csv'}"
            )
        header, rows = xlsx_rows(path, wanted=pstw.ID_COLUMN, max_bytes=loaded.max_xlsx_bytes)
        _require_columns(path, fmt, header, pstw.SIGNATURE, rows)
        return pstw.pstw_rows(rows)
    if loaded.text is None:
        raise FormatError(
            path,
            f"this is an XLSX workbook, which {fmt} cannot be",
            "Use --format pstw-xlsx for a Tech Watch export, or save the sheet as CSV",
        )
    text = loaded.text
    if fmt in ("erfa-jsonl", "digdir-json") and not text.lstrip().startswith(("{", "[")):
        hint = _text_hint(loaded)
        raise FormatError(
            path,
            f"not {fmt}: the file does not start with '{{' or '['",
            f"It looks like {hint}: use --format {hint} or leave --format out"
            if hint
            else "Check that this is the right file",
        )
    if fmt == "erfa-jsonl":
        return erfa.erfa_jsonl(jsonl_rows(text), default_source)
    if fmt == "digdir-json":
        return digdir.digdir_json(json_items(text, path))
    header, rows = csv_rows(text, sniff_delimiter(text), path)
    if fmt == "erfa-csv":
        names = {h.strip().lower() for h in header}
        missing = {"title", "source_id"} - names
        if missing:
            _wrong_format(path, fmt, header, f"it has no {_quoted(sorted(missing))} column")
        unknown = erfa.unknown_columns(header)
        if unknown:
            raise FormatError(
                path,
                f"column {names_preview(unknown)} is not an erfa field"
                if len(unknown) == 1
                else f"{len(unknown):,} columns are not erfa fields: {names_preview(unknown)}",
                f"Rename or remove it; allowed columns are: {', '.join(erfa.FIELDS)}",
            )
        return erfa.erfa_csv(rows, default_source)
    if fmt == "digdir-csv":
        _require_columns(path, fmt, header, digdir.SIGNATURE, rows)
        return digdir.digdir_csv(rows)
    if fmt == "pstw-csv":
        _require_columns(path, fmt, header, pstw.SIGNATURE, rows)
        return pstw.pstw_rows(rows)
    if fmt == "aiwatch-csv":
        _require_columns(path, fmt, header, aiwatch.SIGNATURE, rows)
        return aiwatch.aiwatch_rows(rows)
    raise AssertionError(f"format {fmt} has no reader")  # FORMATS and this list drifted


def _require_columns(
    path: Path, fmt: str, header: list[str], signature: frozenset[str], rows: Iterator[object]
) -> None:
    missing = signature - {norm_key(h) for h in header}
    if missing:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
        _wrong_format(path, fmt, header, f"its header lacks the columns {fmt} needs ({_quoted(sorted(missing))})")


def _wrong_format(path: Path, fmt: str, header: list[str], problem: str) -> None:
    detected = csv_format_of(header)
    fix = (
        f"It looks like {detected}: use --format {detected} or leave --format out"
        if detected
        else "Check that this is the right file, or leave --format out to detect the format"
    )
    raise FormatError(path, f"not {fmt}: {problem}", fix)


def _text_hint(loaded: Loaded) -> str | None:
    """The detected format, for error messages about a wrong --format."""
    try:
        return classify(loaded)
    except FormatError:
        return None


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


__all__ = [
    "FORMATS",
    "FormatError",
    "Note",
    "ReadResult",
    "Rejected",
    "collect",
    "detect_format",
    "read_file",
    "read_items",
]
