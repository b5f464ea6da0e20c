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
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from erfa.ingest.record import Record

SAME_TEXT = 0.95
SAME_TITLE = 0.9
TITLE_FLOOR = 0.3
TRANSLATION = 0.4

Twins = dict[int, tuple[int, ...]]  # rowid -> the other members of its twin group


def _best_cosines(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return float((np.asarray(a) @ np.asarray(b).T).max())


def _title_ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio()


def _linked(ra: Record, rb: Record, cos: float) -> bool:
    if cos >= SAME_TEXT:
        return True
    if cos >= TITLE_FLOOR and _title_ratio(ra.title, rb.title) >= SAME_TITLE:
        return True
    return bool(ra.language and rb.language) and ra.language != rb.language and cos >= TRANSLATION


def find(bodies: Iterable[Sequence[int]], records: Mapping[int, Record],
         vectors: Callable[[int], list[np.ndarray]]) -> Twins:
    """Twin groups among the rowids of each body (one sequence per body)."""
    parent: dict[int, int] = {}

    def root(r: int) -> int:
        while parent.get(r, r) != r:
            r = parent[r]
        return r

    for rows in bodies:
        by_source: dict[str, list[int]] = {}
        for r in rows:
            by_source.setdefault(records[r].source, []).append(r)
        if len(by_source) < 2:
            continue
        vecs = {r: v for r in rows if (v := vectors(r))}
        sources = sorted(by_source)
        for i, sa in enumerate(sources):
            for sb in sources[i + 1:]:
                left = [r for r in by_source[sa] if r in vecs]
                right = [r for r in by_source[sb] if r in vecs]
                if not left or not right:
                    continue
                cos = np.array([[_best_cosines(vecs[a], vecs[b]) for b in right] for a in left])
                for x, a in enumerate(left):
                    y = int(cos[x].argmax())
                    if int(cos[:, y].argmax()) != x:  # not each other's closest: a sibling, not a twin
                        continue
                    b = right[y]
                    if _linked(records[a], records[b], float(cos[x, y])):
                        ra, rb = root(a), root(b)
                        parent.setdefault(a, a)
                        parent.setdefault(b, b)
                        if ra != rb:
                            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for r in parent:
        groups.setdefault(root(r), []).append(r)
    out: Twins = {}
    for members in groups.values():
        members = sorted(set(members))
        if len(members) > 1:
            for m in members:
                out[m] = tuple(o for o in members if o != m)
    return out


def bodies_of(org_keys: np.ndarray, countries: np.ndarray, rowids: np.ndarray, live: np.ndarray,
              only: set[tuple[str, str]] | None = None) -> list[list[int]]:
    """The live rowids of each body (country, organisation key), optionally only some bodies."""
    out: dict[tuple[str, str], list[int]] = {}
    # a write touches a few bodies: look at their rows only, found in one vectorised pass
    candidates = live if only is None else live & np.isin(org_keys, list({k for _, k in only}))
    for i in np.flatnonzero(candidates):
        key = str(org_keys[i])
        if not key:
            continue
        body = (str(countries[i]), key)
        if only is None or body in only:
            out.setdefault(body, []).append(int(rowids[i]))
    return [rows for rows in out.values() if len(rows) > 1]


def update(old: Twins, touched: Iterable[int], found: Twins) -> Twins:
    """``old`` with every group holding a ``touched`` rowid (written or deleted) dropped,
    then the groups ``found`` again among the bodies the write touched added."""
    touched = set(touched)
    out = {r: t for r, t in old.items() if r not in touched and not touched.intersection(t)}
    for r, t in found.items():
        out[r] = t
    return out


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
