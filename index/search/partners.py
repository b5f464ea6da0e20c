"""Whom to ask: organisations ranked by the experience their projects show for a need.

Kept apart from project search because it changes for different reasons (issue 12):

- *which projects count*: the need's best results, one per project (twins collapsed,
  index/bodies/twins.py), every close match plus the best few when nothing stands out: an
  organisation list is never empty while the results hold experience, and
  ``close_match: false`` says that the experience is only the nearest there is;
- *how much each counts*: relevance first (how close the project is to the best result,
  in units of the need's score spread), then how far it got and how recent it is;
- *who owns it*: one key per body (`Metadata.org_key_of`: spellings, languages and
  registry numbers merged, index/bodies/organisations.py), shown under the body's own name;
- *why*: each partner carries a `Reason` (its projects by status and its closest one),
  worded by the service in the reader's language;
- *how to reach it* (issue 19): every partner has a `Reach`: the body's web site where a
  record of it gives one (its own projects', then any record of the body) or the
  directory of public registers does (index/bodies/directory.py, with the match's
  confidence), else a project's own page, its twins' included. One body is one row,
  also when two registries put its project in two countries (the same key and the same
  project page or title: the ETAPAS chatbot of SINTEF, filed under Norway and Sweden).

The parameters were chosen on the dev split of the real-data set with an
organisation-level reading of its labels (index/evaluate/partners.py, models.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlparse

import numpy as np

from erfa.index.bodies.directory import BodiesDirectory, Entry
from erfa.index.search import ranking
from erfa.index.search.facets import Filters
from erfa.index.search.searcher import CANDIDATES, Hit, Ranking, Searcher, hits
from erfa.index.search.snapshot import Snapshot
from erfa.ingest.record import Record

T = TypeVar("T")

PARTNER_DEPTH = 60  # results looked at when ranking organisations
# Projects that count besides the close matches: the best EXPERIENCE_DEPTH results, each weighed by
# exp(-(best score - its score) / the spread of the need's scores), so a result far below the best
# counts for little. Limiting them further to within 2, 3 or 4 spreads of the best, or counting
# 3, 5 or 20, was measured and did worse on dev (models.md, "Whom to ask").
EXPERIENCE_DEPTH = 10
EXPERIENCE_SPREAD = math.inf
# When close matches cannot be judged (an uncalibrated model, a corpus under 50 passages) the
# scores' spread says little either: only results within one spread of the best count, as before.
UNJUDGED_SPREAD = 1.0
# How much status and recency count beside relevance: a project's weight is
# relevance * (1 - STATUS_SHARE + STATUS_SHARE * status weight * recency weight).
STATUS_SHARE = 0.3


@dataclass(frozen=True)
class Reason:
    """Why an organisation is on the list, as data: the service words it per language."""

    projects: int  # its projects among those that count
    statuses: dict[str, int]  # status code ("" = unknown) -> how many of them
    closest: Hit  # its best-ranked project
    close_match: bool | None  # the closest one is a close match itself (None: not judged)


@dataclass(frozen=True)
class Reach:
    """How to reach a partner, and how sure erfa is of it.

    ``kind`` "website": the organisation's own web site, from ``source`` "record" (one of the
    partner's projects gives it), "body_record" (another record of the same body does),
    "wikidata" or "enhetsregisteret" (the directory; ``confidence`` and ``matched`` say how the
    name was matched), or "project_root" (a project link that is a site's root, issue 12).
    ``kind`` "project_link": no web site is known, so a project's own page ("project"), its
    twin's in another registry ("twin"), or, when none of the matching projects has a page,
    another project's of the same body ("body_project"); ``project_id`` names the project.
    """

    kind: Literal["website", "project_link"]
    url: str
    source: str
    confidence: float | None = None
    matched: str | None = None
    project_id: str | None = None


@dataclass(frozen=True)
class Partner:
    organisation: str
    country: str | None
    owner_type: str | None
    score: float
    projects: list[Hit]
    website: str | None
    registry_id: str | None = None  # organisation number, where the data gives one
    reason: Reason | None = None
    key: str = ""  # the body's key (`Metadata.org_key_of`)
    contact: str | None = None  # a functional contact its projects publish (only with the submitter's consent)
    reach: Reach | None = None  # how to reach it: its web site, else a project page (None only without either)


@dataclass(frozen=True)
class PartnersPage:
    query: str
    close_match: bool | None
    partners: list[Partner] = field(default_factory=list)


@dataclass(frozen=True)
class Params:
    depth: int = EXPERIENCE_DEPTH
    spread: float = EXPERIENCE_SPREAD
    status_share: float = STATUS_SHARE


def rank_partners(
    searcher: Searcher,
    snap: Snapshot,
    query: str,
    *,
    limit: int = 10,
    filters: Filters | None = None,
    directory: BodiesDirectory | None = None,
) -> PartnersPage:
    """Organisations ranked by relevant experience: how many projects match, how
    well, how far they got and how recently. ``directory``: web sites from public
    registers (`erfa sync`), consulted for bodies whose records give none."""
    mask = snap.meta.mask(filters or Filters())
    ranked = searcher.rank(snap, query, max(CANDIDATES, PARTNER_DEPTH), mask)
    partners = organisations(snap, query, ranked, directory=directory)
    return PartnersPage(query, ranked.close, partners[:limit])


def counted(snap: Snapshot, ranked: Ranking, params: Params = Params()) -> dict[int, float]:
    """rowid -> relevance in (0, 1] of the projects that count as experience."""
    page = ranked.order[:PARTNER_DEPTH]  # one per project already (Searcher.rank collapses twins)
    if not page:
        return {}
    best = ranked.scores[page[0]]
    spread = snap.space.spread(ranked.query) if ranked.query is not None else 0.0
    spread = spread or 0.05
    within = params.spread if ranked.close is not None else UNJUDGED_SPREAD
    out: dict[int, float] = {}
    for i, r in enumerate(page):
        gap = (best - ranked.scores[r]) / spread
        if r in ranked.marked or (i < params.depth and gap <= within):  # a close match (index/search/marker.py) counts
            out[r] = math.exp(-gap)
    return out


def organisations(
    snap: Snapshot, query: str, ranked: Ranking, params: Params = Params(), directory: BodiesDirectory | None = None
) -> list[Partner]:
    """Every organisation owning a project that counts, best first."""
    weights = counted(snap, ranked, params)
    found = hits(
        snap,
        query,
        list(weights),
        ranked.scores,
        ranked.sims,
        ranked.marked if ranked.close is not None else None,
        ranked.copies,
    )
    groups: dict[tuple[str, str], list[tuple[int, Hit]]] = {}
    for rowid, h in found:
        # a name that gives no body key ("...", "§", a list of bodies) names nobody to ask
        if h.record.organisation and (key := snap.meta.org_key_of(rowid)):
            groups.setdefault((h.record.country or "", key), []).append((rowid, h))
    groups = _across_countries(groups)
    partners = [_partner(snap, key, projects, weights, ranked, params, directory) for key, projects in groups.items()]
    partners.sort(key=lambda p: (-p.score, p.organisation))
    return partners


def _across_countries(
    groups: dict[tuple[str, str], list[tuple[int, Hit]]],
) -> dict[tuple[str, str], list[tuple[int, Hit]]]:
    """Groups of one key in two countries joined when they share a project (the same page or
    title): registries disagree on a case's country (PSTW and IPS-X file SINTEF's ETAPAS chatbot
    under Sweden, AI Watch under Norway), and one body must not be two rows. A key alone never
    joins countries: "NAV" is Norway's welfare agency and Hungary's tax office."""
    by_key: dict[str, list[tuple[str, str]]] = {}
    for body in groups:
        by_key.setdefault(body[1], []).append(body)
    out = dict(groups)
    for bodies in by_key.values():
        if len(bodies) < 2:
            continue
        marks = {b: _project_marks(groups[b]) for b in bodies}
        merged: list[list[tuple[str, str]]] = []
        for b in bodies:
            into = next((m for m in merged if any(marks[b] & marks[o] for o in m)), None)
            if into is None:
                merged.append([b])
            else:
                into.append(b)
        for members in merged:
            if len(members) < 2:
                continue
            projects = sorted((p for b in members for p in out.pop(b)), key=lambda p: -p[1].score)
            out[_first_body(members, projects)] = projects
    return out


def _project_marks(projects: list[tuple[int, Hit]]) -> set[str]:
    marks: set[str] = set()
    for _, h in projects:
        for r in (h.record, *h.twins):
            if r.link:
                marks.add("link:" + r.link.rstrip("/").casefold())
            marks.add("title:" + " ".join(r.title.casefold().split()))
    return marks


def _first_body(members: list[tuple[str, str]], projects: list[tuple[int, Hit]]) -> tuple[str, str]:
    """The body (country, key) of the best-ranked project among the joined groups."""
    best = projects[0][1].record.country or ""
    return next((b for b in members if b[0] == best), members[0])


def _partner(
    snap: Snapshot,
    body: tuple[str, str],
    projects: list[tuple[int, Hit]],
    weights: dict[int, float],
    ranked: Ranking,
    params: Params,
    directory: BodiesDirectory | None = None,
) -> Partner:
    score = 0.0
    for rowid, h in projects:
        r = h.record
        quality = ranking.status_weight(r.status) * ranking.recency_weight(r.start_year, r.end_year)
        score += weights[rowid] * (1 - params.status_share + params.status_share * quality)
    country, key = body
    records = [h.record for _, h in projects] + [t for _, h in projects for t in h.twins]
    names = [r.organisation for r in records if r.organisation]
    # the name the body uses itself (organisations.Directory.display); else the commonest spelling seen
    name = snap.meta.org_name(key, country) or max(
        set(names), key=lambda n: (names.count(n), not n.isupper(), len(n), n)
    )
    contacts = [r.contact for r in records if r.contact]
    numbers = [r.organisation_number for r in records if r.organisation_number]
    # the directory of public registers (`erfa sync`), looked up under every spelling of the body
    entry = directory.lookup(country, snap.meta.orgs.names_of(key, country) or names) if directory else None
    reach = _reach(snap, country, key, records, [h for _, h in projects], entry)
    registry_id = (
        _commonest(numbers)
        or body_facts(snap).get((country, key), _NO_FACTS)[1]
        or (entry.registry_id if entry else None)
    )
    first_row, first = projects[0]
    is_close = None if ranked.close is None else first_row in ranked.marked
    statuses = Counter(h.record.status or "" for _, h in projects)
    return Partner(
        organisation=name,
        country=first.record.country,
        owner_type=first.record.owner_type,
        score=round(score, 4),
        projects=[h for _, h in projects],
        website=reach.url if reach and reach.kind == "website" else None,
        registry_id=registry_id,
        reason=Reason(len(projects), dict(statuses.most_common()), first, is_close),
        key=key,
        contact=max(set(contacts), key=lambda c: (contacts.count(c), c)) if contacts else None,
        reach=reach,
    )


def _commonest(values: list[str]) -> str | None:
    return max(set(values), key=lambda v: (values.count(v), v)) if values else None


def _reach(
    snap: Snapshot, country: str, key: str, records: list[Record], projects: list[Hit], entry: Entry | None
) -> Reach | None:
    """The surest way to reach the body: a web site a record of it gives (its projects' first,
    then any record of the body), the directory's, a project link that is a site's root (issue
    12), else the best-ranked project's own page or its twin's."""
    if site := _commonest([r.website for r in records if r.website]):
        return Reach("website", site, "record")
    if site := body_facts(snap).get((country, key), _NO_FACTS)[0]:
        return Reach("website", site, "body_record")
    if entry is not None and entry.website:
        return Reach("website", entry.website, entry.source, entry.confidence, entry.matched)
    if root := _commonest([r.link for r in records if r.link and urlparse(r.link).path in ("", "/")]):
        return Reach("website", root, "project_root")
    for h in projects:
        if h.record.link:
            return Reach("project_link", h.record.link, "project", project_id=h.record.id)
        if twin := next((t for t in h.twins if t.link), None):
            return Reach("project_link", twin.link or "", "twin", project_id=h.record.id)
    if other := _body_page(snap, country, key):
        # none of these projects has a page, another project of the same body does (Digdir rows often lack one)
        return Reach("project_link", other[0], "body_project", project_id=other[1])
    return None


_NO_FACTS: tuple[str | None, str | None] = (None, None)


def body_facts(snap: Snapshot) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(country, body key) -> (web site, registry number) that any record of the body gives,
    computed once per snapshot: a body's site given on one project reaches all its rows. Few
    records carry either, so this is one cheap pass (attribute checks) over the records."""
    return _per_snapshot(snap, "_body_facts", lambda: _facts(snap))


