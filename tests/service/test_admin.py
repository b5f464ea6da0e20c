"""Writes over HTTP: the admin token, POST/DELETE /projects and file uploads to /ingest."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from erfa.service.api import auth
from tests._ops import AUTH, TOKEN
from tests._shared import FIXTURES
from tests.factories import bulk_records

PROJECT = {
    "source": "fjordby",
    "source_id": "p-1",
    "title": "Chatbot for parkeringsvedtak",
    "description": "Svarer innbyggere om parkeringsbøter og klager på vedtak.",
    "organisation": "Fjordby kommune",
    "country": "Norge",
    "status": "I drift",
    "partners": ["Kartkontoret"],
}


def test_writes_are_refused_when_no_token_is_configured(app_for: Callable[..., TestClient]) -> None:
    c = app_for(admin_token=None)
    for method, path, kw in [
        ("POST", "/projects", {"json": PROJECT}),
        ("DELETE", "/projects/test-1", {}),
        ("POST", "/ingest", {"files": {"file": ("a.jsonl", b"{}")}}),
        ("GET", "/submissions", {}),
    ]:
        r = c.request(method, path, headers=AUTH, **kw)
        assert r.status_code == 403, (path, r.text)
        assert "ERFA_ADMIN_TOKEN" in r.json()["detail"]
    assert c.get("/projects/test-1").status_code == 200  # reads stay public
    assert c.get("/search", params={"q": "chatbot"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
)
def test_a_missing_or_wrong_token_gets_401(client: TestClient, headers: dict[str, str]) -> None:
    r = client.delete("/projects/test-1", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers.get("WWW-Authenticate") == "Bearer"
    assert client.get("/projects/test-1").status_code == 200


def test_the_token_is_compared_in_constant_time(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert client.delete("/projects/nope", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert (b"guess", TOKEN.encode()) in calls


def test_post_one_project_then_many(client: TestClient) -> None:
    r = client.post("/projects", json=PROJECT, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 1 and r.json()["ids"] == ["fjordby-p-1"]
    rec = client.get("/projects/fjordby-p-1").json()
    assert rec["country"] == "NO" and rec["status"] == "implemented" and rec["owner_type"] == "municipality"
    top = client.get("/search", params={"q": "klage på parkeringsbot", "limit": 1}).json()["results"][0]
    assert top["id"] == "fjordby-p-1"

    many = client.post("/projects", json=bulk_records(5, source="batch"), headers=AUTH).json()
    assert (many["added"], many["updated"], many["unchanged"]) == (5, 0, 0)
    same = client.post("/projects", json=[PROJECT, {**PROJECT, "source_id": "p-2"}], headers=AUTH).json()
    assert (same["added"], same["unchanged"]) == (1, 1)
    assert client.get("/readyz").json()["projects"] == 4 + 1 + 5 + 1


def test_post_projects_is_all_or_nothing(client: TestClient) -> None:
    bad = [PROJECT, {"source": "Bad Source!", "source_id": "2", "title": "x"}, {"source": "ok", "source_id": "3"}]
    r = client.post("/projects", json=bad, headers=AUTH)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", 1], ["body", 2]]
    assert "lowercase" in detail[0]["msg"] and "title" in detail[1]["msg"]
    assert client.get("/projects/fjordby-p-1").status_code == 404
    unknown = client.post("/projects", json={**PROJECT, "colour": "red"}, headers=AUTH)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "colour"
    dup = client.post("/projects", json=[PROJECT, PROJECT], headers=AUTH)
    assert dup.status_code == 422 and "duplicate" in dup.json()["detail"][0]["msg"]
    many = client.post(
        "/projects", json=[{"source": "x", "source_id": str(i), "title": "t"} for i in range(1001)], headers=AUTH
    )
    assert many.status_code == 422 and "1000" in many.text


def test_delete_removes_from_search_and_unknown_ids_get_404(client: TestClient) -> None:
    gone = client.delete("/projects/test-1", headers=AUTH).json()
    assert gone["deleted"] == "test-1" and gone["generation"] > 0  # the generation: for read-your-writes (issue 11)
    assert client.get("/projects/test-1").status_code == 404
    ids = [h["id"] for h in client.get("/search", params={"q": "chatbot byggesak"}).json()["results"]]
    assert "test-1" not in ids
    r = client.delete("/projects/test-1", headers=AUTH)
    assert r.status_code == 404 and "test-1" in r.json()["detail"]


@pytest.mark.parametrize(
    "name",
    [
        "erfa_projects.jsonl",
        "erfa_projects.csv",
        "erfa_latin1_semicolon.csv",
        "digdir_projects.csv",
        "digdir_projects.json",
        "pstw_cases.csv",
    ],
)
def test_ingest_accepts_every_supported_text_format(client: TestClient, name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    r = client.post("/ingest", files={"file": (name, data)}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["added"] >= 1 and body["format"]
    for row in body["rejected"]:
        assert row["row"] >= 1 and row["reason"]
    assert client.get(f"/projects/{body['ids'][0]}").status_code == 200


def test_ingest_accepts_xlsx(client: TestClient, tmp_path: Path) -> None:
    import csv

    import openpyxl

    wb = openpyxl.Workbook()
    sheet = wb.active
    with (FIXTURES / "pstw_cases.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            sheet.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post("/ingest", files={"file": ("cases.xlsx", buf.getvalue())}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["format"] == "pstw-xlsx" and r.json()["added"] >= 1


@pytest.mark.parametrize(
    "name, data, form, words",
    [
        ("junk.csv", bytes(range(256)) * 4, {}, "binary"),
        ("empty.csv", b"", {}, "empty"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 200, {}, "file"),
        ("weird.csv", "tittel;noe\nå;b\n".encode("utf-16"), {}, "file"),
        ("p.jsonl", b'{"source": "x", "source_id": "1", "title": "t"}\n', {"format": "pstw-xlsx"}, "XLSX"),
        ("p.jsonl", b'{"source": "x", "source_id": "1", "title": "t"}\n', {"format": "nonsense"}, "format"),
        ("p.csv", b"a,b,c\n1,2,3\n", {}, "file"),
        ("p.json", b'{"unterminated": ', {}, "file"),
    ],
)
def test_unreadable_uploads_get_422_naming_the_file_field(
    client: TestClient, name: str, data: bytes, form: dict[str, str], words: str
) -> None:
    r = client.post("/ingest", files={"file": (name, data)}, data=form, headers=AUTH)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["loc"][-1] in {"file", "format"}
    assert words.lower() in r.text.lower()
    assert "Traceback" not in r.text and "/tmp" not in r.text


def test_oversized_uploads_get_413(app_for: Callable[..., TestClient]) -> None:
    c = app_for(max_upload_bytes=10_000)
    r = c.post("/ingest", files={"file": ("big.jsonl", b" " * 20_000)}, headers=AUTH)
    assert r.status_code == 413 and "10000" in r.json()["detail"]
    ok = c.post(
        "/ingest",
        files={"file": ("small.jsonl", b'{"source": "x", "source_id": "1", "title": "Liten"}\n')},
        headers=AUTH,
    )
    assert ok.status_code == 200


def test_prune_deletes_what_the_file_no_longer_holds(client: TestClient) -> None:
    first = "".join(f'{{"source": "vest", "source_id": "{i}", "title": "Prosjekt {i}"}}\n' for i in range(3)).encode()
    assert client.post("/ingest", files={"file": ("v.jsonl", first)}, headers=AUTH).json()["added"] == 3
    second = first.split(b"\n", 1)[1]
    r = client.post("/ingest", files={"file": ("v.jsonl", second)}, data={"prune": "true"}, headers=AUTH).json()
    assert r["deleted"] == 1 and client.get("/projects/vest-0").status_code == 404
