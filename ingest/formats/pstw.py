"""EU Public Sector Tech Watch (JRC) case export, as its XLSX or that sheet as CSV.

The two shapes differ only in cell types: the XLSX gives ints and datetimes, the CSV
gives text and Excel serial day numbers. Everything is normalised here so both yield
identical records (same ids, same content hash) for the same case.

Columns used (header spelling as in the 2025 export; compared via `norm_key`, so the
stray leading space in " Status" does not matter): PSTW ID, Name, Website, Description,
Geographical coverage (country), Responsible organisation, Responsible organisation
category, Functions of Government (COFOG level I/II), Status, Start Year, End Year,
Primary/Secondary Technology, AI Classification (I), AI Classification Subdomain (II)
(main/Other I-III), AI Keywords, Source (fallback for a missing link), Date updated.
The benefit checkboxes and GovTech columns are not project descriptions and are left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from erfa.ingest import vocab
from erfa.ingest.formats._base import Outcome, Rows, by_norm_key, link_in, map_rows, tags, text
from erfa.ingest.record import Record

SOURCE = "pstw"
ID_COLUMN = "PSTW ID"
SIGNATURE: frozenset[str] = frozenset({"pstwid", "name"})

# Where the export's relative links ("/collection/...") live.
_PSTW_SITE = "https://interoperable-europe.ec.europa.eu"
_EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)


def pstw_rows(rows: Rows) -> Iterator[Outcome]:
    """Adapter for both the XLSX sheet and its CSV export."""
    return map_rows(rows, _convert)


def _convert(row: Mapping[str, object]) -> Record:
    c = by_norm_key(row)
    organisation = text(c.get("responsibleorganisation"))
    return Record.build(
        SOURCE,
        text(c.get("pstwid")),
        title=c.get("name"),
        description=c.get("description"),
        organisation=organisation,
        owner_type=vocab.normalise_owner_type(c.get("responsibleorganisationcategory"), organisation),
        country=vocab.country_code(c.get("geographicalcoveragecountry")),
        sector=vocab.sector_from_cofog(
            c.get("functionsofgovernmentcofoglevelii"), c.get("functionsofgovernmentcofogleveli")
        ),
        status=vocab.normalise_status(c.get("status")),
        start_year=text(c.get("startyear")),
        end_year=text(c.get("endyear")),
        link=_link(c.get("website"), c.get("source")),
        tags=tags(
            c.get("primarytechnology"),
            c.get("secondarytechnology"),
            c.get("aiclassificationi"),
            c.get("aiclassificationsubdomainiimain"),
            c.get("aiclassificationsubdomainiiotheri"),
            c.get("aiclassificationsubdomainiiotherii"),
            c.get("aiclassificationsubdomainiiotheriii"),
            c.get("aikeywords"),
        ),
        updated_at=_date(c.get("dateupdated")),
    )


def _link(website: object, source: object) -> str | None:
    """The case's website, else the first URL its 'Source' cell cites."""
    found = link_in(website, source)
    if found:
        return found
    site = text(website)
    if site and site.startswith("/"):
        return _PSTW_SITE + site
    return None


def _date(value: object) -> datetime | None:
    """A datetime from the XLSX, or an Excel serial day number / ISO date from the CSV."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    s = text(value)
    if s is None:
        return None
    try:
        return _EXCEL_EPOCH + timedelta(days=float(s))
    except (ValueError, OverflowError):
        pass
    try:
        parsed = datetime.fromisoformat(s)
    except ValueError:
        return None  # an unreadable date is not worth losing the case over
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
