"""The response cache (service/api/cache.py): a repeated request is a look-up, a write is seen at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.service.api.cache import ResponseCache
from tests._ops import AUTH
from tests.factories import CORPUS, Make, rec

NEW = {
    "source": "fjordby",
    "source_id": "p-1",
    "title": "Maskinoversettelse av vedtaksbrev",
    "description": "Vedtaksbrev oversettes automatisk til klarspråk og nynorsk før de sendes ut.",
    "organisation": "Fjordby kommune",
    "country": "Norge",
}
NEED = "maskinoversettelse av vedtaksbrev til klarspråk"


@pytest.fixture()
def idx(make_index: Make) -> ProjectIndex:
    """An index of the shared test corpus."""
    index = make_index()
    index.upsert(CORPUS)
    return index


def _counting(idx: ProjectIndex, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the index itself answered each kind of read."""
    calls = {"search": 0, "partners": 0, "similar": 0}
    for name in calls:
        real = getattr(idx, name)

        def counted(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(idx, name, counted)
    return calls


def _ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["results"]]


def test_a_repeated_request_is_answered_from_the_cache_with_the_same_bytes(
    app_for: Callable[..., TestClient], idx: ProjectIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_for(idx)
    calls = _counting(idx, monkeypatch)
    pid = CORPUS[0].id
    for path, params, kind in (
        ("/search", {"q": "chatbot byggesøknad", "limit": 3}, "search"),
        ("/partners", {"q": "chatbot byggesøknad"}, "partners"),
        (f"/projects/{pid}/similar", {"limit": 2}, "similar"),
    ):
        first = client.get(path, params=params)
        second = client.get(path, params=params)
        assert first.status_code == second.status_code == 200, first.text
        assert first.content == second.content  # byte for byte: the kept answer
        assert first.headers["content-type"] == "application/json"
        assert calls[kind] == 1, f"{path} was answered by the index twice"
    # the cached body is the documented shape, not some other serialisation
    body = json.loads(client.get("/search", params={"q": "chatbot byggesøknad", "limit": 3}).content)
    assert {"query", "total", "results", "facets"} <= set(body) and len(body["results"]) <= 3


def test_different_parameters_do_not_collide_and_their_order_does_not_matter(
    app_for: Callable[..., TestClient], idx: ProjectIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_for(idx)
    calls = _counting(idx, monkeypatch)
    q = "chatbot"
    everything = _ids(client.get("/search", params={"q": q}))
    swedish = _ids(client.get("/search", params={"q": q, "country": "SE"}))
    one = _ids(client.get("/search", params={"q": q, "limit": 1}))
    second = _ids(client.get("/search", params={"q": q, "limit": 1, "offset": 1}))
    assert calls["search"] == 4  # four different answers, four searches
    assert len(everything) > 1 and one == everything[:1] and second == everything[1:2]
    assert swedish and all(i in {r.id for r in CORPUS if r.country == "SE"} for i in swedish)
    both = client.get("/search?q=chatbot&country=NO&country=SE")
    same = client.get("/search?country=SE&q=chatbot&country=NO")
    assert both.content == same.content and calls["search"] == 5  # same filters in another order: one entry
    assert client.get("/search", params={"q": q, "country": "XX1"}).status_code == 422  # refusals are never kept
    assert client.get("/search", params={"q": q, "country": "XX1"}).status_code == 422


@pytest.mark.parametrize("write", ["post", "ingest", "delete", "approve"])
def test_a_write_makes_the_next_identical_request_fresh(
    write: str, app_for: Callable[..., TestClient], idx: ProjectIndex
) -> None:
    client = app_for(idx)
    before = _ids(client.get("/search", params={"q": NEED}))
    kept = next(r.id for r in CORPUS if r.id != before[0])
    similar_before = [h["id"] for h in client.get(f"/projects/{kept}/similar").json()["results"]]
    assert _ids(client.get("/search", params={"q": NEED})) == before  # kept
    if write == "post":
        r = client.post("/projects", json=NEW, headers=AUTH)
    elif write == "ingest":
        r = client.post(
            "/ingest",
            files={"file": ("new.jsonl", json.dumps(NEW).encode())},
            headers=AUTH,
            data={"format": "erfa-jsonl"},
        )
    elif write == "approve":
        sid = client.post("/submissions", json={k: v for k, v in NEW.items() if k not in ("source", "source_id")})
        assert sid.status_code == 201, sid.text
        r = client.post(f"/submissions/{sid.json()['id']}/approve", headers=AUTH)
    else:
        r = client.delete(f"/projects/{before[0]}", headers=AUTH)
    assert r.status_code == 200, r.text
    after = _ids(client.get("/search", params={"q": NEED}))
    if write == "delete":
        assert before[0] not in after
        similar_after = [h["id"] for h in client.get(f"/projects/{kept}/similar").json()["results"]]
        assert before[0] in similar_before and similar_after == [i for i in similar_before if i != before[0]]
    else:
        assert after[0] not in before and after[0] in {idx.get(after[0]).id}  # the new project, at once
        assert "vedtaksbrev" in idx.get(after[0]).title.casefold()


def test_a_replica_answers_for_the_generation_it_serves(
    app_for: Callable[..., TestClient], idx: ProjectIndex, make_index: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's write: the replica's cached answer is its generation's until it
    catches up, and a read that names the write's generation is answered fresh."""
    client = app_for(idx)
    monkeypatch.setattr(idx, "refresh", lambda min_interval=1.0: None)  # this replica has not caught up yet
    old = _ids(client.get("/search", params={"q": NEED}))
    other = make_index(idx.home)  # the writer: another process on the same store
    other.upsert([rec("new", "Maskinoversettelse av vedtaksbrev", "Vedtaksbrev oversettes automatisk til klarspråk.")])
    gen = other.generation
    assert idx.generation < gen
    assert _ids(client.get("/search", params={"q": NEED})) == old  # still the generation it serves
    monkeypatch.undo()
    fresh = _ids(client.get("/search", params={"q": NEED, "min_generation": gen}))
    assert idx.generation >= gen and fresh[0] == rec("new", "x").id
    assert _ids(client.get("/search", params={"q": NEED})) == fresh  # and without min_generation too


def test_the_cache_is_bounded_and_forgets_superseded_generations() -> None:
    cache = ResponseCache(2)
    keys = [cache.key("/search", [("q", f"need {i}")], 1) for i in range(3)]
    for i, k in enumerate(keys):
        cache.put(k, f"{i}".encode())
    assert len(cache) == 2 and cache.get(keys[0]) is None and cache.get(keys[2]) == b"2"
    assert cache.key("/search", [("q", "a"), ("country", "NO")], 1) == cache.key(
        "/search", [("country", "NO"), ("q", "a"), ("min_generation", "1")], 1
    )
    newer = cache.key("/search", [("q", "need 2")], 2)
    assert cache.get(newer) is None  # another generation is another answer
    cache.put(newer, b"new")
    assert len(cache) == 1 and cache.get(keys[2]) is None
    cache.put(keys[1], b"late")  # made on a snapshot a write had already replaced: not kept
    assert cache.get(keys[1]) is None
    off = ResponseCache(0)
    off.put(keys[0], b"x")
    assert off.get(keys[0]) is None and len(off) == 0


def test_response_cache_zero_turns_it_off(
    app_for: Callable[..., TestClient], idx: ProjectIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_for(idx, response_cache=0)
    calls = _counting(idx, monkeypatch)
    for _ in range(2):
        assert client.get("/search", params={"q": "chatbot"}).status_code == 200
    assert calls["search"] == 2
