"""Filters and facet counts over the records' categorical fields.

Kept as numpy columns in memory (one row per record, aligned with the keyword index),
so a filter becomes a boolean mask in microseconds even at a million records, and the
allowed ids can be handed to FAISS before the search instead of thinning a page after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from erfa.index.bodies.organisations import Directory, org_key
from erfa.index.bodies.twins import Group, groups_of_row, title_keys
from erfa.ingest import Record
from erfa.ingest.vocab import OWNER_TYPES, SECTORS, STATUSES

FACET_FIELDS = ("country", "language", "owner_type", "sector", "status")
# The filters that take a list of values (the facets, and organisation names).
LIST_FILTERS = (*FACET_FIELDS, "organisation")
KNOWN_VALUES: dict[str, tuple[str, ...]] = {"owner_type": OWNER_TYPES, "sector": SECTORS, "status": STATUSES}


def _title_keys(records: Sequence[Record]) -> np.ndarray:
    """One row of `twins.title_keys` per record (where its twins may be found by title)."""
    return np.array([title_keys(r.title) for r in records] or np.empty((0, 3)), dtype=object).reshape(-1, 3)


class FilterError(ValueError):
    """A filter value that cannot match; the message lists what can."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass
class Filters:
    country: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    owner_type: list[str] = field(default_factory=list)
    sector: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    organisation: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None

    @classmethod
    def parse(
        cls, lists: Mapping[str, Sequence[str] | None], year_from: int | None = None, year_to: int | None = None
    ) -> Filters:
        """Filters as people write them, in URLs and on the command line: `country=NO,SE` and
        `country=NO&country=SE` mean the same; blank values are dropped."""
        return cls(
            **{f: [v.strip() for raw in lists.get(f) or () for v in raw.split(",") if v.strip()] for f in LIST_FILTERS},
            year_from=year_from,
            year_to=year_to,
        )

    def active(self) -> bool:
        return any(getattr(self, f) for f in LIST_FILTERS) or self.year_from is not None or self.year_to is not None


