"""The HTTP API through FastAPI's test client."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.service.api import create_app
from erfa.service.settings import Settings
from tests.factories import Make


def test_search_returns_ranked_results_in_the_documented_shape(client: TestClient) -> None:
    r = client.get("/search", params={"q": "chattbot som svarar på frågor om bygglov", "limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "chattbot som svarar på frågor om bygglov"
    assert body["total"] == 4
    assert len(body["results"]) == 2
    top = body["results"][0]
    assert {"id", "title", "organisation", "country", "language", "score", "snippet", "link"} <= set(top)
    assert {"status", "start_year", "end_year", "sector", "owner_type", "similarity", "marks"} <= set(top)
    assert top["id"] == "test-1" and top["country"] == "NO"
    assert "chatbot" in top["snippet"]
    same_words = client.get("/search", params={"q": "chatbot byggesøknad", "limit": 1}).json()["results"][0]
    assert [same_words["snippet"][a:b] for a, b in same_words["marks"]] == ["byggesøknader", "chatbot"]
    assert body["close_match"] is None  # four projects: too few to tell what standing out means
    assert body["facets"]["country"] == {"NO": 2, "SE": 1, "DK": 1}
    assert body["results"][0]["score"] >= body["results"][1]["score"]


def test_offset_pages_through_results(client: TestClient) -> None:
    full = [r["id"] for r in client.get("/search", params={"q": "AI", "limit": 4}).json()["results"]]
    page = [r["id"] for r in client.get("/search", params={"q": "AI", "limit": 2, "offset": 2}).json()["results"]]
    assert page == full[2:]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": 101}, "limit"),
        ({"q": "x", "offset": -1}, "offset"),
        ({"q": "x", "limit": "many"}, "limit"),
        ({"q": "x" * 1001}, "q"),
    ],
)
def test_bad_search_parameters_get_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 422
    named = [e["loc"] for e in r.json()["detail"]]
    assert ["query", field] in named, named  # the field that is wrong, and only what is wrong
    assert all(loc[-1] == field for loc in named), named


def test_project_and_404(client: TestClient) -> None:
    r = client.get("/projects/test-2")
    assert r.status_code == 200
    assert r.json()["title"] == "Taligenkänning i vården"
    assert r.json()["organisation"] == "Region Örebro län"
    missing = client.get("/projects/nope-1")
    assert missing.status_code == 404 and "nope-1" in missing.json()["detail"]


def test_similar_never_returns_the_project_itself(client: TestClient) -> None:
    r = client.get("/projects/test-1/similar", params={"limit": 10})
    assert r.status_code == 200
    got = [x["id"] for x in r.json()["results"]]
    assert len(got) == 3 and "test-1" not in got
    assert client.get("/projects/nope/similar").status_code == 404


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["projects"] == 4


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/projects/{project_id}", "/projects/{project_id}/similar", "/healthz", "/readyz"} <= set(paths)
    assert client.get("/docs").status_code == 200


class SlowIndex(ProjectIndex):
    """Loads only when told to, to observe the service before it is ready."""

    release = threading.Event()

    def load(self) -> SlowIndex:
        self.release.wait(timeout=60)
        super().load()
        return self


def test_readyz_is_503_until_model_and_index_are_loaded(tmp_path: Path, encoder: object) -> None:
    idx = SlowIndex(tmp_path / "home", encoder=encoder)  # type: ignore[arg-type]
    app = create_app(Settings(home=tmp_path / "home", demo=False), index=idx)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        assert c.get("/search", params={"q": "x"}).status_code == 503
        SlowIndex.release.set()
        for _ in range(200):
            if c.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert c.get("/readyz").status_code == 200
        assert c.get("/search", params={"q": "x"}).status_code == 200


def test_failed_load_is_reported_by_readyz(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path / "home", model=str(tmp_path / "missing-model"), demo=False), wait=True)
    with TestClient(app) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "failed" and "does not exist" in r.json()["detail"]


def test_partners_name_organisations_with_their_projects_and_registry_number(make_index: Make, tmp_path: Path) -> None:
    from erfa.ingest import Record

    idx = make_index()
    about = "Innbyggerne får svar døgnet rundt på spørsmål om byggesøknader fra en chatbot."
    idx.upsert(
        [
            Record.build(
                "t",
                "1",
                title="Chatbot for byggesaker",
                description=about,
                organisation="Fjordby kommune",
                organisation_number="944 000 001",
                country="NO",
                status="implemented",
                link="https://fjordby.kommune.no/",
            ),
            Record.build(
                "t",
                "2",
                title="Byggesaksbot",
                description=about,
                organisation="FJORDBY  KOMMUNE",
                country="NO",
                status="pilot",
            ),
            Record.build(
                "t",
                "3",
                title="Prognose for snøbrøyting",
                description="Vi varsler brøyting ut fra værdata.",
                organisation="Tromsø kommune",
                country="NO",
            ),
        ]
    )
    app = create_app(Settings(home=tmp_path / "home", demo=False), index=idx, wait=True)
    with TestClient(app) as c:
        body = c.get("/partners", params={"q": "chatbot som svarer om byggesøknader"}).json()
        assert body["close_match"] is None  # three projects: too few to tell; the closest still name their owners
        top = body["partners"][0]
        assert top["organisation"] == "Fjordby kommune"  # not the SHOUTED spelling
        assert {p["id"] for p in top["projects"]} == {"t-1", "t-2"}  # one body, two spellings
        assert top["contact"] == {"website": "https://fjordby.kommune.no/", "registry_id": "944000001", "contact": None}
        assert all(p["organisation"] != "Tromsø kommune" for p in body["partners"])
        bad = c.get("/partners", params={"q": "chatbot", "status": "finished"})
        assert bad.status_code == 422 and "implemented" in bad.text


def test_organisation_number_is_normalised_and_nonsense_is_rejected() -> None:
    from erfa.ingest import Record, RecordError

    assert Record.build("t", "1", title="x", organisation_number="212000-0142").organisation_number == "212000-0142"
    assert Record.build("t", "1", title="x", organisation_number=" 974 760 673 ").organisation_number == "974760673"
    with pytest.raises(RecordError, match="organisation_number 'ring Kari' must be a registry number"):
        Record.build("t", "1", title="x", organisation_number="ring Kari")
