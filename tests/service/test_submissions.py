"""Public submissions and moderation: pending until approved, never lost, never searchable early."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.index.moderation.sqlite import SqliteSubmissionQueue
from erfa.index.moderation.submissions import to_record
from erfa.index.store.protocol import StoreFull
from tests._ops import AUTH, DISK_FULL, commit_fails, erfa_cmd, erfa_env
from tests.factories import Make

FORM = {
    "title": "Maskinlæring for å oppdage lekkasjer i vannledninger",
    "description": "Sensordata fra vannverket analyseres for å finne lekkasjer før de blir brudd.",
    "organisation": "Fjellbygd kommune",
    "country": "Norge",
    "municipality": "Fjellbygd",
    "sector": "environment",
    "status": "pilot",
    "start_year": 2023,
    "end_year": 2025,
    "link": "https://fjellbygd.kommune.no/vann",
}


def test_a_submission_is_pending_and_invisible_until_approved(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    r = c.post("/submissions", json=FORM)
    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "pending" and body["id"] and body["message"]
    sid = body["id"]

    hits = c.get("/search", params={"q": "lekkasjer i vannledninger", "limit": 10}).json()["results"]
    assert all(not h["id"].startswith("submission-") for h in hits)
    assert c.get("/readyz").json()["projects"] == 4
    assert c.get(f"/projects/submission-{sid}").status_code == 404

    pending = c.get("/submissions", params={"status": "pending"}, headers=AUTH).json()
    assert pending["total"] == 1 and pending["submissions"][0]["id"] == sid
    assert pending["submissions"][0]["data"]["title"] == FORM["title"]

    approved = c.post(f"/submissions/{sid}/approve", headers=AUTH)
    assert approved.status_code == 200, approved.text
    rec = approved.json()["record"]
    assert rec["id"] == f"submission-{sid}" and rec["source"] == "submission"
    assert rec["country"] == "NO" and rec["status"] == "pilot" and rec["language"] in {"nb", "nn"}
    top = c.get("/search", params={"q": "lekkasjer i vannledninger", "limit": 1}).json()["results"][0]
    assert top["id"] == f"submission-{sid}"
    assert c.get("/submissions", headers=AUTH).json()["total"] == 0
    assert c.get("/submissions", params={"status": "approved"}, headers=AUTH).json()["total"] == 1

    again = c.post(f"/submissions/{sid}/approve", headers=AUTH)  # idempotent: no duplicate
    assert again.status_code == 200 and c.get("/readyz").json()["projects"] == 5
    assert c.post(f"/submissions/{sid}/reject", json={"reason": "late"}, headers=AUTH).status_code == 409


def test_rejection_keeps_the_reason_and_blocks_approval(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json={"title": "Spam", "organisation": "Nobody"}).json()["id"]
    assert c.post(f"/submissions/{sid}/reject", json={"reason": ""}, headers=AUTH).status_code == 422
    r = c.post(f"/submissions/{sid}/reject", json={"reason": "Not a public-sector project"}, headers=AUTH)
    assert r.status_code == 200
    assert r.json()["status"] == "rejected" and r.json()["reason"] == "Not a public-sector project"
    assert c.post(f"/submissions/{sid}/approve", headers=AUTH).status_code == 409
    assert c.get(f"/submissions/{sid}", headers=AUTH).json()["status"] == "rejected"
    assert c.get("/readyz").json()["projects"] == 4
    for path in ("/submissions/nope/approve", "/submissions/nope/reject"):
        r = c.post(path, json={"reason": "x"}, headers=AUTH)
        assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_moderation_needs_the_token_but_submitting_does_not(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json={"title": "Tolkning av skjema", "organisation": "Etat"}).json()["id"]
    for method, path, kw in [
        ("GET", "/submissions", {}),
        ("GET", f"/submissions/{sid}", {}),
        ("POST", f"/submissions/{sid}/approve", {}),
        ("POST", f"/submissions/{sid}/reject", {"json": {"reason": "x"}}),
    ]:
        assert c.request(method, path, **kw).status_code == 401
        assert c.request(method, path, headers={"Authorization": "Bearer wrong"}, **kw).status_code == 401
    assert c.get(f"/submissions/{sid}", headers=AUTH).json()["status"] == "pending"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"organisation": "X"}, "title"),
        ({"title": "X"}, "organisation"),
        ({"title": "   ", "organisation": "X"}, "title"),
        ({"title": "X", "organisation": "X", "link": "javascript:alert(1)"}, "link"),
        ({"title": "X", "organisation": "X", "start_year": 2024, "end_year": 2020}, "end_year"),
        ({"title": "X", "organisation": "X", "start_year": "soon"}, "start_year"),
        ({"title": "X", "organisation": "X", "country": "Atlantis"}, "country"),
        ({"title": "X", "organisation": "X", "status": "maybe"}, "status"),
        ({"title": "X", "organisation": "X", "sector": "space"}, "sector"),
        ({"title": "X", "organisation": "X", "colour": "blue"}, "colour"),
        ({"title": "X" * 301, "organisation": "X"}, "title"),
    ],
)
def test_invalid_submissions_get_422_naming_the_field(
    app_for: Callable[..., TestClient], body: dict[str, Any], field: str
) -> None:
    r = app_for().post("/submissions", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(d["loc"][-1] == field for d in detail), detail
    assert all(isinstance(d["msg"], str) and d["msg"] for d in detail)


def test_empty_form_fields_mean_not_given(app_for: Callable[..., TestClient]) -> None:
    body = {
        "title": "Oversettelse av brev",
        "organisation": "Etat",
        "description": "",
        "country": "",
        "start_year": "",
        "end_year": "",
        "link": "",
        "status": "",
        "sector": "",
        "municipality": "",
        "purpose": "",
    }
    r = app_for().post("/submissions", json=body)
    assert r.status_code == 201, r.text


def test_pending_submissions_survive_a_restart(
    app_for: Callable[..., TestClient], make_index: Make, tmp_path: Path
) -> None:
    idx = make_index(tmp_path / "shared-home")
    first = app_for(index=idx)
    ids = [first.post("/submissions", json={**FORM, "title": f"Forslag {i}"}).json()["id"] for i in range(3)]
    first.close()
    # a new process would open the same file: the store is the only state
    store = SqliteSubmissionQueue.in_home(idx.home)
    assert sorted(s.id for s in store.list("pending")) == sorted(ids)
    store.close()
    second = app_for(index=make_index(tmp_path / "shared-home"))
    assert second.get("/submissions", headers=AUTH).json()["total"] == 3


def test_submissions_are_rate_limited_per_client(app_for: Callable[..., TestClient]) -> None:
    c = app_for(submit_rate_limit=2)
    assert [c.post("/submissions", json=FORM).status_code for _ in range(2)] == [201, 201]
    r = c.post("/submissions", json=FORM)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0 and "per hour" in r.json()["detail"]
    assert c.get("/search", params={"q": "vann"}).status_code == 200  # reads are unaffected


def test_a_full_queue_refuses_politely(app_for: Callable[..., TestClient]) -> None:
    c = app_for(max_pending=1)
    assert c.post("/submissions", json=FORM).status_code == 201
    r = c.post("/submissions", json=FORM)
    assert r.status_code == 503 and "Retry-After" in r.headers


# -- all or nothing across the submission store and the index (issue 14, item 3) ------------------
def _listed(c: TestClient, sid: str) -> bool:
    """Whether the submission's project is visible to the public, by id or by search."""
    by_id = c.get(f"/projects/submission-{sid}").status_code == 200
    hits = c.get("/search", params={"q": FORM["title"], "limit": 20}).json()["results"]
    return by_id or any(h["id"] == f"submission-{sid}" for h in hits)


