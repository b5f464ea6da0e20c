"""Norway's official overview of AI projects in the public sector (Digdir).

It comes in two shapes with the same content: the CSV that Digdir publishes, and the
JSON its API (`GET /projects`) serves. Both map to source "digdir" with the CSV's id
column as source_id, so ingesting one after the other updates records instead of
duplicating them.

JSON key names are those of Informasjonsforvaltning/ai-project-service,
`model/data.go` (struct AIProject, json tags: id, prosjekteier, prosjekttittel,
departement, eiertype, kontaktperson, sektor, prosjektBeskrivelse, prosjektFormaal,
prosjektstart, prosjektslutt, tilknyttedeOrganisasjoner, innleideKonsulenter,
lenkeTilProsjekt, status, typeData, datakilde, modellutvikling, klassifisering);
`handlers/csvHandlers.go` returns them as a bare JSON array, and
`service/csvService.go` fills them from the CSV columns in order (ID = column 0).
Earlier versions had no json tags, so Go emitted the field names themselves
("ProsjektBeskrivelse", "ProsjektFormål"); `norm_key` makes those match too.

Deliberately not used:
* "Sektor (intern | ikke publisering)" / `sektor`: marked internal and not for
  publication, and Digdir's own API leaves it out ("IKKE I BRUK"). The sector is
  derived from the (public) ministry instead, where that is unambiguous.
* `kontaktperson`: a named person; erfa points to organisations, not people.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from erfa.ingest import vocab
from erfa.ingest.formats._base import Outcome, Rows, by_norm_key, link_in, map_rows, tags, text
from erfa.ingest.record import Record

SOURCE = "digdir"
COUNTRY = "NO"

# Record field -> the normalised column/key names it may come from (CSV first, JSON after).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "source_id": ("", "id"),
    "organisation": ("prosjekteier",),
    "title": ("prosjekttittel",),
    "ministry": ("departement",),
    "owner_type": ("eiertype",),
    "description": ("beskrivelseavprosjekt", "prosjektbeskrivelse", "beskrivelse"),
    "purpose": ("formaalmedprosjekt", "prosjektformaal", "formaal"),
    "start_year": ("prosjektstart",),
    "end_year": ("prosjektslutt",),
    "partners": ("tilknyttedeorganisasjoner",),
    "consultants": ("brukavinnleidekonsulenter", "innleidekonsulenter"),
    "link": ("lenketilprosjekt",),
    "status": ("status",),
    "data_types": ("typedata",),
    "data_sources": ("datakilde",),
    "model_development": ("modellutvikling",),
    "classification": ("klassifisering",),
}
# Normalised names that identify this format (used by format detection).
SIGNATURE: frozenset[str] = frozenset({"prosjekttittel", "prosjekteier"})
# Any one of these marks a JSON object as a Digdir project.
JSON_KEYS: frozenset[str] = frozenset({"prosjekttittel", "prosjekteier", "prosjektbeskrivelse"})
_YES = frozenset({"ja", "yes", "j", "y", "x", "true"})


def digdir_csv(rows: Rows) -> Iterator[Outcome]:
    """Adapter for Digdir's published CSV."""
    return map_rows(rows, _convert)


def digdir_json(rows: Rows) -> Iterator[Outcome]:
    """Adapter for the ai-project-service JSON (same mapping, other key spelling)."""
    return map_rows(rows, _convert)


def _convert(row: Mapping[str, object]) -> Record:
    cells = by_norm_key(row)

    def get(field: str) -> object:
        for key in _COLUMNS[field]:
            value = cells.get(key)
            if text(value) is not None:
                return value
        return None

    organisation = text(get("organisation"))
    ministry = text(get("ministry"))
    extra: list[str] = []
    if text(get("model_development")) and str(text(get("model_development"))).casefold() in _YES:
        extra.append("modellutvikling")
    if text(get("consultants")) and str(text(get("consultants"))).casefold() in _YES:
        extra.append("innleide konsulenter")
    return Record.build(
        SOURCE,
        text(get("source_id")),
        title=get("title"),
        description=get("description"),
        purpose=get("purpose"),
        organisation=organisation,
        owner_type=vocab.normalise_owner_type(get("owner_type"), organisation),
        partners=get("partners"),
        country=COUNTRY,
        sector=vocab.sector_from_ministry(ministry),
        status=vocab.normalise_status(get("status")),
        start_year=text(get("start_year")),
        end_year=text(get("end_year")),
        link=link_in(get("link")),
        tags=tags(ministry and [ministry], get("classification"), get("data_types"), get("data_sources"), extra),
    )
