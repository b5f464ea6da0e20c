"""One project, one result: records of the same project held by two sources.

Norway's overview and PSTW both hold KartAi (in Norwegian and in English); PSTW, AI
Watch and IPS-X copy each other's Nordic cases. Shown apart, a twin takes a second
place in the results, counts twice for its organisation, and comes back as its own
"similar project". Twins are found when a snapshot is built (and, for the bodies a
write touches, when it advances), kept as a map in the snapshot, and read by the
searcher: one result per twin group, never a twin as a similar project.

Two records are twins when they come from different sources, belong to the same body
(`Metadata.org_keys`: spellings, languages and registry numbers merged), are each
other's closest record of that body in the other's source, and

- their best passages are near-identical (cosine >= SAME_TEXT in the language-neutral
  space: the same text, or a light edit of it), or
- their titles are near-identical (difflib ratio >= SAME_TITLE, cosine >= TITLE_FLOOR),
  or
- they are written in different (known) languages and their passages still agree (cosine >=
  TRANSLATION): a translation loses much of the cosine a copy keeps.

Calibrated by reading every cross-source pair of one body in the Nordic and European
corpora (models.md, "One project, one result"): different projects of one body reach
0.88 within one source (a family of speech models, three ECMO studies), so a
same-language pair needs a copy's cosine or a copy's title; translated pairs of
different projects stayed below 0.19, translated twins above 0.42.

Registries spell one body differently ("NVWA", "Netherlands Food and Consumer Product
Safety Authority", "Nederlandse Voedsel- en Warenautoriteit"), so records are also
grouped by *title* within a country (issue 19): the title folded, and for the
"Name - what it does" titles PSTW, IPS-X and AI Watch write, the part after the dash
and the name before it. Across bodies only a copy joins: the same title with text that
agrees (cosine >= CROSS_TITLE), or a near-identical text (cosine >= SAME_TEXT) — many
different projects share a name part ("Chatbot - ...") or a template title
("Detection of crime and subversion in the municipality of ...").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from erfa.index.bodies.organisations import org_key
from erfa.ingest.record import Record

SAME_TEXT = 0.95
SAME_TITLE = 0.9
TITLE_FLOOR = 0.3
TRANSLATION = 0.4
# Across bodies (issue 19), read on every cross-source pair of the full registries that shares
# a title key (models.md, "One project, one row"): the same distinctive title was the same
# project down to cosine 0.29 (IPS-X rewrites PSTW's descriptions); a shared name or "what it
# does" was the same project down to 0.58, different ones ("Xomnia - ...", "GAIA-X: ...") at
# 0.52 and below; a short generic title ("Chatbot") needs a copy's text.
# Sharing a title key and a copy's text (cosine >= COPY) is a twin even when another record is
# closer still: registries list one case twice (IPS-X's SATIKAS), and the mutual-closest rule
# would leave the second copy standing alone.
COPY = 0.9
# Two results of one search from different registries of one country whose texts agree this
# far are one case however they are titled and whoever is named (`near_copies`); the closest
# pair of different projects labelled in the full registries reached 0.91, and across countries.
NEAR_COPY = 0.92
CROSS_SAME_TITLE = 0.25
CROSS_PART = 0.55
CROSS_TITLE = 0.8
DISTINCT_TITLE = 12  # folded characters a title needs to count as distinctive

Twins = dict[int, tuple[int, ...]]  # rowid -> the other members of its twin group
# Where twins are looked for: ("body", country, organisation key) or ("title", country, title key)
Group = tuple[str, str, str]
BODY, TITLE = "body", "title"
_DASH = re.compile(r"\s+[-–—]\s+|:\s+")
_WORD = re.compile(r"[^\w]+")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(_WORD.sub(" ", "".join(c for c in text if not unicodedata.combining(c))).split())


def title_keys(title: str) -> tuple[str, str, str]:
    """(whole title, what it does, its name) folded; "" where a title has no such part.

    "GADgET - Online Gambling Addiction Detection" and "Online Gambling Addiction
    Detection" share what they do; "TALIA SF - Extract and organize knowledge ..." in
    two wordings shares its name. A part of fewer than three words (what it does) or
    more than four (a name) says too little or is no name."""
    parts = _DASH.split(title, maxsplit=1)
    whole = _fold(title)
    if len(parts) < 2:
        return whole, "", ""
    name, does = _fold(parts[0]), _fold(parts[1])
    return (
        whole,
        does if len(does.split()) >= 3 and does != whole else "",
        name if 1 <= len(name.split()) <= 4 and len(name) >= 4 and name != whole else "",
    )


def _best_cosines(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return float((np.asarray(a) @ np.asarray(b).T).max())


def _title_ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def _linked(ra: Record, rb: Record, cos: float, kind: str = BODY) -> bool:
    if kind == TITLE:  # no body in common: the title is the evidence, the text must not contradict it
        same_title = _fold(ra.title) == _fold(rb.title)
        if _bodies_apart(ra.organisation, rb.organisation):  # two towns' own chatbots, however alike
            return False  # (a place's exonym is the alias table's: "Torino" = "Turin")
        if ra.country and rb.country and ra.country != rb.country:  # IPS-X gives many cases another country
            return same_title and len(_fold(ra.title)) >= DISTINCT_TITLE and cos >= CROSS_TITLE
        if same_title:
            return cos >= (CROSS_SAME_TITLE if len(_fold(ra.title)) >= DISTINCT_TITLE else CROSS_TITLE)
        return cos >= CROSS_PART  # a shared name ("IARI - ...") or a shared "what it does"
    if cos >= SAME_TEXT:
        return True
    if cos >= TITLE_FLOOR and _title_ratio(ra.title, rb.title) >= SAME_TITLE:
        return True
    return bool(ra.language and rb.language) and ra.language != rb.language and cos >= TRANSLATION


def _bodies_apart(a: str | None, b: str | None) -> bool:
    """Two names that each name a body by type and place ("municipality:askoy",
    "municipality:bergen") and differ: two municipalities' own chatbots may share a title
    and most of their text, and are still two projects."""
    ka, kb = org_key(a or ""), org_key(b or "")
    return ":" in ka and ":" in kb and ka != kb


def _one_owner(a: Record, b: Record) -> bool:
    """The same owner, or one record names none: a registry's two listings of one case. Two
    owners' identical texts in one registry are one vendor's description of two projects."""
    ka, kb = org_key(a.organisation or ""), org_key(b.organisation or "")
    return not ka or not kb or ka == kb


class _Joins:
    """Union-find over rowids: the twin groups that pairwise joins add up to (the smallest
    rowid is a group's root, so the outcome does not depend on the order of the joins)."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def root(self, r: int) -> int:
        while self.parent.get(r, r) != r:
            r = self.parent[r]
        return r

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def twins(self) -> Twins:
        groups: dict[int, list[int]] = {}
        for r in self.parent:
            groups.setdefault(self.root(r), []).append(r)
        return {m: tuple(o for o in sorted(g) if o != m) for g in groups.values() if len(g) > 1 for m in g}


def find(
    groups: Iterable[tuple[str, Sequence[int]]],
    records: Mapping[int, Record],
    vectors: Callable[[int], list[np.ndarray]],
) -> Twins:
    """Twin groups among the rowids of each candidate group ((kind, rowids): a body, or
    one title within a country), joined across groups."""
    joins = _Joins()
    for kind, rows in groups:
        by_source: dict[str, list[int]] = {}
        for r in rows:
            by_source.setdefault(records[r].source, []).append(r)
        sources = sorted(by_source)
        pairs = [(sa, sb) for i, sa in enumerate(sources) for sb in sources[i + 1 :]]
        if kind == TITLE:  # a registry that lists one case twice (IPS-X's two SATIKAS records)
            pairs += [(s_, s_) for s_ in sources if len(by_source[s_]) > 1]
        if not pairs:
            continue
        vecs = {r: v for r in rows if (v := vectors(r))}
        for sa, sb in pairs:
            left = [r for r in by_source[sa] if r in vecs]
            right = [r for r in by_source[sb] if r in vecs]
            if not left or not right:
                continue
            cos = np.array([[_best_cosines(vecs[a], vecs[b]) if a != b else -1.0 for b in right] for a in left])
            for x, a in enumerate(left):
                y = int(cos[x].argmax())
                # each other's closest, or (sharing a title) a copy: a sibling is neither
                if (
                    sa != sb
                    and int(cos[:, y].argmax()) == x
                    and _linked(records[a], records[right[y]], float(cos[x, y]), kind)
                ):
                    joins.join(a, right[y])
                if kind == TITLE:  # one registry's two listings must be the same text ("Use case 2" / "3" are not)
                    for y in np.flatnonzero(cos[x] >= (COPY if sa != sb else SAME_TEXT)).tolist():
                        b = right[y]
                        if (sa != sb or _one_owner(records[a], records[b])) and _linked(
                            records[a], records[b], float(cos[x, y]), kind
                        ):
                            joins.join(a, b)
    return joins.twins()


def candidate_groups(
    org_keys: np.ndarray,
    titles: np.ndarray,
    countries: np.ndarray,
    rowids: np.ndarray,
    live: np.ndarray,
    only: set[Group] | None = None,
) -> dict[Group, list[int]]:
    """The live rowids of each group (a body, or a title key within a country) holding two
    or more records, optionally only some groups. ``titles`` has `title_keys`' three
    columns per row."""
    out: dict[Group, list[int]] = {}
    if only is not None:  # a write touches a few groups: look at their rows only, found in one vectorised pass
        body_keys = [k for kind, _, k in only if kind == BODY]
        title_keys_ = [k for kind, _, k in only if kind == TITLE]
        candidates = live & (np.isin(org_keys, body_keys) | np.isin(titles, title_keys_).any(axis=1))
    else:
        candidates = live
    for i in np.flatnonzero(candidates):
        country, rowid = str(countries[i]), int(rowids[i])
        for group in groups_of_row(str(org_keys[i]), titles[i], country):
            if only is None or group in only:
                out.setdefault(group, []).append(rowid)
    return {g: rows for g, rows in out.items() if len(rows) > 1}


def groups_of_row(org_key: str, titles: Sequence[str], country: str) -> list[Group]:
    """The candidate groups one record belongs to (no body for a name that gives no key).
    Titles are grouped across countries: IPS-X files many PSTW cases under another country
    ("Yasmine - Robot employee", Nacka, as GB), so `_linked` weighs the countries instead."""
    out = [(TITLE, "", str(t)) for t in titles if t]
    if org_key:
        out.append((BODY, country, org_key))
    return out


def update(old: Twins, touched: Iterable[int], found: Twins) -> Twins:
    """``old`` with every group holding a ``touched`` rowid (written or deleted) dropped,
    then the groups ``found`` again among the bodies the write touched added."""
    touched = set(touched)
    out = {r: t for r, t in old.items() if r not in touched and not touched.intersection(t)}
    for r, t in found.items():
        out[r] = t
    return out


# Which record of a twin group a row shows: a body's own (a submission, its own file) first,
# then Norway's overview (written by the body, in its language), then PSTW, whose cases AI
# Watch and IPS-X copy, the copies often with another country, organisation or no link.
REGISTRY_ORDER = {"digdir": 1, "pstw": 2, "aiwatch": 3, "ipsx": 4}


def shown(record: Record, others: Sequence[Record]) -> tuple[Record, list[Record]]:
    """(the record a twin group's row shows, with what only its copies give; the copies)."""
    if not others:
        return record, []
    group = sorted([record, *others], key=lambda r: REGISTRY_ORDER.get(r.source, 0))  # stable: ties keep the ranked one
    first, rest = group[0], group[1:]
    return merged(first, rest), rest


def merged(record: Record, others: Sequence[Record]) -> Record:
    """The row a twin group shows: the best-ranked record, with what only its copies give.

    IPS-X copies PSTW's cases without their links, AI Watch often without years, and a
    sector may be inferred on one copy and given by the source on another: the row should
    carry the best of each (issue 19), never less than any one of its records."""
    if not others:
        return record
    update: dict[str, object] = {}
    for name in ("link", "website", "organisation_number", "status"):
        if getattr(record, name) is None and (
            given := next((getattr(o, name) for o in others if getattr(o, name)), None)
        ):
            update[name] = given
    if record.sector is None or record.sector_inferred:
        given_sector = next((o.sector for o in others if o.sector and not o.sector_inferred), None)
        if given_sector:
            update.update(sector=given_sector, sector_inferred=False)
    starts = [y for y in (record.start_year, *(o.start_year for o in others)) if y]
    ends = [y for y in (record.end_year, *(o.end_year for o in others)) if y]
    if starts and min(starts) != record.start_year:
        update["start_year"] = min(starts)
    if record.end_year is None and ends:
        update["end_year"] = max(ends)
    return record.model_copy(update=update) if update else record


def near_copies(
    rows: Sequence[int], records: Mapping[int, Record], vectors: Callable[[int], list[np.ndarray]]
) -> Twins:
    """Among the first results of one search, rows that are copies of each other (cosine >=
    NEAR_COPY) from different registries of one country that no group brought together:
    nothing in their titles or owners' names says so ("Tracing labour exploitation" in
    IPS-X, "Tracing potential victims of human trafficking" in PSTW), so the twin finder,
    which looks only within bodies and titles to stay cheap, cannot see them. Looked for
    where people see repeats, among a page's rows, at the cost of a few dot products."""
    keep, blocks = [], []
    for r in rows:
        if v := vectors(r):
            keep.append(r)
            blocks.append(np.asarray(v))
    if len(keep) < 2:
        return {}
    # every pair's best passage cosine from one matrix product (a search's rows: well under a millisecond)
    starts = np.cumsum([0, *(len(b) for b in blocks[:-1])])
    passages = np.vstack(blocks)
    best = np.maximum.reduceat(np.maximum.reduceat(passages @ passages.T, starts, axis=0), starts, axis=1)

    joins = _Joins()
    for i, j in zip(
        *np.nonzero(np.triu(best >= COPY, k=1)), strict=True
    ):  # few pairs pass: the rules below are read only for them
        a, b = keep[int(i)], keep[int(j)]
        ra, rb = records[a], records[b]
        if ra.source == rb.source or _bodies_apart(ra.organisation, rb.organisation):
            continue
        one_owner = bool(ra.organisation) and org_key(ra.organisation or "") == org_key(rb.organisation or "")
        if ra.country and rb.country and ra.country != rb.country and not one_owner:  # PSTW and AI Watch put
            continue  # SINTEF's chatbot in two countries; two countries' own projects stay apart
        alike = _title_ratio(ra.title, rb.title) >= SAME_TITLE  # a copy's title: a copy's text is less in doubt
        if float(best[i, j]) < (COPY if alike else NEAR_COPY):
            continue
        joins.join(a, b)
    return joins.twins()


def collapse(order: Sequence[int], twins: Mapping[int, tuple[int, ...]]) -> list[int]:
    """``order`` with each twin group's best-ranked member only."""
    if not twins:
        return list(order)
    seen: set[int] = set()
    out = []
    for r in order:
        if r in seen:
            continue
        seen.add(r)
        seen.update(twins.get(r, ()))
        out.append(r)
    return out
