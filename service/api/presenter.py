"""What a search answer looks like outside the engine: one shape for the API and `erfa ... --json`.

The engine returns pages of ``Hit`` and ``Partner``; people and programs see the
models below. Both the HTTP routes and the CLI's ``--json`` go through these
functions, so a script that reads ``erfa search --json`` reads what ``GET /search``
returns, field for field, and a new field reaches both at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from erfa.index import FACET_FIELDS, Hit, PartnersPage, SearchPage
from erfa.index.engine import FACET_DEPTH
from erfa.index.search.partners import Reason
from erfa.service.pages import i18n


class Twin(BaseModel):
    id: str
    source: str
    title: str
    language: str | None
    link: str | None


class SearchResult(BaseModel):
    id: str
    title: str
    organisation: str | None
    country: str | None
    language: str | None
    owner_type: str | None = None
    sector: str | None = None
    sector_inferred: bool = Field(
        False,
        description="True when the source gave no sector and erfa inferred it from "
        "the project's nearest neighbours that have one (models.md).",
    )
    status: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    score: float = Field(description="Ranking score (dense and keyword rankings fused); higher ranks first.")
    similarity: float = Field(0.0, description="Cosine similarity of the need and the project's best-matching passage.")
    snippet: str = Field(description="The part of the description that best explains the match.")
    marks: list[tuple[int, int]] = Field(
        default_factory=list, description="[start, end) character ranges of the query's words in the snippet."
    )
    link: str | None
    twins: list[Twin] = Field(
        default_factory=list,
        description="The same project as held by other sources (another "
        "registry, another language): shown once, under the record of the registry that keeps it "
        "best (its link, years and sector taken from any of them).",
    )
    close_match: bool | None = Field(
        None,
        description="This result is a close match: it does what the need describes, "
        "as far as erfa can tell (models.md, 'Close matches'); null when not judged.",
    )


class SearchResponse(BaseModel):
    query: str
    total: int = Field(description="How many ranked projects (after filters) can be paged through with offset.")
    close_match: bool | None = Field(
        None,
        description="False when no project stands out as a match for the need (see models.md); null when that "
        "cannot be told: an uncalibrated model, or too few projects (under 50 passages) to know what standing out means.",
    )
    results: list[SearchResult]
    matches: int | None = Field(
        None,
        description="How many of the first results (after filters) are close matches: the results whose "
        "close_match is true; null when close_match is null.",
    )
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description=f"Counts per value of {', '.join(FACET_FIELDS)} over the close matches, or over "
        f"the best {FACET_DEPTH} results when there are none (see facets_over); every value present in the registry is "
        "listed, with 0 when no counted project has it.",
    )
    facets_over: Literal["matches", "top"] = Field(
        "top", description=f"'matches': the facets count the close matches; 'top': the best {FACET_DEPTH} results."
    )


class SimilarResponse(BaseModel):
    id: str
    results: list[SearchResult]


class Contact(BaseModel):
    website: str | None = Field(None, description="The organisation's own web site, where the data gives one.")
    registry_id: str | None = Field(
        None, description="Organisation number in a public registry, where the data gives one."
    )
    contact: str | None = Field(
        None,
        description="A functional contact (a team mailbox or a role, never a person) its submitter agreed to publish.",
    )


class ReachOut(BaseModel):
    kind: Literal["website", "project_link"] = Field(
        description="'website': the organisation's own web site; 'project_link': none is known, so the page of one of "
        "its projects (or of that project's twin in another registry)."
    )
    url: str
    source: str = Field(
        description="Where it comes from: 'record' (one of these projects gives the organisation's site), "
        "'body_record' (another project of the same body does), 'wikidata' or 'enhetsregisteret' (the "
        "directory `erfa sync` fills from those public registers), 'project_root' (a project link that is "
        "a site's root), 'project' or 'twin' (the page of one of these projects, or of its twin in "
        "another registry), 'body_project' (the page of another project of the same body)."
    )
    confidence: float | None = Field(
        None,
        description="For 'wikidata' and 'enhetsregisteret': how surely the register's "
        "entity is this body (1.0 registry number, 0.95 its name, 0.85 a name it also goes "
        "by; nothing below 0.8 is ever stored or shown). null for what the data itself says.",
    )
    matched: str | None = Field(
        None, description="The name the register matched, for 'wikidata' and 'enhetsregisteret'."
    )
    project_id: str | None = Field(None, description="For a project link: the project whose page it is.")


class ReasonOut(BaseModel):
    projects: int = Field(description="The organisation's projects among the results that count as experience.")
    statuses: dict[str, int] = Field(description="How many of them have each status ('' = not given).")
    closest_id: str = Field(description="Its best-ranked project.")
    closest_title: str
    close_match: bool | None = Field(
        None, description="Whether that project is a close match itself (null: not judged)."
    )
    text: str = Field(description="The same in one English line; the web page words it in the reader's language.")


class PartnerOut(BaseModel):
    organisation: str
    country: str | None
    owner_type: str | None
    score: float = Field(description="Relevant experience: matching projects weighed by relevance, status and recency.")
    projects: list[SearchResult]
    link: str | None
    contact: Contact
    reach: ReachOut | None = Field(
        None,
        description="How to reach the organisation: its web site, else a project page; "
        "with where it comes from and, for a register's match, how sure it is.",
    )
    reason: ReasonOut | None = Field(
        None, description="Why the organisation is on the list: its projects by status and its closest one."
    )


class PartnersResponse(BaseModel):
    query: str
    close_match: bool | None
    partners: list[PartnerOut]


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
