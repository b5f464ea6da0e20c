"""Totals and facets that tell the truth (issue 13, item 1): the number of close matches
is every project that clears the cut-off, however deep it ranks; facets count those
(or the best results when none is close) and list every value the registry holds."""
from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex, twins
from erfa.index.facets import FACET_FIELDS, Filters
from erfa.service.app import create_app
from erfa.service.settings import Settings

NEEDS = ["chatbot som svarar på frågor om bygglov", "prognose for snømåking og brøyting", "taleattkjenning i helsetenesta",
         "maskinoversettelse av saksdokumenter"]


def brute_force_matches(idx: ProjectIndex, need: str, filters: Filters | None = None) -> set[int]:
    """Every project whose best passage (less its brevity penalty) reaches the cut-off,
    scored one by one: what the range search must agree with."""
    snap = idx._snapshot()
    mask = snap.meta.mask(filters or Filters())
    ranked = idx.searcher.rank(snap, need, 100, mask)
    cut = snap.space.cut_off(ranked.query, idx.close_match_standout(), len(snap.vectors))
    allowed = set(snap.records) if mask is None else set(snap.meta.rowids[mask].tolist())
    out = set()
    for rowid in allowed:
        best = max(float(np.dot(v, ranked.query)) for v in snap.passage_vectors(rowid))
        if best - snap.brevity.get(rowid, 0.0) >= cut:
            out.add(rowid)
    return set(twins.collapse(sorted(out), snap.twins))  # a project two sources hold counts once


@pytest.mark.parametrize("need", NEEDS)
def test_matches_are_every_project_over_the_cut_off(demo_index: ProjectIndex, need: str) -> None:
    page = demo_index.search(need, limit=3)
    expected = brute_force_matches(demo_index, need)
    assert page.matches == len(expected)
    assert page.close_match == (len(expected) > 0), "close_match and the count of close matches must agree"
    if expected:
        assert page.facets_over == "matches"
        countries = [demo_index._snapshot().records[r].country for r in expected]
        assert page.facets["country"] == {c: countries.count(c) for c in page.facets["country"]}


def test_filtered_matches_count_only_what_the_filter_allows(demo_index: ProjectIndex) -> None:
    need, only = NEEDS[0], Filters(country=["SE"])
    page = demo_index.search(need, filters=only)
    expected = brute_force_matches(demo_index, need, only)
    assert page.matches == len(expected)
    assert all(demo_index._snapshot().records[r].country == "SE" for r in expected)


def test_facets_list_every_value_in_the_registry(demo_index: ProjectIndex) -> None:
    snap = demo_index._snapshot()
    page = demo_index.search(NEEDS[1])
    for field in FACET_FIELDS:
        present = {getattr(r, field) for r in snap.records.values() if getattr(r, field)}
        assert set(page.facets[field]) == present, field
    counted = sum(page.facets["country"].values())
    assert counted <= (page.matches if page.facets_over == "matches" else 50)
    narrow = demo_index.search(NEEDS[0])  # few close matches: most values are held by none of them
    assert narrow.facets_over == "matches" and 0 in narrow.facets["country"].values(), \
        "a country none of the counted projects has is listed with 0"


def test_the_page_says_how_many_close_matches_and_greys_empty_values(demo_index: ProjectIndex) -> None:
    with TestClient(create_app(Settings(demo=False, rate_limit=0), index=demo_index, wait=True)) as client:
        api = client.get("/search", params={"q": NEEDS[0]}).json()
        assert api["matches"] == demo_index.search(NEEDS[0]).matches and api["facets_over"] in ("matches", "top")
        html = client.get("/", params={"q": NEEDS[0], "lang": "en"}).text
        if api["matches"]:
            assert f"{api['matches']} close matches" in html and f"Counts are over the {api['matches']} close matches" in html
        assert "of 1000" not in html and 'class="check check--none"' in html
