"""erfa's own exchange format: the Record's field names, as JSON Lines or CSV.

This is the format we ask public bodies to use when they have no registry of their
own, so it is strict about what it does not understand (an unknown key is most often
a typo that would silently lose data) and lenient about what it can normalise
(status words, country names, blank cells).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import partial

from erfa.ingest import vocab
from erfa.ingest.formats._base import Outcome, Rows, map_rows
from erfa.ingest.limits import short
from erfa.ingest.record import Record, RecordError

# Every Record field except `id`, which is always derived from source + source_id so
# that nobody can make two sources collide or overwrite each other's records.
FIELDS: tuple[str, ...] = tuple(name for name in Record.model_fields if name != "id")
LIST_FIELDS = frozenset({"partners", "tags"})
# Accepted and ignored, so an erfa export can be re-imported unchanged.
IGNORED = frozenset({"id"})
ABOUT_KEY = "_about"

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def erfa_jsonl(rows: Rows, default_source: str | None = None) -> Iterator[Outcome]:
    """Adapter for erfa JSON Lines; `_about` header lines are skipped."""
    return map_rows(rows, partial(_convert, default_source=default_source, csv=False))


def erfa_csv(rows: Rows, default_source: str | None = None) -> Iterator[Outcome]:
    """Adapter for erfa CSV; list fields are ';'-separated because ',' is common in names."""
    return map_rows(rows, partial(_convert, default_source=default_source, csv=True))


def unknown_columns(header: list[str]) -> list[str]:
    """Header names that are not erfa fields (used to refuse a CSV up front)."""
    return [h for h in header if _field_name(h) not in FIELDS and _field_name(h) not in IGNORED]


def _field_name(key: str) -> str:
    return key.strip().lower()


def _convert(row: Mapping[str, object], *, default_source: str | None, csv: bool) -> Record | None:
    if set(row) == {ABOUT_KEY}:
        return None
    fields: dict[str, object] = {}
    for key, value in row.items():
        name = _field_name(str(key))
        if name in IGNORED:
            continue
        if name not in FIELDS:
            raise RecordError(f"unknown key {short(str(key))!r}; allowed keys are: {', '.join(FIELDS)}")
        fields[name] = value

    source = _clean(fields.pop("source", None)) or default_source
    if not source:
        raise RecordError(
            "source is missing: give each row a 'source' (e.g. \"oslo-kommune\"), "
            "or pass a default source when reading the file (--source)"
        )
    source_id = fields.pop("source_id", None)
    # Passed even when absent, so the reason reads "title is missing: ..." rather
    # than pydantic's bare "Field required".
    fields.setdefault("title", None)
    if csv:
        for name in LIST_FIELDS & fields.keys():
            fields[name] = _split_semicolons(fields[name])

    organisation = _clean(fields.get("organisation"))
    if "status" in fields:
        fields["status"] = vocab.normalise_status(fields["status"])
    if "owner_type" in fields or organisation:
        fields["owner_type"] = vocab.normalise_owner_type(fields.get("owner_type"), organisation)
    if "sector" in fields:
        fields["sector"] = vocab.normalise_sector(fields["sector"])
    if "country" in fields:
        fields["country"] = vocab.country_code(fields["country"])
    if "language" in fields:
        fields["language"] = _language(fields["language"])
    return Record.build(str(source), source_id, **fields)


def _clean(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _split_semicolons(value: object) -> object:
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(";")) if part]
    return value


def _language(value: object) -> str | None:
    code = _clean(value)
    if code is None:
        return None
    code = code.lower()
    if not _LANGUAGE.match(code):
        raise RecordError(f"language {value!r} must be an ISO 639-1 code such as nb, nn, sv, da, fi or en")
    return code
