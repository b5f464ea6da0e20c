"""What a search answer looks like outside the engine: one shape for the API and `erfa ... --json`.

The engine returns pages of ``Hit`` and ``Partner``; people and programs see the
models of schemas.py, which the functions below fill. Both the HTTP routes and the CLI's ``--json`` go through these
functions, so a script that reads ``erfa search --json`` reads what ``GET /search``
returns, field for field, and a new field reaches both at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from erfa.index import Hit, PartnersPage, SearchPage
from erfa.index.search.partners import Reason
from erfa.service.api.schemas import (
    Contact,
    PartnerOut,
    PartnersResponse,
    ReachOut,
    ReasonOut,
    SearchResponse,
    SearchResult,
    SimilarResponse,
    Twin,
)
from erfa.service.pages import i18n


def result(hit: Hit) -> SearchResult:
    r = hit.record
    return SearchResult(
        id=r.id,
        title=r.title,
        organisation=r.organisation,
        country=r.country,
        language=r.language,
        owner_type=r.owner_type,
        sector=r.sector,
        sector_inferred=r.sector_inferred,
        status=r.status,
        start_year=r.start_year,
        end_year=r.end_year,
        score=round(hit.score, 6),
        similarity=round(hit.similarity, 4),
        snippet=hit.snippet,
        marks=hit.marks,
        link=r.link,
        twins=[Twin(id=t.id, source=t.source, title=t.title, language=t.language, link=t.link) for t in hit.twins],
        close_match=hit.close_match,
    )


def search_response(page: SearchPage) -> SearchResponse:
    return SearchResponse(
        query=page.query,
        total=page.total,
        close_match=page.close_match,
        results=[result(h) for h in page.hits],
        matches=page.matches,
        facets=page.facets,
        facets_over=page.facets_over,
    )


def similar_response(project_id: str, hits: Sequence[Hit]) -> SimilarResponse:
    return SimilarResponse(id=project_id, results=[result(h) for h in hits])


def partners_response(page: PartnersPage) -> PartnersResponse:
    return PartnersResponse(
        query=page.query,
        close_match=page.close_match,
        partners=[
            PartnerOut(
                organisation=p.organisation,
                country=p.country,
                owner_type=p.owner_type,
                score=p.score,
                projects=[result(h) for h in p.projects],
                link=p.website,
                contact=Contact(website=p.website, registry_id=p.registry_id, contact=getattr(p, "contact", None)),
                reach=ReachOut(**dataclasses.asdict(p.reach)) if p.reach else None,
                reason=_reason(p.reason),
            )
            for p in page.partners
        ],
    )


def _reason(reason: Reason | None) -> ReasonOut | None:
    if reason is None:
        return None
    first = reason.closest.record
    return ReasonOut(
        projects=reason.projects,
        statuses=reason.statuses,
        closest_id=first.id,
        closest_title=first.title,
        close_match=reason.close_match,
        text=reason_text("en", reason),
    )


def reason_text(lang: str, reason: Reason) -> str:
    """One line on why an organisation ranks where it does: "2 projects (1 in use, 1 pilot) –
    closest: KartAi", in the reader's language."""
    count = i18n.t(lang, "reason_projects", n=reason.projects)
    statuses = ", ".join(
        f"{n} {i18n.label(lang, 'status', code).lower() if code else i18n.t(lang, 'reason_no_status')}"
        for code, n in reason.statuses.items()
    )
    return f"{count} ({statuses}) – {i18n.t(lang, 'reason_closest', title=reason.closest.record.title)}"
