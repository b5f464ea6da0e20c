"""Moderation that people can do (issue 12 items 1, 2, 3, 7): the /admin pages with sessions and
CSRF, edits and the history of decisions, the submitter's status link, functional contacts
published only with consent, organisation web sites on the project page, links completed to
https://, and `erfa submissions ...` on the command line."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.index.moderation.submissions import StaleSubmission, SubmissionError, SubmissionStore, to_record
from erfa.ingest import Record
from erfa.service.pages import sessions as sessions_mod
from tests._ops import AUTH, TOKEN, erfa_cmd, erfa_env

FORM = {
    "title": "Maskinlæring for å oppdage lekkasjer i vannledninger",
    "description": "Sensordata fra vannverket analyseres for å finne lekkasjer før de blir brudd.",
    "organisation": "Fjellbygd kommune",
    "country": "NO",
    "municipality": "Fjellbygd",
    "sector": "environment",
    "status": "pilot",
    "start_year": 2023,
    "link": "fjellbygd.kommune.no/vann",
    "website": "fjellbygd.kommune.no",
    "contact": "digitalisering@fjellbygd.kommune.no",
    "contact_consent": True,
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
REVISION = re.compile(r'name="revision" value="(\d+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def signed_in(c: TestClient) -> str:
    """Sign in through the form; returns the session's CSRF token (from the queue page)."""
    page = c.get("/admin?lang=en")
    assert page.status_code == 200 and 'name="token"' in page.text
    r = c.post("/admin/sign-in?lang=en", data={"csrf": csrf_of(page.text), "token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303, r.text
    queue = c.get("/admin?lang=en")
    assert "Sign out" in queue.text
    return csrf_of(queue.text)


# -- submitting -------------------------------------------------------------------------------
def test_with_no_admin_token_submissions_are_closed_rather_than_queued(app_for: Callable[..., TestClient]) -> None:
    c = app_for(admin_token=None)
    r = c.post("/submissions", json=FORM)
    assert r.status_code == 503 and "closed" in r.json()["detail"]
    page = c.get("/submit?lang=nb")
    assert page.status_code == 200 and 'id="submissions-closed"' in page.text and 'id="submit-form"' not in page.text
    assert "Innmelding er stengt" in page.text
    assert c.get("/admin?lang=en").status_code == 403  # moderation is off too, and says so
    assert "ERFA_ADMIN_TOKEN" in c.get("/admin?lang=en").text


def test_links_without_a_scheme_are_completed_and_the_receipt_shows_them(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    r = c.post("/submissions", json=FORM)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["data"]["link"] == "https://fjellbygd.kommune.no/vann"
    assert body["data"]["website"] == "https://fjellbygd.kommune.no"
    assert body["status_url"].endswith("/submit/status/" + body["status_token"])
    assert len(body["status_token"]) >= 32
    for bad in ("javascript:alert(1)", "not a link", "ftp://x.no/a"):
        r = c.post("/submissions", json={**FORM, "website": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "website", bad


def test_the_status_link_follows_a_submission_to_its_decision(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    first = c.post("/submissions", json=FORM).json()
    second = c.post("/submissions", json={**FORM, "title": "Spam"}).json()
    token, path = first["status_token"], "/submit/status/" + first["status_token"]

    assert c.get(f"/submissions/status/{token}").json()["status"] == "pending"
    page = c.get(path + "?lang=sv")
    assert page.status_code == 200 and "Väntar på granskning" in page.text
    assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
    assert c.get("/submit/status/wrong-token?lang=en").status_code == 404
    assert c.get("/submissions/status/wrong-token").status_code == 404

    c.post(f"/submissions/{first['id']}/approve", headers=AUTH)
    done = c.get(f"/submissions/status/{token}").json()
    assert done["status"] == "approved" and done["project_id"] == f"submission-{first['id']}"
    page = c.get(path + "?lang=en")
    assert "Published" in page.text and f"/project/submission-{first['id']}" in page.text

    c.post(f"/submissions/{second['id']}/reject", json={"reason": "Dette er ikke et offentlig prosjekt."}, headers=AUTH)
    rejected = c.get("/submit/status/" + second["status_token"] + "?lang=nb")
    assert "Avvist" in rejected.text and "Dette er ikke et offentlig prosjekt." in rejected.text
    # the store keeps only a hash of the token
    raw = (
        sqlite3.connect(c.app.state.erfa.settings.home / "submissions.sqlite")
        .execute(  # type: ignore[attr-defined]
            "SELECT group_concat(status_hash) FROM submissions"
        )
        .fetchone()[0]
    )
    assert token not in raw


# -- contacts -----------------------------------------------------------------------------------
def test_a_contact_is_published_only_with_consent_and_only_after_approval(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    agreed = c.post("/submissions", json=FORM).json()["id"]
    private = c.post("/submissions", json={**FORM, "title": "Tolking av skjema", "contact_consent": False}).json()["id"]
    assert c.get(f"/projects/submission-{agreed}").status_code == 404  # nothing public before approval
    for sid in (agreed, private):
        assert c.post(f"/submissions/{sid}/approve", headers=AUTH).status_code == 200
    shown = c.get(f"/projects/submission-{agreed}").json()
    hidden = c.get(f"/projects/submission-{private}").json()
    assert (
        shown["contact"] == "digitalisering@fjellbygd.kommune.no" and shown["website"] == "https://fjellbygd.kommune.no"
    )
    assert hidden.get("contact") is None and hidden["website"] == "https://fjellbygd.kommune.no"
    # the moderators still have it
    assert c.get(f"/submissions/{private}", headers=AUTH).json()["data"]["contact"] == FORM["contact"]
    page = c.get(f"/project/submission-{agreed}?lang=en").text
    assert 'href="mailto:digitalisering@fjellbygd.kommune.no"' in page
    assert 'href="https://fjellbygd.kommune.no"' in page and "Fjellbygd kommune&#39;s website" in page
    assert "digitalisering@" not in c.get(f"/project/submission-{private}?lang=en").text


def test_a_project_page_links_the_organisations_site_from_any_of_its_records(
    app_for: Callable[..., TestClient], make_index: Callable[..., ProjectIndex]
) -> None:
    idx = make_index()
    idx.upsert(
        [
            Record.build(
                "reg",
                "1",
                title="Chatbot for byggesak",
                organisation="Fjordvik kommune",
                country="NO",
                description="Svarer innbyggere om byggesøknader.",
            ),
            Record.build(
                "reg",
                "2",
                title="Transkribering av møter",
                organisation="Fjordvik Kommune",
                country="NO",
                website="fjordvik.kommune.no",
                organisation_number="944 000 000",
                description="Møter i kommunestyret blir tekst automatisk.",
            ),
            Record.build(
                "reg",
                "3",
                title="Prognose for snømåking",
                organisation="Andeby kommune",
                country="NO",
                description="Varsler når veiene må brøytes.",
            ),
        ]
    )
    c = app_for(index=idx)
    page = c.get("/project/reg-1?lang=nb").text
    assert 'href="https://fjordvik.kommune.no"' in page and "Nettstedet til Fjordvik kommune" in page
    assert "https://virksomhet.brreg.no/oppslag/enheter/944000000" in page and "944000000" in page
    other = c.get("/project/reg-3?lang=nb").text
    assert "fjordvik.kommune.no" not in other and "brreg" not in other
    assert idx.organisation_contact("reg-1") == ("https://fjordvik.kommune.no", "944000000")
    assert idx.organisation_contact("nope") == (None, None)


def test_erfa_files_carry_web_sites_and_contacts(tmp_path: Path) -> None:
    from erfa.ingest import read_file

    f = tmp_path / "own.jsonl"
    f.write_text(
        '{"source": "vestland", "source_id": "1", "title": "KI i arkivet", "organisation": "Vestland fylkeskommune",'
        ' "website": "vestlandfylke.no", "contact": "arkiv@vestlandfylke.no"}\n',
        encoding="utf-8",
    )
    rec = read_file(f).records[0]
    assert rec.website == "https://vestlandfylke.no" and rec.contact == "arkiv@vestlandfylke.no"
    assert (
        Record.build("x", "1", title="t").content_hash()
        == Record.build("x", "1", title="t", website=None).content_hash()
    )


# -- the store: edits, history, revisions --------------------------------------------------------
def test_edits_are_kept_in_the_history_and_a_stale_decision_is_refused(
    make_index: Callable[..., ProjectIndex], tmp_path: Path
) -> None:
    idx = make_index()
    store = SubmissionStore(tmp_path / "subs.sqlite")
    sub = store.add({**FORM, "title": "Lekkasjer i vannledninger med KI", "country": "Norge"})
    assert sub.status_token and store.by_status_token(sub.status_token).id == sub.id  # type: ignore[union-attr]
    edited = store.edit(sub.id, {"title": "Lekkasjesøk i vannledninger", "municipality": None}, expected_revision=0)
    assert (
        edited.revision == 1
        and edited.data["title"] == "Lekkasjesøk i vannledninger"
        and "municipality" not in edited.data
    )
    assert [d.action for d in edited.history] == ["submitted", "edited"]
    assert edited.history[1].who == "admin"
    assert edited.history[1].detail["changes"] == {
        "title": ["Lekkasjer i vannledninger med KI", "Lekkasjesøk i vannledninger"],
        "municipality": ["Fjellbygd", None],
    }
    assert store.edit(sub.id, {"title": "Lekkasjesøk i vannledninger"}).revision == 1  # no change, no history
    with pytest.raises(StaleSubmission):
        store.approve(sub.id, idx, expected_revision=0)  # the page showed revision 0
    assert idx.get(f"submission-{sub.id}") is None
    with pytest.raises(Exception):
        store.edit(sub.id, {"link": "javascript:alert(1)"})
    with pytest.raises(Exception):
        store.edit(sub.id, {"colour": "blue"})
    done, record = store.approve(sub.id, idx, expected_revision=1)
    assert record.title == "Lekkasjesøk i vannledninger" and record.municipality is None
    assert [d.action for d in done.history] == ["submitted", "edited", "approved"]
    with pytest.raises(SubmissionError):
        store.edit(sub.id, {"title": "Too late"})
    log = store.decisions()
    assert [d.action for d in log] == ["approved", "edited", "submitted"]
    assert store.counts() == {"pending": 0, "approved": 1, "rejected": 0}


def test_an_old_submissions_file_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "submissions.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""CREATE TABLE submissions (id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL,
        created_at TEXT NOT NULL, decided_at TEXT, reason TEXT, record_id TEXT);
        INSERT INTO submissions VALUES ('sold', 'pending', '{"title": "Gammel", "organisation": "Etat"}',
        '2024-01-01T00:00:00+00:00', NULL, NULL, NULL);""")
    con.commit()
    con.close()
    store = SubmissionStore(path)
    old = store.get("sold")
    assert old is not None and old.revision == 0 and old.status_hash is None and old.history == ()
    assert store.edit("sold", {"country": "NO"}).revision == 1


def test_a_backup_keeps_history_and_status_links(make_index: Callable[..., ProjectIndex], tmp_path: Path) -> None:
    import io

    from erfa.index.backup import export, import_file

    idx = make_index()
    store = SubmissionStore(tmp_path / "a.sqlite")
    sub = store.add(FORM)
    store.edit(sub.id, {"title": "Nytt navn"})
    out = io.StringIO()
    export(idx, store, out)
    (tmp_path / "b.jsonl").write_text(out.getvalue(), encoding="utf-8")
    other = SubmissionStore(tmp_path / "b.sqlite")
    import_file(tmp_path / "b.jsonl", make_index(tmp_path / "home-b"), other)
    back = other.get(sub.id)
    assert back is not None and back.revision == 1 and [d.action for d in back.history] == ["submitted", "edited"]
    assert other.by_status_token(sub.status_token or "") is not None


def test_to_record_leaves_out_a_contact_without_consent() -> None:
    assert to_record("s1", {**FORM, "contact_consent": False}).contact is None
    assert to_record("s1", FORM).contact == FORM["contact"]


# -- the JSON API's edit -------------------------------------------------------------------------
def test_patch_corrects_a_pending_submission(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json=FORM).json()["id"]
    assert c.patch(f"/submissions/{sid}", json={"title": "X"}).status_code == 401
    r = c.patch(
        f"/submissions/{sid}",
        json={"title": "Lekkasjesøk", "website": "fjellbygd.no", "expected_revision": 0},
        headers=AUTH,
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["website"] == "https://fjellbygd.no" and r.json()["revision"] == 1
    assert [h["action"] for h in r.json()["history"]] == ["submitted", "edited"]
    assert c.patch(f"/submissions/{sid}", json={"title": None}, headers=AUTH).status_code == 422
    assert c.patch(f"/submissions/{sid}", json={"title": "Y", "expected_revision": 0}, headers=AUTH).status_code == 409
    assert c.post(f"/submissions/{sid}/approve", params={"expected_revision": 0}, headers=AUTH).status_code == 409
    assert c.post(f"/submissions/{sid}/approve", params={"expected_revision": 1}, headers=AUTH).status_code == 200


# -- the pages -----------------------------------------------------------------------------------
def test_sign_in_sets_a_strict_session_cookie_and_sign_out_ends_it(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    page = c.get("/admin?lang=nb")
    assert "Logg inn for å moderere" in page.text and page.headers["cache-control"] == "no-store"
    pre = page.headers["set-cookie"]
    assert "HttpOnly" in pre and "SameSite=strict" in pre.replace("Strict", "strict")
    # no CSRF token, or another one: refused without looking at the token
    assert c.post("/admin/sign-in", data={"token": TOKEN}, follow_redirects=False).status_code == 403
    assert c.post("/admin/sign-in", data={"token": TOKEN, "csrf": "forged"}, follow_redirects=False).status_code == 403
    wrong = c.post(
        "/admin/sign-in?lang=en", data={"token": "wrong", "csrf": csrf_of(c.get("/admin").text)}, follow_redirects=False
    )
    assert wrong.status_code == 401 and "The token is wrong" in wrong.text
    r = c.post("/admin/sign-in", data={"token": TOKEN, "csrf": csrf_of(c.get("/admin").text)}, follow_redirects=False)
    assert r.status_code == 303
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("erfa_admin=")][0]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Secure" not in cookie  # plain http here
    assert TOKEN not in cookie
    queue = c.get("/admin?lang=en")
    assert "Sign out" in queue.text
    old = c.cookies.get("erfa_admin")
    out = c.post("/admin/sign-out", data={"csrf": csrf_of(queue.text)}, follow_redirects=False)
    assert out.status_code == 303 and "done=signed_out" in out.headers["location"]
    c.cookies.set("erfa_admin", old or "")  # a copy of the cookie is worthless after sign-out
    assert 'name="token"' in c.get("/admin").text


def test_over_https_the_session_cookie_is_secure_and_host_only(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    s = TestClient(c.app, base_url="https://testserver")
    page = s.get("/admin")
    r = s.post("/admin/sign-in", data={"token": TOKEN, "csrf": csrf_of(page.text)}, follow_redirects=False)
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("__Host-erfa_admin=")][0]
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert "Sign out" in s.get("/admin?lang=en").text


def test_a_session_expires_and_ends_when_the_token_changes(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = app_for()
    signed_in(c)
    monkeypatch.setattr(sessions_mod, "IDLE", timedelta(seconds=-1))
    assert 'name="token"' in c.get("/admin").text
    monkeypatch.undo()
    signed_in(c)
    c.app.state.erfa.settings.admin_token = "another-token-0123456789abcdef"  # type: ignore[attr-defined]
    assert 'name="token"' in c.get("/admin").text


def test_the_moderation_pages_edit_approve_and_reject(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json={**FORM, "title": "Lekasjer i vanledninger"}).json()["id"]
    spam = c.post("/submissions", json={"title": "Kjøp billige klokker", "organisation": "Spam AS"}).json()["id"]
    csrf = signed_in(c)
    queue = c.get("/admin?lang=en").text
    assert "(2)" in queue and "Lekasjer i vanledninger" in queue and f"/admin/submissions/{sid}" in queue

    page = c.get(f"/admin/submissions/{sid}?lang=en")
    assert page.status_code == 200 and "How the project page will look" in page.text
    assert "digitalisering@fjellbygd.kommune.no" in page.text  # the preview shows the consented contact
    form = {f: "" for f in ("description", "purpose", "municipality", "end_year", "link", "purpose")}
    form.update(
        {
            "csrf": csrf,
            "revision": "0",
            "title": "Lekkasjer i vannledninger",
            "organisation": "Fjellbygd kommune",
            "description": FORM["description"],
            "country": "NO",
            "sector": "environment",
            "status": "pilot",
            "start_year": "2023",
            "website": "fjellbygd.kommune.no",
            "contact": FORM["contact"],
            "contact_consent": "yes",
        }
    )
    bad = c.post(f"/admin/submissions/{sid}/edit?lang=en", data={**form, "start_year": "soon"})
    assert (
        bad.status_code == 422
        and "Enter a year between 1950 and 2100." in bad.text
        and 'aria-invalid="true"' in bad.text
    )
    saved = c.post(f"/admin/submissions/{sid}/edit?lang=en", data=form)
    assert saved.status_code == 200 and "The changes are saved." in saved.text
    sub = c.get(f"/submissions/{sid}", headers=AUTH).json()
    assert sub["data"]["title"] == "Lekkasjer i vannledninger" and sub["revision"] == 1 and "link" not in sub["data"]

    stale = c.post(f"/admin/submissions/{sid}/approve?lang=en", data={"csrf": csrf, "revision": "0"})
    assert stale.status_code == 409 and "changed since you opened it" in stale.text
    assert c.post(f"/admin/submissions/{sid}/approve", data={"revision": "1"}).status_code == 403  # no CSRF token
    assert (
        c.post(
            f"/admin/submissions/{sid}/approve",
            data={"csrf": csrf, "revision": "1"},
            headers={"Origin": "https://evil.example"},
        ).status_code
        == 403
    )
    assert c.get(f"/projects/submission-{sid}").status_code == 404
    done = c.post(f"/admin/submissions/{sid}/approve?lang=en", data={"csrf": csrf, "revision": "1"})
    assert done.status_code == 200 and "The project is approved and published." in done.text
    top = c.get("/search", params={"q": "lekkasjer i vannledninger", "limit": 1}).json()["results"][0]
    assert top["id"] == f"submission-{sid}"

    empty = c.post(f"/admin/submissions/{spam}/reject?lang=en", data={"csrf": csrf, "revision": "0", "reason": " "})
    assert empty.status_code == 422 and "Write a reason before rejecting." in empty.text
    gone = c.post(
        f"/admin/submissions/{spam}/reject?lang=en", data={"csrf": csrf, "revision": "0", "reason": "Reklame"}
    )
    assert "The submission is rejected." in gone.text
    history = c.get("/admin/history?lang=en").text
    for text in ("Rejected", "Reklame", "Approved and published", "Edited", "Submitted", "Lekkasjer i vannledninger"):
        assert text in history
    assert "(0)" in c.get("/admin?lang=en").text  # nothing pending


def test_the_pages_need_a_session_and_survive_junk(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json=FORM).json()["id"]
    r = c.get(f"/admin/submissions/{sid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin")
    assert c.post(f"/admin/submissions/{sid}/approve", data={"csrf": "x"}, follow_redirects=False).status_code == 303
    assert c.get(f"/projects/submission-{sid}").status_code == 404
    signed_in(c)
    assert c.get("/admin/submissions/nope?lang=en").status_code == 404
    assert c.get(f"/admin/submissions/{sid}?done=%7Bjunk%7D").status_code == 200
    assert c.get("/admin?status=junk&offset=-3").status_code == 200
    assert c.get("/admin/history?offset=5").status_code == 200


def test_bearer_token_api_still_works_beside_the_pages(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json=FORM).json()["id"]
    assert c.get("/submissions", headers=AUTH).json()["total"] == 1
    signed_in(c)  # a session cookie alone is not a bearer token for the JSON API
    assert c.get("/submissions").status_code == 401
    assert c.post(f"/submissions/{sid}/approve", headers=AUTH).status_code == 200


# -- the command line ------------------------------------------------------------------------------
def _erfa(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(erfa_cmd(home, *args), capture_output=True, text=True, timeout=600, env=erfa_env())


@pytest.mark.model
def test_erfa_submissions_list_show_edit_approve_reject(encoder: object, model_home: Path, tmp_path: Path) -> None:
    from tests._ops import prepare_home

    home = prepare_home(tmp_path / "cli-home", model_home)  # `encoder` has built the model it links
    store = SubmissionStore.in_home(home)
    one = store.add(FORM)
    two = store.add({"title": "Kjøp klokker", "organisation": "Spam AS"})
    store.close()

    listed = _erfa(home, "submissions", "list")
    assert listed.returncode == 0, listed.stderr
    assert "pending: 2" in listed.stdout and one.id in listed.stdout and two.id in listed.stdout
    edited = _erfa(home, "submissions", "edit", one.id, "title=Lekkasjesøk i vannledninger", "municipality=")
    assert edited.returncode == 0 and "revision 1" in edited.stdout, edited.stderr
    assert _erfa(home, "submissions", "edit", one.id, "colour=blue").returncode == 1
    shown = _erfa(home, "submissions", "show", one.id)
    assert "Lekkasjesøk i vannledninger" in shown.stdout and "edited" in shown.stdout
    assert _erfa(home, "submissions", "approve", one.id, "--revision", "0").returncode == 1
    approved = _erfa(home, "submissions", "approve", one.id)
    assert approved.returncode == 0 and f"submission-{one.id}" in approved.stdout, approved.stderr
    assert _erfa(home, "submissions", "reject", two.id, "--reason", "Reklame").returncode == 0
    assert _erfa(home, "submissions", "approve", two.id).returncode == 1
    found = _erfa(home, "search", "lekkasjer i vannledninger", "--json")
    assert f"submission-{one.id}" in found.stdout
    as_json = _erfa(home, "submissions", "list", "--status", "all", "--json")
    assert '"total": 2' in as_json.stdout


def test_sign_in_attempts_are_limited_per_client(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    codes = []
    for _ in range(11):
        codes.append(
            c.post(
                "/admin/sign-in?lang=en",
                data={"token": "wrong", "csrf": csrf_of(c.get("/admin").text)},
                follow_redirects=False,
            ).status_code
        )
    assert codes[:10] == [401] * 10 and codes[10] == 429
    last = c.post("/admin/sign-in?lang=en", data={"token": TOKEN, "csrf": csrf_of(c.get("/admin").text)})
    assert last.status_code == 429 and "Too many attempts" in last.text and int(last.headers["Retry-After"]) > 0


def test_partners_show_the_organisations_site_and_consented_contact(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json={**FORM, "website": "fjellbygd.kommune.no/om-oss"}).json()["id"]
    c.post(f"/submissions/{sid}/approve", headers=AUTH)
    partners = c.get("/partners", params={"q": "oppdage lekkasjer i vannledninger med sensordata"}).json()["partners"]
    mine = next(p for p in partners if p["organisation"] == "Fjellbygd kommune")
    assert mine["contact"] == {
        "website": "https://fjellbygd.kommune.no/om-oss",
        "registry_id": None,
        "contact": "digitalisering@fjellbygd.kommune.no",
    }
