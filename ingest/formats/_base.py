"""Small helpers every adapter needs, so each adapter reads as a column mapping."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from erfa.ingest.limits import MAX_CELL_CHARS, short
from erfa.ingest.record import Record, RecordError, web_link


@dataclass(frozen=True)
class Skip:
    """A row an adapter leaves out on purpose (not a project for erfa), with why: the ingest
    report counts these per reason, so nothing a registry holds disappears without a word."""

    reason: str


Outcome: TypeAlias = tuple[int, Record | RecordError | Skip]
Rows: TypeAlias = Iterable[tuple[int, Mapping[str, object] | RecordError]]

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SPLIT = re.compile(r"[;,\n\r]+")
MAX_TAG_LENGTH = 60
_URL = re.compile(r"https?://[^\s,;()<>\"']+", re.I)
# A bare domain inside text ("Project (icgi.no)"); the top-level part has letters only.
_DOMAIN = re.compile(r"(?<![\w@.-])(?:[\w-]+\.)+[^\W\d_]{2,}(?:/[^\s,;()<>\"']*)?", re.I)
# Tag values that carry no information on their own.
_EMPTY_TAGS = frozenset({"annet", "other", "ja", "nei", "yes", "no", "x", "n/a", "ukjent", "unknown"})


def norm_key(name: object) -> str:
    """'Formål med prosjekt', 'formaalMedProsjekt' and ' Status' -> comparable keys.

    Sources spell the same column differently between their CSV and JSON exports (and
    across versions); comparing on letters and digits only absorbs that, and the
    Scandinavian letters are spelled out the way JSON keys transliterate them.
    """
    text = str(name).casefold().replace("å", "aa").replace("ø", "oe").replace("æ", "ae")
    return _NOT_ALNUM.sub("", text)


def by_norm_key(row: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in row.items():
        out.setdefault(norm_key(key), value)
    return out


def text(value: object) -> str | None:
    """A cell as clean text; spreadsheet blanks (None, '', NBSP) become None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = " ".join(str(value).split())
    return s or None


def split_values(*values: object) -> list[str]:
    """Items of cells that hold lists as ';', ',' or line-separated text."""
    out: list[str] = []
    for value in values:
        if value is None:
            continue
        parts = value if isinstance(value, list) else _SPLIT.split(str(value))
        for part in parts:
            item = text(part)
            if item:
                out.append(item)
    return out


def tags(*values: object) -> list[str]:
    """Short, informative, de-duplicated (case-insensitively) tags in source order."""
    out: list[str] = []
    seen: set[str] = set()
    for item in split_values(*values):
        key = item.casefold()
        if len(item) > MAX_TAG_LENGTH or key in _EMPTY_TAGS or key in seen:
            continue
        seen.add(key)
        out.append(item)
    return out


def link_in(cell: object, *cited: object) -> str | None:
    """The usable web link in a registry's link cell, else the first URL `cited` holds.

    Registries put several links in one cell ("https://a.nl/ https://b.nl/"), prose
    around them ("Project (icgi.no)"), or "NA". The record accepts one http(s) link
    only, so the adapters pick it here rather than lose the whole project over its
    link cell. Bare domains are looked for in the link cell only: in a citation
    "Report.pdf" would look like one.
    """
    own = text(cell)
    tries: list[str | None] = []
    if own:
        url, domain = _URL.search(own), _DOMAIN.search(own)
        tries += [_whole(own), url.group(0) if url else None, domain.group(0) if domain else None]
    for other in cited:
        found = _URL.search(text(other) or "")
        tries.append(found.group(0) if found else None)
    for candidate in tries:
        if candidate:
            try:
                return web_link(candidate.rstrip("."))
            except ValueError:
                continue
    return None


def _whole(cell: str) -> str | None:
    return cell if not any(ch.isspace() for ch in cell) and ("/" in cell or "." in cell) else None


def oversized_cell(row: Mapping[str, object]) -> RecordError | None:
    """A row with a value longer than MAX_CELL_CHARS, as the reason to reject it.

    Checked before a row is converted, so a bomb never reaches language detection,
    the record or the passage splitter.
    """
    for key, value in row.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and len(item) > MAX_CELL_CHARS:
                return RecordError(
                    f"{short(str(key))!r} holds {len(item):,} characters; erfa reads at most "
                    f"{MAX_CELL_CHARS:,} per cell (a pasted document or a broken export?)"
                )
    return None


def map_rows(rows: Rows, convert: Callable[[Mapping[str, object]], Record | Skip | None]) -> Iterator[Outcome]:
    """Apply `convert` to each row; errors and skips (with their reason) stay with their row;
    None drops a row that is no project row at all (erfa's own file-description line)."""
    for number, row in rows:
        if isinstance(row, RecordError):
            yield number, row
            continue
        too_long = oversized_cell(row)
        if too_long is not None:
            yield number, too_long
            continue
        try:
            record = convert(row)
        except RecordError as exc:
            yield number, exc
            continue
        if record is not None:
            yield number, record