def _facts(snap: Snapshot) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    sites: dict[tuple[str, str], list[str]] = {}
    numbers: dict[tuple[str, str], list[str]] = {}
    for rowid, r in snap.records.items():
        if not (r.website or r.organisation_number) or not r.organisation:
            continue
        key = snap.meta.org_key_of(rowid)
        if not key:
            continue
        body = (r.country or "", key)
        if r.website:
            sites.setdefault(body, []).append(r.website)
        if r.organisation_number:
            numbers.setdefault(body, []).append(r.organisation_number)
    return {b: (_commonest(sites.get(b, [])), _commonest(numbers.get(b, []))) for b in {*sites, *numbers}}


def _per_snapshot(snap: Snapshot, name: str, make: Callable[[], T]) -> T:
    """A value worked out once per snapshot, kept on its metadata beside the records it was made
    from: a write gives the snapshot new records, and the value is made again."""
    cached = snap.meta.__dict__.get(name)
    if cached is None or cached[0] is not snap.records:
        cached = snap.meta.__dict__[name] = (snap.records, make())
    value: T = cached[1]
    return value


def _body_page(snap: Snapshot, country: str, key: str) -> tuple[str, str] | None:
    """(page, project id) of another project of the body that has a page: looked for only when
    none of the partner's matching projects has one (one vectorised pass over the body keys),
    and kept for the snapshot: the pass is O(corpus), 2.7 ms at 100k projects, and the same
    bodies come back request after request (issue 22)."""
    meta = snap.meta
    known: dict[tuple[str, str], tuple[str, str] | None] = _per_snapshot(snap, "_body_pages", dict)
    if (country, key) not in known:
        rows = np.flatnonzero((meta.org_keys == key) & (meta.columns["country"] == country) & meta.live)
        pages = sorted(
            (r.link, r.id) for i in rows if (r := snap.records.get(int(meta.rowids[i]))) is not None and r.link
        )
        known[(country, key)] = pages[0] if pages else None
    return known[(country, key)]