def test_an_approve_that_cannot_be_saved_lists_nothing(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = app_for()
    store: SqliteSubmissionQueue = c.app.state.erfa.submissions  # type: ignore[attr-defined]
    sid = c.post("/submissions", json=FORM).json()["id"]
    with monkeypatch.context() as m:
        m.setattr(store, "_tx", commit_fails(store))
        r = c.post(f"/submissions/{sid}/approve", headers=AUTH)
    assert r.status_code == 507 and "disk is full" in r.json()["detail"], r.text
    assert c.get(f"/submissions/{sid}", headers=AUTH).json()["status"] == "pending"
    assert not _listed(c, sid), "a submission that is still pending is searchable"
    # once there is space again, approving works and lists it once
    assert c.post(f"/submissions/{sid}/approve", headers=AUTH).status_code == 200
    assert _listed(c, sid) and c.get("/readyz").json()["projects"] == 5


def test_an_approve_whose_index_write_fails_lists_nothing(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = app_for()
    idx: ProjectIndex = c.app.state.erfa.index  # type: ignore[attr-defined]
    sid = c.post("/submissions", json=FORM).json()["id"]
    with monkeypatch.context() as m:
        m.setattr(idx, "upsert", lambda records, **kw: (_ for _ in ()).throw(DISK_FULL))
        r = c.post(f"/submissions/{sid}/approve", headers=AUTH)
    assert r.status_code == 507, r.text
    assert c.get(f"/submissions/{sid}", headers=AUTH).json()["status"] == "pending"
    assert not _listed(c, sid)


def test_reject_takes_a_left_over_record_out_of_search(app_for: Callable[..., TestClient]) -> None:
    """A crash between an approval's index write and its commit leaves the record indexed while the
    submission is pending; rejecting it must not leave a rejected project searchable."""
    c = app_for()
    idx: ProjectIndex = c.app.state.erfa.index  # type: ignore[attr-defined]
    sid = c.post("/submissions", json=FORM).json()["id"]
    idx.upsert([to_record(sid, FORM)])  # the state such a crash leaves
    assert _listed(c, sid)
    r = c.post(f"/submissions/{sid}/reject", json={"reason": "Not a public-sector project"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert not _listed(c, sid), "a rejected submission is searchable"


def test_a_reject_that_cannot_be_saved_changes_nothing(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = app_for()
    store: SqliteSubmissionQueue = c.app.state.erfa.submissions  # type: ignore[attr-defined]
    sid = c.post("/submissions", json=FORM).json()["id"]
    with monkeypatch.context() as m:
        m.setattr(store, "_tx", commit_fails(store))
        r = c.post(f"/submissions/{sid}/reject", json={"reason": "spam"}, headers=AUTH)
    assert r.status_code == 507, r.text
    assert c.get(f"/submissions/{sid}", headers=AUTH).json()["status"] == "pending"
    assert c.post(f"/submissions/{sid}/reject", json={"reason": "spam"}, headers=AUTH).status_code == 200


def test_a_start_withdraws_records_of_submissions_that_are_not_approved(
    app_for: Callable[..., TestClient], make_index: Make, tmp_path: Path
) -> None:
    idx = make_index(tmp_path / "home")
    first = app_for(index=idx)
    pending = first.post("/submissions", json=FORM).json()["id"]
    approved = first.post("/submissions", json={**FORM, "title": "Vannlekkasjer, godkjent"}).json()["id"]
    assert first.post(f"/submissions/{approved}/approve", headers=AUTH).status_code == 200
    idx.upsert([to_record(pending, FORM)])  # a crash left it indexed
    second = app_for(index=idx)  # the next start
    assert second.get(f"/projects/submission-{pending}").status_code == 404
    assert second.get(f"/projects/submission-{approved}").status_code == 200


@pytest.mark.parametrize(
    "method, path, kw",
    [
        ("POST", "/submissions", {"json": FORM}),
        ("POST", "/projects", {"json": {"source": "t", "source_id": "9", "title": "Ny", "organisation": "Etat"}}),
        ("DELETE", "/projects/test-1", {}),
        (
            "POST",
            "/ingest",
            {
                "files": {
                    "file": ("p.jsonl", b'{"source": "t", "source_id": "8", "title": "Fil", "organisation": "Etat"}\n')
                }
            },
        ),
    ],
)
def test_a_full_disk_gets_507_saying_so_from_every_write(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, method: str, path: str, kw: dict[str, Any]
) -> None:
    c = app_for()
    idx: ProjectIndex = c.app.state.erfa.index  # type: ignore[attr-defined]
    store: SqliteSubmissionQueue = c.app.state.erfa.submissions  # type: ignore[attr-defined]
    full = StoreFull("erfa.sqlite: the disk is full (database or disk is full)")  # as the stores raise it
    monkeypatch.setattr(store, "add", lambda data: (_ for _ in ()).throw(full))
    monkeypatch.setattr(idx, "upsert", lambda records, **k: (_ for _ in ()).throw(DISK_FULL))
    monkeypatch.setattr(idx, "delete", lambda ids: (_ for _ in ()).throw(full))
    r = c.request(method, path, headers=AUTH, **kw)
    assert r.status_code == 507, r.text
    assert "disk is full" in r.json()["detail"] and r.json()["request_id"]


def test_a_damaged_submissions_file_stops_serve_with_a_clear_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "submissions.sqlite").write_bytes(b"this is not a database, just bytes\n" * 300)
    run = subprocess.run(
        erfa_cmd(home, "serve", "--port", "1", "--no-demo"), env=erfa_env(), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1
    assert str(home / "submissions.sqlite") in run.stderr and "erfa import" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "\\ud800", "organisation": "Etat"}',
        b'{"title": "Chat \\udfff bot", "organisation": "Etat"}',
        b'{"\\ud800": 1, "title": "x", "organisation": "Etat"}',
    ],
)
def test_a_lone_surrogate_gets_a_422_not_a_500(app_for: Callable[..., TestClient], raw: bytes) -> None:
    r = app_for().post("/submissions", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    msg = r.json()["detail"][0]["msg"]
    assert "surrogate" in msg or "unknown field" in msg, msg
    r.content.decode("utf-8")  # the answer itself is valid UTF-8
