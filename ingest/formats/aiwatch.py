"""The JRC's AI Watch case lists: AI Watch T6 ("9-services-ai-watch-t6") and IPS-X
(the Innovative Public Services explorer, `cases.csv`).

Both come from the same JRC data model, so one adapter reads both: name, description,
geocoverage (country), lead_organisation_name / _category, primary/secondary sector,
technology, status, start/end date, url. IPS-X adds its own `id` and lists blockchain
cases beside the AI ones; only rows whose technology says artificial intelligence (or
machine learning / NLP / computer vision) are projects for erfa. The others (167 blockchain
cases in the public file) are skipped with their reason, which `erfa ingest` reports.

AI Watch T6 has no id column, so a case's id is derived from its name and lead
organisation: stable across re-exports as long as the case keeps its name, which is
what the source itself uses to tell cases apart. The two files share many cases with
each other and with the Public Sector Tech Watch export; they are kept as separate
records here (each source keeps its own id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping

from erfa.ingest import vocab
from erfa.ingest.formats._base import Outcome, Rows, Skip, by_norm_key, link_in, map_rows, tags, text
from erfa.ingest.record import Record

SOURCE_T6 = "aiwatch"
SOURCE_IPS = "ipsx"
# Normalised header names that identify the family (format detection).
SIGNATURE: frozenset[str] = frozenset({"name", "description", "geocoverage", "leadorganisationname"})
_AI = re.compile(r"artificial intelligence|machine learning|natural language|computer vision|\bai\b", re.I)
_YEAR = re.compile(r"(19|20)\d\d")
_STATUS = {"not in use anymore": "discontinued", "in use": "implemented", "active": "implemented"}


def aiwatch_rows(rows: Rows) -> Iterator[Outcome]:
    """Adapter for both files; the source name follows from the columns (IPS-X has `cid`)."""
    return map_rows(rows, _convert)


def _convert(row: Mapping[str, object]) -> Record | Skip:
    c = by_norm_key(row)
    technology = text(c.get("technology")) or ""
    is_ips = "cid" in c
    if is_ips and technology and not _AI.search(technology):
        # IPS-X's blockchain cases are not AI projects (AI Watch lists AI only); the report counts them
        return Skip(f"not an AI case: IPS-X lists its technology as {technology!r}, and erfa holds AI projects only")
    organisation = text(c.get("leadorganisationname")) or text(c.get("leadorganisationname_"))
    source = SOURCE_IPS if is_ips else SOURCE_T6
    source_id = text(c.get("id")) if is_ips else _derived_id(c.get("name"), organisation)
    status = text(c.get("status")) or ""
    return Record.build(
        source,
        source_id,
        title=c.get("name"),
        description=c.get("description"),
        organisation=organisation,
        owner_type=vocab.normalise_owner_type(c.get("leadorganisationcategory"), organisation),
        country=vocab.country_code(c.get("geocoveragecodes") or c.get("geocoverage")),
        sector=vocab.normalise_sector(c.get("primarysector")),
        status=_STATUS.get(status.casefold()) or vocab.normalise_status(status),
        start_year=_year(c.get("startdate")),
        end_year=_year(c.get("enddate")),
        link=link_in(c.get("url")),
        tags=tags(technology, c.get("type")),
    )


def _derived_id(name: object, organisation: str | None) -> str:
    key = f"{text(name) or ''}|{organisation or ''}".casefold()
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def _year(value: object) -> int | None:
    found = _YEAR.search(text(value) or "")
    return int(found.group(0)) if found else None
