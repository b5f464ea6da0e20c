"""Totals and facets that tell the truth (issue 13, item 1; issue 19): the number of close
matches is the number of results marked as close matches; facets count those (or the best
results when none is close) and list every value the registry holds."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.index.search import marker
from erfa.index.search.facets import FACET_FIELDS, Filters
from erfa.service.app import create_app
from erfa.service.settings import Settings

NEEDS = [
    "chatbot som svarar på frågor om bygglov",
    "prognose for snømåking og brøyting",
    "taleattkjenning i helsetenesta",
    "maskinoversettelse av saksdokumenter",
]


@pytest.mark.parametrize("need", NEEDS)
def test_the_count_of_close_matches_is_the_marked_results(demo_index: ProjectIndex, need: str) -> None:
    """Issue 19: each result says whether it is a close match, and the page's count is
    exactly the results so marked (among the first `marker.DEPTH`), so it can be checked."""
    page = demo_index.search(need, limit=marker.DEPTH)
    marked = [h for h in page.hits if h.close_match]
    assert all(h.close_match is not None for h in page.hits)
    assert page.matches == len(marked)
    assert page.close_match == (len(marked) > 0), "close_match and the count of close matches must agree"
    if marked:
        assert page.facets_over == "matches"
        countries = [h.record.country for h in marked]
        assert page.facets["country"] == {c: countries.count(c) for c in page.facets["country"]}
    first = demo_index.search(need, limit=3)
    assert [h.close_match for h in first.hits] == [h.close_match for h in page.hits[:3]], (
        "marks do not depend on the page"
    )


def test_filtered_matches_count_only_what_the_filter_allows(demo_index: ProjectIndex) -> None:
    need, only = NEEDS[0], Filters(country=["SE"])
    page = demo_index.search(need, filters=only, limit=marker.DEPTH)
    assert page.matches == sum(bool(h.close_match) for h in page.hits)
    assert all(h.record.country == "SE" for h in page.hits)


def test_facets_list_every_value_in_the_registry(demo_index: ProjectIndex) -> None:
    snap = demo_index._snapshot()
    page = demo_index.search(NEEDS[1])
    for field in FACET_FIELDS:
        present = {getattr(r, field) for r in snap.records.values() if getattr(r, field)}
        assert set(page.facets[field]) == present, field
    counted = sum(page.facets["country"].values())
    assert counted <= (page.matches if page.facets_over == "matches" else 50)
    narrow = demo_index.search(NEEDS[0])  # few close matches: most values are held by none of them
    assert narrow.facets_over == "matches" and 0 in narrow.facets["country"].values(), (
        "a country none of the counted projects has is listed with 0"
    )


def test_the_page_says_how_many_close_matches_and_greys_empty_values(demo_index: ProjectIndex) -> None:
    with TestClient(create_app(Settings(demo=False, rate_limit=0), index=demo_index, wait=True)) as client:
        api = client.get("/search", params={"q": NEEDS[0]}).json()
        assert api["matches"] == demo_index.search(NEEDS[0]).matches and api["facets_over"] in ("matches", "top")
        html = client.get("/", params={"q": NEEDS[0], "lang": "en"}).text
        if api["matches"]:
            n = api["matches"]
            assert (
                f"{n} close match{'es' if n != 1 else ''}." in html
                and f"The counts cover the {n} close match{'es' if n != 1 else ''}." in html
            )
        assert "of 1000" not in html and 'class="check check--none"' in html
