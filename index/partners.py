"""Whom to ask: organisations ranked by the experience their projects show for a need.

Grouping (one key per body per country, `Metadata.org_key_of`), weights (how well
each project matches, how far it got, how recent it is) and the fallback when no
project stands out are kept here, apart from project search, because they change
for different reasons (issue 12 reworks them)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from erfa.index import ranking
from erfa.index.facets import Filters
from erfa.index.searcher import CANDIDATES, Hit, Searcher, hits, standout
from erfa.index.snapshot import Snapshot

PARTNER_DEPTH = 60  # projects considered when ranking organisations


@dataclass(frozen=True)
class Partner:
    organisation: str
    country: str | None
    owner_type: str | None
    score: float
    projects: list[Hit]
    website: str | None
    registry_id: str | None = None  # organisation number, where the data gives one


@dataclass(frozen=True)
class PartnersPage:
    query: str
    close_match: bool | None
    partners: list[Partner]


def rank_partners(searcher: Searcher, snap: Snapshot, query: str, *, limit: int = 10,
                  filters: Filters | None = None) -> PartnersPage:
    """Organisations ranked by relevant experience: how many projects match, how
    well, how far they got and how recently."""
    mask = snap.meta.mask(filters or Filters())
    ranked = searcher.rank(snap, query, max(CANDIDATES, PARTNER_DEPTH), mask)
    page = ranked.order[:PARTNER_DEPTH]
    threshold = searcher.threshold()
    keep: list[int] = []
    if ranked.close is not None and ranked.query is not None and threshold is not None:
        # projects that stand out as matches themselves count as experience ...
        keep = [r for r in page if standout(snap, ranked.query, ranked.sims.get(r, 0.0)) >= threshold]
    if not keep and page and ranked.query is not None:
        # ... and when none does, the few that are as close as the best one (within one standard deviation
        # of the need's scores) still say who has come closest; close_match: false tells the difference
        spread = snap.space.spread(ranked.query)
        best = ranked.sims.get(page[0], 0.0)
        keep = [r for r in page if ranked.sims.get(r, 0.0) >= best - spread][: ranking.PARTNER_FALLBACK]
    found = hits(snap, query, keep, ranked.scores, ranked.sims)
    if not found:
        return PartnersPage(query, ranked.close, [])
    top = max(found[0][1].score, 1e-6)
    groups: dict[tuple[str, str], list[Hit]] = {}
    for rowid, h in found:
        if h.record.organisation:
            groups.setdefault((h.record.country or "", snap.meta.org_key_of(rowid)), []).append(h)
    partners = [_partner(projects, top) for projects in groups.values()]
    partners.sort(key=lambda p: (-p.score, p.organisation))
    return PartnersPage(query, ranked.close, partners[:limit])


def _partner(projects: list[Hit], top: float) -> Partner:
    score = sum(
        max(0.0, h.score / top) * ranking.status_weight(h.record.status) * ranking.recency_weight(h.record.start_year, h.record.end_year)
        for h in projects
    )
    names = [h.record.organisation for h in projects if h.record.organisation]
    # the commonest spelling; on a tie, not SHOUTED, then the longest, then a fixed order
    name = max(set(names), key=lambda n: (names.count(n), not n.isupper(), len(n), n))
    links = [h.record.link for h in projects if h.record.link and urlparse(h.record.link).path in ("", "/")]
    numbers = [h.record.organisation_number for h in projects if h.record.organisation_number]
    first = projects[0].record
    return Partner(
        organisation=name, country=first.country, owner_type=first.owner_type, score=round(score, 4), projects=projects,
        website=max(set(links), key=links.count) if links else None,
        registry_id=max(set(numbers), key=numbers.count) if numbers else None,
    )