class Metadata:
    """Columns of the categorical fields, row i describing ``rowids[i]``.

    A write appends rows for the records it wrote and marks the rows they replace (and
    the deleted ones) dead in ``live``, so an update costs a copy of a few arrays, not
    a rebuild; a checkpoint rebuilds with only live rows.
    """

    def __init__(self, rowids: Sequence[int], records: Sequence[Record]) -> None:
        self.rowids = np.asarray(rowids, dtype=np.int64)
        self.position = {int(r): i for i, r in enumerate(self.rowids)}
        self.live = np.ones(len(self.rowids), dtype=bool)
        self.columns = {f: np.array([getattr(r, f) or "" for r in records], dtype=object) for f in FACET_FIELDS}
        # organisations merged per country, across spellings and languages ("Kristiansand kommune" =
        # "Kristiansand Municipality"): every name filed first, then each row keyed by its body's root
        self.orgs = Directory()
        for r in records:
            if r.organisation:
                self.orgs.add(r.organisation, r.country or "", r.organisation_number, r.language)
        self.org_keys = np.array(
            [self.orgs.key(r.organisation, r.country or "") if r.organisation else "" for r in records], dtype=object
        )
        self.titles = _title_keys(records)
        self.start = np.array([r.start_year or 0 for r in records], dtype=np.int32)
        self.end = np.array([r.end_year or r.start_year or 0 for r in records], dtype=np.int32)

    def with_rows(self, rowids: Sequence[int], records: Sequence[Record], removed: Sequence[int] = ()) -> Metadata:
        """A new Metadata with ``records`` appended (replacing any live row of the same rowid)
        and ``removed`` rowids dead; this one is unchanged, so searches on it carry on."""
        other = Metadata.__new__(Metadata)
        n = len(self.rowids)
        other.rowids = np.concatenate([self.rowids, np.asarray(rowids, np.int64)])
        other.live = np.concatenate([self.live, np.ones(len(rowids), dtype=bool)])
        other.position = dict(self.position)
        for r in [*removed, *rowids]:
            old = other.position.pop(int(r), None)
            if old is not None:
                other.live[old] = False
        other.position.update({int(r): n + i for i, r in enumerate(rowids)})
        other.columns = {
            f: np.concatenate([self.columns[f], np.array([getattr(r, f) or "" for r in records] or [], dtype=object)])
            for f in FACET_FIELDS
        }
        other.orgs = self.orgs.copy()
        for record in records:
            if record.organisation:
                other.orgs.add(record.organisation, record.country or "", record.organisation_number, record.language)
        keys = [other.orgs.key(r.organisation, r.country or "") if r.organisation else "" for r in records]
        org_keys = self.org_keys
        for country, old_key, new_key in other.orgs.merged:  # a new name joined two known bodies: rekey the old rows
            org_keys = np.where((org_keys == old_key) & (self.columns["country"] == country), new_key, org_keys)
        other.org_keys = np.concatenate([org_keys, np.array(keys, dtype=object)])
        other.titles = np.concatenate([self.titles, _title_keys(records)])
        other.start = np.concatenate([self.start, np.array([r.start_year or 0 for r in records], dtype=np.int32)])
        other.end = np.concatenate(
            [self.end, np.array([r.end_year or r.start_year or 0 for r in records], dtype=np.int32)]
        )
        return other

    def allowed_values(self, field_name: str) -> list[str]:
        return sorted(self.present(field_name) | set(KNOWN_VALUES.get(field_name, ())))

    def present(self, field_name: str) -> set[str]:
        """The values live rows hold, computed once per Metadata (a write makes a new one):
        a set over 100k rows costs milliseconds, too much for every search."""
        cache: dict[str, set[str]] = self.__dict__.setdefault("_present", {})
        if field_name not in cache:
            cache[field_name] = {v for v in self.columns[field_name][self.live] if v}
        return cache[field_name]

    def rows_with(self, field_name: str, values: frozenset[str]) -> np.ndarray:
        """Boolean mask of the rows whose ``field_name`` is one of ``values``, kept per
        Metadata: a search asks for the same few language sets again and again."""
        cache: dict[tuple[str, frozenset[str]], np.ndarray] = self.__dict__.setdefault("_rows_with", {})
        key = (field_name, values)
        if key not in cache:
            cache[key] = np.isin(self.columns[field_name], list(values))
        return cache[key]

    def live_rows(self) -> np.ndarray | None:
        """The rows no write has replaced or deleted; None when that is all of them."""
        return None if self.live.all() else self.live

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Boolean mask over rows, or None when nothing is filtered; raises FilterError."""
        if not filters.active():
            return None  # rows a write replaced are hidden by the vectors, and by live_rows() for BM25
        m = self.live.copy()
        for f in FACET_FIELDS:
            wanted = getattr(filters, f)
            if not wanted:
                continue
            if f == "country":
                wanted = [w.upper() for w in wanted]
                bad = [w for w in wanted if len(w) != 2 or not w.isalpha()]
            else:
                allowed = set(self.allowed_values(f))
                bad = [w for w in wanted if w not in allowed]
            if bad:
                allowed_text = (
                    "two-letter ISO codes such as NO, SE, DK, FI"
                    if f == "country"
                    else ", ".join(self.allowed_values(f))
                )
                raise FilterError(f, f"{f}: unknown value {', '.join(map(repr, bad))}; allowed: {allowed_text}")
            m &= np.isin(self.columns[f], wanted)
        if filters.organisation:
            bodies = {k for o in filters.organisation for k in self.orgs.resolve(o)}
            keys = {k for o in filters.organisation if (k := org_key(o))}  # "..." names no body: it matches none
            m &= np.array(
                [bool(k) and (k in bodies or any(k.startswith(w) or w in k for w in keys)) for k in self.org_keys],
                dtype=bool,
            )
        if filters.year_from is not None or filters.year_to is not None:
            lo = filters.year_from if filters.year_from is not None else 0
            hi = filters.year_to if filters.year_to is not None else 9999
            if lo > hi:
                raise FilterError("year_from", f"year_from ({lo}) is after year_to ({hi})")
            has_year = self.start > 0
            # a project counts if its years overlap the range; an open end means "still running"
            end = np.where(self.end > 0, self.end, 9999)
            m &= has_year & (self.start <= hi) & (end >= lo)
        return m

    def counts(self, rowids: Sequence[int], *, every_value: bool = False) -> dict[str, dict[str, int]]:
        """Per facet field, how many of ``rowids`` have each value, most first. With
        ``every_value`` the values present in the corpus that none of them has follow with
        0, so a user can see (and pick) every value, not only those of the first results."""
        rows = [self.position[int(r)] for r in rowids if int(r) in self.position]
        out: dict[str, dict[str, int]] = {}
        for f in FACET_FIELDS:
            c = Counter(v for v in self.columns[f][rows] if v)
            if every_value:
                c.update({v: 0 for v in self.present(f) - set(c)})
            out[f] = dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
        return out

    def groups_of(self, rowid: int) -> list[Group]:
        """Where a record's twins may be (index/bodies/twins.py): its body and its title keys."""
        i = self.position[int(rowid)]
        return groups_of_row(str(self.org_keys[i]), self.titles[i], str(self.columns["country"][i]))

    def org_key_of(self, rowid: int) -> str:
        return str(self.org_keys[self.position[int(rowid)]])

    def org_name(self, key: str, country: str | None) -> str | None:
        """The name a body (``key`` from `org_key_of`) uses itself (organisations.Directory.display)."""
        return self.orgs.display(key, country or "")


def recount(records: Sequence[Record], template: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """Facet counts over ``records`` as a page shows them, in the shape of ``counts``: every value
    of ``template`` (the search's own counts) stays listed, at 0 when none of them has it.

    A result stands for its project's whole twin group and shows the record of the registry that
    keeps it best (twins.shown), while ``counts`` reads the columns of the ranked row, often another
    registry's record of it: the facets said "Sverige (0)" over a top result that is Swedish
    (issue 21). When everything counted is on the page, the page counts what it shows."""
    out: dict[str, dict[str, int]] = {}
    for f in FACET_FIELDS:
        c = Counter(v for v in (getattr(r, f) for r in records) if v)
        c.update({v: 0 for v in template.get(f, {}) if v not in c})
        out[f] = dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
    return out
