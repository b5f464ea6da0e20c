"""What a search answer looks like outside the engine: one shape for the API and `erfa ... --json`.

The engine returns pages of ``Hit`` and ``Partner``; people and programs see the
models below. Both the HTTP routes and the CLI's ``--json`` go through these
functions, so a script that reads ``erfa search --json`` reads what ``GET /search``
returns, field for field, and a new field reaches both at once.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from erfa.index import FACET_FIELDS, Hit, PartnersPage, SearchPage
from erfa.index.engine import FACET_DEPTH


class SearchResult(BaseModel):
    id: str
    title: str
    organisation: str | None
    country: str | None
    language: str | None
    owner_type: str | None = None
    sector: str | None = None
    status: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    score: float = Field(description="Ranking score (dense and keyword rankings fused); higher ranks first.")
    similarity: float = Field(0.0, description="Cosine similarity of the need and the project's best-matching passage.")
    snippet: str = Field(description="The part of the description that best explains the match.")
    marks: list[tuple[int, int]] = Field(default_factory=list, description="[start, end) character ranges of the query's words in the snippet.")
    link: str | None


class SearchResponse(BaseModel):
    query: str
    total: int = Field(description="How many ranked projects (after filters) can be paged through with offset.")
    close_match: bool | None = Field(
        None, description="False when no project stands out as a match for the need (see models.md); null when that "
        "cannot be told: an uncalibrated model, or too few projects (under 50 passages) to know what standing out means."
    )
    results: list[SearchResult]
    matches: int | None = Field(
        None, description="How many projects (after filters) are close matches, however deep they rank; null when "
        "close_match is null.")
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict, description=f"Counts per value of {', '.join(FACET_FIELDS)} over the close matches, or over "
        f"the best {FACET_DEPTH} results when there are none (see facets_over); every value present in the registry is "
        "listed, with 0 when no counted project has it.")
    facets_over: Literal["matches", "top"] = Field(
        "top", description=f"'matches': the facets count the close matches; 'top': the best {FACET_DEPTH} results.")


class SimilarResponse(BaseModel):
    id: str
    results: list[SearchResult]


class Contact(BaseModel):
    website: str | None = Field(None, description="The organisation's own web site, where the data gives one.")
    registry_id: str | None = Field(None, description="Organisation number in a public registry, where the data gives one.")


class PartnerOut(BaseModel):
    organisation: str
    country: str | None
    owner_type: str | None
    score: float = Field(description="Relevant experience: matching projects weighed by relevance, status and recency.")
    projects: list[SearchResult]
    link: str | None
    contact: Contact


class PartnersResponse(BaseModel):
    query: str
    close_match: bool | None
    partners: list[PartnerOut]


def result(hit: Hit) -> SearchResult:
    r = hit.record
    return SearchResult(
        id=r.id, title=r.title, organisation=r.organisation, country=r.country, language=r.language,
        owner_type=r.owner_type, sector=r.sector, status=r.status, start_year=r.start_year, end_year=r.end_year,
        score=round(hit.score, 6), similarity=round(hit.similarity, 4), snippet=hit.snippet, marks=hit.marks, link=r.link,
    )


def search_response(page: SearchPage) -> SearchResponse:
    return SearchResponse(query=page.query, total=page.total, close_match=page.close_match,
                          results=[result(h) for h in page.hits], matches=page.matches, facets=page.facets,
                          facets_over=page.facets_over)


def similar_response(project_id: str, hits: Sequence[Hit]) -> SimilarResponse:
    return SimilarResponse(id=project_id, results=[result(h) for h in hits])


def partners_response(page: PartnersPage) -> PartnersResponse:
    return PartnersResponse(query=page.query, close_match=page.close_match, partners=[
        PartnerOut(organisation=p.organisation, country=p.country, owner_type=p.owner_type, score=p.score,
                   projects=[result(h) for h in p.projects], link=p.website,
                   contact=Contact(website=p.website, registry_id=p.registry_id))
        for p in page.partners
    ])
