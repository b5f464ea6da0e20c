"""Small helpers every adapter needs, so each adapter reads as a column mapping."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeAlias

from erfa.ingest.record import Record, RecordError

Outcome: TypeAlias = tuple[int, Record | RecordError]
Rows: TypeAlias = Iterable[tuple[int, Mapping[str, object] | RecordError]]

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SPLIT = re.compile(r"[;,\n\r]+")
MAX_TAG_LENGTH = 60
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


def map_rows(rows: Rows, convert: Callable[[Mapping[str, object]], Record | None]) -> Iterator[Outcome]:
    """Apply `convert` to each row; errors stay with their row, None skips the row."""
    for number, row in rows:
        if isinstance(row, RecordError):
            yield number, row
            continue
        try:
            record = convert(row)
        except RecordError as exc:
            yield number, exc
            continue
        if record is not None:
            yield number, record
