"""Whom to ask: organisations ranked by the experience their projects show for a need.

Kept apart from project search because it changes for different reasons (issue 12):

- *which projects count*: the need's best results, one per project (twins collapsed,
  index/twins.py), every close match plus the best few when nothing stands out: an
  organisation list is never empty while the results hold experience, and
  ``close_match: false`` says that the experience is only the nearest there is;
- *how much each counts*: relevance first (how close the project is to the best result,
  in units of the need's score spread), then how far it got and how recent it is;
- *who owns it*: one key per body (`Metadata.org_key_of`: spellings, languages and
  registry numbers merged, index/organisations.py), shown under the body's own name;
- *why*: each partner carries a `Reason` (its projects by status and its closest one),
  worded by the service in the reader's language.

The parameters were chosen on the dev split of the real-data set with an
organisation-level reading of its labels (index/evaluate_partners.py, models.md).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

from erfa.index import ranking
from erfa.index.facets import Filters
from erfa.index.searcher import CANDIDATES, Hit, Ranking, Searcher, hits, standout
from erfa.index.snapshot import Snapshot

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


def rank_partners(searcher: Searcher, snap: Snapshot, query: str, *, limit: int = 10,
                  filters: Filters | None = None) -> PartnersPage:
    """Organisations ranked by relevant experience: how many projects match, how
    well, how far they got and how recently."""
    mask = snap.meta.mask(filters or Filters())
    ranked = searcher.rank(snap, query, max(CANDIDATES, PARTNER_DEPTH), mask)
    partners = organisations(snap, query, ranked, searcher.threshold())
    return PartnersPage(query, ranked.close, partners[:limit])


def counted(snap: Snapshot, ranked: Ranking, threshold: float | None, params: Params = Params()) -> dict[int, float]:
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
        close = (threshold is not None and ranked.query is not None and ranked.close is not None
                 and standout(snap, ranked.query, ranked.sims.get(r, 0.0)) >= threshold)
        if close or (i < params.depth and gap <= within):
            out[r] = math.exp(-gap)
    return out


def organisations(snap: Snapshot, query: str, ranked: Ranking, threshold: float | None,
                  params: Params = Params()) -> list[Partner]:
    """Every organisation owning a project that counts, best first."""
    weights = counted(snap, ranked, threshold, params)
    found = hits(snap, query, list(weights), ranked.scores, ranked.sims)
    groups: dict[tuple[str, str], list[tuple[int, Hit]]] = {}
    for rowid, h in found:
        # a name that gives no body key ("...", "§") names nobody to ask
        if h.record.organisation and (key := snap.meta.org_key_of(rowid)):
            groups.setdefault((h.record.country or "", key), []).append((rowid, h))
    partners = [_partner(snap, key, projects, weights, ranked, threshold, params) for key, projects in groups.items()]
    partners.sort(key=lambda p: (-p.score, p.organisation))
    return partners


def _partner(snap: Snapshot, body: tuple[str, str], projects: list[tuple[int, Hit]], weights: dict[int, float],
             ranked: Ranking, threshold: float | None, params: Params) -> Partner:
    score = 0.0
    for rowid, h in projects:
        r = h.record
        quality = ranking.status_weight(r.status) * ranking.recency_weight(r.start_year, r.end_year)
        score += weights[rowid] * (1 - params.status_share + params.status_share * quality)
    country, key = body
    records = [h.record for _, h in projects] + [t for _, h in projects for t in h.twins]
    names = [r.organisation for r in records if r.organisation]
    # the name the body uses itself (organisations.Directory.display); else the commonest spelling seen
    name = snap.meta.org_name(key, country) or max(set(names), key=lambda n: (names.count(n), not n.isupper(), len(n), n))
    # the body's own web site where a record gives one (issue 12), else a project link that is a site's root
    links = [r.website for r in records if r.website] or [r.link for r in records if r.link and urlparse(r.link).path in ("", "/")]
    contacts = [r.contact for r in records if r.contact]
    numbers = [r.organisation_number for r in records if r.organisation_number]
    first_row, first = projects[0]
    is_close = None
    if threshold is not None and ranked.query is not None and ranked.close is not None:
        is_close = bool(standout(snap, ranked.query, ranked.sims.get(first_row, 0.0)) >= threshold)
    statuses = Counter(h.record.status or "" for _, h in projects)
    return Partner(
        organisation=name, country=first.record.country, owner_type=first.record.owner_type, score=round(score, 4),
        projects=[h for _, h in projects], website=max(set(links), key=links.count) if links else None,
        registry_id=max(set(numbers), key=numbers.count) if numbers else None,
        reason=Reason(len(projects), dict(statuses.most_common()), first, is_close), key=key,
        contact=max(set(contacts), key=lambda c: (contacts.count(c), c)) if contacts else None,
    )

