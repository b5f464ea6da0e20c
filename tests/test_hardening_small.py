"""Issue 18, item 6: the smaller holes, each with the request that used to show it.

NaN/Infinity in a JSON body, a NUL byte in an id (on SQLite and PostgreSQL), a
protocol-relative language link, admin-token guesses, a feed's Last-Modified, the first
/admin on a full disk, the JSON status link's caching, a 20-digit offset, the Host header
in status_url, and HEAD on the probes.
"""

from __future__ import annotations

import errno
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.service.api.errors import error_response
from erfa.service.api.security import RateLimiter
from erfa.service.pages import sessions as sessions_mod
from tests._ops import AUTH, TOKEN
from tests._pg import make_pg_index, pg_cluster, pg_url  # noqa: F401  (fixtures)
from tests.test_feeds import CORPUS as FEED_CORPUS
from tests.test_feeds import NEED, when
from tests.test_index import rec
from tests.test_moderation import FORM, csrf_of, signed_in

Make = Callable[..., ProjectIndex]
MakePg = Callable[..., ProjectIndex]
JSON = {"content-type": "application/json"}


def strict_json(text: str) -> Any:
    """json.loads as RFC 8259 reads it: NaN and Infinity are not numbers."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# -- NaN and Infinity ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/submissions", b'{"title": NaN, "organisation": "Etat"}'),
        ("POST", "/submissions", b'{"title": "Chatbot", "organisation": "Etat", "start_year": Infinity}'),
        ("POST", "/projects", b'{"source": "t", "source_id": NaN, "title": "x"}'),
        ("POST", "/projects", b'[{"source": "t", "source_id": "a", "title": "x", "end_year": -Infinity}]'),
        ("PATCH", "/submissions/{sid}", b'{"start_year": NaN}'),
        ("POST", "/submissions/{sid}/reject", b'{"reason": Infinity}'),
    ],
)
def test_nan_and_infinity_get_a_422_whose_body_is_valid_json(
    app_for: Callable[..., TestClient], method: str, path: str, body: bytes
) -> None:
    c = app_for()
    sid = c.post("/submissions", json=FORM).json()["id"]
    r = c.request(method, path.format(sid=sid), content=body, headers={**AUTH, **JSON})
    assert r.status_code == 422, r.text
    detail = strict_json(r.text)["detail"]
    assert any("NaN" in d["msg"] and "Infinity" in d["msg"] for d in detail), detail


def test_no_error_body_carries_a_non_finite_number() -> None:
    body = error_response(
        422, [{"loc": ["body", "x"], "msg": "x", "input": float("nan"), "ctx": {"ge": float("inf")}}]
    ).body
    assert strict_json(bytes(body).decode()) == {
        "detail": [{"loc": ["body", "x"], "msg": "x", "input": None, "ctx": {"ge": None}}]
    }


# -- NUL bytes (and other control characters) in ids ---------------------------------------
NUL_ID = "test-1%00x"
NUL_PATHS = [
    ("GET", f"/projects/{NUL_ID}", None),
    ("GET", f"/projects/{NUL_ID}/similar", None),
    ("DELETE", f"/projects/{NUL_ID}", None),
    ("GET", "/projects/test-%01", None),
    ("GET", f"/submissions/{NUL_ID}", None),
    ("PATCH", f"/submissions/{NUL_ID}", {"title": "x"}),
    ("POST", f"/submissions/{NUL_ID}/approve", None),
    ("POST", f"/submissions/{NUL_ID}/reject", {"reason": "x"}),
    ("GET", f"/submissions/status/{NUL_ID}", None),
    ("GET", f"/project/{NUL_ID}", None),
    ("GET", f"/submit/status/{NUL_ID}", None),
    ("GET", f"/admin/submissions/{NUL_ID}", None),
]


def _nul_requests(c: TestClient) -> None:
    signed_in(c)
    for method, path, body in NUL_PATHS:
        r = c.request(method, path, headers=AUTH, json=body)
        assert r.status_code in (404, 422), (method, path, r.status_code, r.text)
        if r.headers["content-type"].startswith("application/json"):
            strict_json(r.text)


def test_an_id_with_a_control_character_never_reaches_the_store(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = app_for()
    idx: ProjectIndex = c.app.state.erfa.index  # type: ignore[attr-defined]
    subs = c.app.state.erfa.submissions  # type: ignore[attr-defined]
    asked: list[str] = []

    def spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(key: str | list[str], *args: Any, **kwargs: Any) -> Any:
            asked.extend([key] if isinstance(key, str) else key)
            return real(key, *args, **kwargs)

        return call

    for obj, name in (
        (idx.store, "get"),
        (idx.store, "delete"),
        (subs, "get"),
        (subs, "edit"),
        (subs, "approve"),
        (subs, "reject"),
    ):
        monkeypatch.setattr(obj, name, spy(getattr(obj, name)))
    _nul_requests(c)
    assert not [k for k in asked if re.search(r"[\x00-\x1f]", k)], asked
    assert c.get("/projects/test-1").status_code == 200  # plain ids still work


@pytest.mark.postgres
def test_an_id_with_a_nul_byte_gets_404_or_422_on_postgresql(
    app_for: Callable[..., TestClient], make_pg_index: MakePg, pg_url: str
) -> None:
    from tests.test_index import CORPUS

    idx = make_pg_index(pg_url)
    idx.upsert(CORPUS)
    c = app_for(index=idx, database_url=pg_url)
    assert type(c.app.state.erfa.submissions).__name__ == "PgSubmissionStore"  # type: ignore[attr-defined]
    c.post("/submissions", json=FORM)
    _nul_requests(c)
    assert c.get("/projects/test-1").status_code == 200


@pytest.mark.postgres
def test_the_postgresql_stores_treat_a_nul_id_as_unknown(make_pg_index: MakePg, pg_url: str) -> None:
    from erfa.index.moderation.postgres import PgSubmissionStore

    idx = make_pg_index(pg_url)
    assert idx.store.get("a\x00b") is None
    assert idx.store.delete(["a\x00b"])[1] == {}
    subs = PgSubmissionStore(pg_url)
    try:
        assert subs.get("a\x00b") is None and subs.by_status_token("a\x00b") is None
        with pytest.raises(KeyError):
            subs.edit("a\x00b", {"title": "x"})
        with pytest.raises(KeyError):
            subs.reject("a\x00b", "x")
    finally:
        subs.close()


# -- language links -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["//evil.example/x", "///evil.example/x", "/%2F%2Fevil.example/x"])
def test_language_links_stay_on_erfa(app_for: Callable[..., TestClient], path: str) -> None:
    c = app_for()
    r = c.get("http://testserver" + path, headers={"accept": "text/html"})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    links = re.findall(r'href="([^"]*)" lang="(nb|nn|sv|da|en)"', r.text)
    assert len(links) == 5, r.text
    for href, _ in links:
        assert href.startswith("/") and not href.startswith(("//", "/\\")), href


# -- admin-token guesses --------------------------------------------------------------------
def _form_sign_in(c: TestClient, token: str) -> Any:
    return c.post(
        "/admin/sign-in?lang=en", data={"token": token, "csrf": csrf_of(c.get("/admin").text)}, follow_redirects=False
    )


def test_wrong_bearer_tokens_are_limited_like_the_sign_in_form(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    now = [0.0]
    c.app.state.erfa_token_guard.limiter = RateLimiter(clock=lambda: now[0])  # type: ignore[attr-defined]
    wrong = {"Authorization": "Bearer wrong-token-0123456789abcdef"}
    codes = [c.get("/submissions", headers=wrong).status_code for _ in range(10)]
    assert codes == [401] * 10
    r = c.get("/submissions", headers=wrong)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, r.text
    strict_json(r.text)
    # even the right token waits now, by every route that checks it
    right = c.get("/submissions", headers=AUTH)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert c.post("/projects", json={"source": "t", "source_id": "1", "title": "x"}, headers=AUTH).status_code == 429
    assert _form_sign_in(c, TOKEN).status_code == 429
    now[0] += 900  # the window has passed
    assert c.get("/submissions", headers=AUTH).status_code == 200


def test_the_form_and_the_api_share_one_count(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    wrong = {"Authorization": "Bearer wrong"}
    assert [c.get("/submissions", headers=wrong).status_code for _ in range(5)] == [401] * 5
    assert [_form_sign_in(c, "wrong").status_code for _ in range(5)] == [401] * 5
    assert _form_sign_in(c, TOKEN).status_code == 429
    assert c.delete("/projects/test-1", headers=AUTH).status_code == 429
    # another client is not affected
    other = TestClient(c.app, client=("10.9.8.7", 1234), raise_server_exceptions=False)
    assert other.get("/submissions", headers=AUTH).status_code == 200


def test_a_wrong_token_on_a_public_route_counts_too(app_for: Callable[..., TestClient]) -> None:
    """The rate-limit exemption of the right token must not be an oracle for guesses."""
    c = app_for()
    for _ in range(10):
        assert c.get("/projects/test-1", headers={"Authorization": "Bearer guess"}).status_code == 200
    assert c.get("/submissions", headers=AUTH).status_code == 429


# -- the feed's Last-Modified ------------------------------------------------------------------
@pytest.fixture
def feed_client(make_index: Make, tmp_path: Path) -> Iterator[TestClient]:
    from erfa.service.api import create_app
    from erfa.service.settings import Settings

    idx = make_index()
    idx.upsert(FEED_CORPUS)
    with TestClient(create_app(Settings(home=tmp_path / "home", demo=False, rate_limit=0), index=idx, wait=True)) as c:
        yield c


@pytest.mark.parametrize("change", ["retitled, same updated_at", "newest deleted", "older one added"])
def test_a_changed_feed_never_answers_304_to_if_modified_since(feed_client: TestClient, change: str) -> None:
    c = feed_client
    first = c.get("/feed.atom", params={"q": NEED})
    modified, etag = first.headers["last-modified"], first.headers["etag"]
    assert c.get("/feed.atom", params={"q": NEED}, headers={"If-Modified-Since": modified}).status_code == 304
    idx: ProjectIndex = c.app.state.erfa.index  # type: ignore[attr-defined]
    if change == "retitled, same updated_at":
        idx.upsert([FEED_CORPUS[0].model_copy(update={"title": "Chatbot for byggesaker og plansaker"})])
    elif change == "newest deleted":
        idx.delete([FEED_CORPUS[1].id])  # when(9), the newest entry
    else:
        idx.upsert(
            [
                rec(
                    "8",
                    "Chatbot som svarer på byggesøknader",
                    "Søkere får svar om byggesøknader fra en chatbot.",
                    organisation="Voss kommune",
                    country="NO",
                    updated_at=when(1),
                )
            ]
        )
    r = c.get("/feed.atom", params={"q": NEED}, headers={"If-Modified-Since": modified})
    assert r.status_code == 200, change
    assert r.headers["etag"] != etag
    assert parsedate_to_datetime(r.headers["last-modified"]) > parsedate_to_datetime(modified)
    again = c.get("/feed.atom", params={"q": NEED}, headers={"If-Modified-Since": r.headers["last-modified"]})
    assert again.status_code == 304  # and unchanged since: not modified


# -- the first /admin on a full disk -----------------------------------------------------------
def _full(*args: object, **kwargs: object) -> None:
    raise sqlite3.OperationalError("database or disk is full")


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


class _FullDisk:
    """The os module as sessions.py sees it on a full disk: every write fails with ENOSPC."""

    def __getattr__(self, name: str) -> Any:
        import os

        return _enospc if name == "write" else getattr(os, name)


@pytest.mark.parametrize("where", ["sessions database", "session key"])
def test_the_first_admin_page_on_a_full_disk_gets_507(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    c = app_for()
    with monkeypatch.context() as m:
        if where == "sessions database":
            m.setattr(sessions_mod.Sessions, "_con", _full)
        else:
            m.setattr(sessions_mod, "os", _FullDisk())
        r = c.get("/admin?lang=en")
        assert r.status_code == 507, r.text[:300]
        assert "disk" in r.text
    assert c.get("/admin?lang=en").status_code == 200  # with space again, the sign-in form


@pytest.mark.parametrize("action", ["approve", "edit"])
def test_a_moderation_form_on_a_full_disk_gets_the_507_page(
    app_for: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    from tests.test_submissions import _commit_fails

    c = app_for()
    csrf = signed_in(c)
    sid = c.post("/submissions", json=FORM).json()["id"]
    store = c.app.state.erfa.submissions  # type: ignore[attr-defined]
    with monkeypatch.context() as m:
        m.setattr(store, "_tx", _commit_fails(store))
        r = c.post(
            f"/admin/submissions/{sid}/{action}?lang=en",
            data={"csrf": csrf, "title": "Nytt navn", "organisation": "Etat"},
        )
    assert r.status_code == 507 and r.headers["content-type"].startswith("text/html") and "disk" in r.text
    assert store.get(sid).status == "pending" and store.get(sid).revision == 0


def test_a_store_that_cannot_open_on_a_full_disk_gets_the_apis_507(app_for: Callable[..., TestClient]) -> None:
    from erfa.index.store.sqlite import StoreUnreadable

    c = app_for()

    @c.app.get("/test-open-store", include_in_schema=False)
    def open_store() -> None:
        full = sqlite3.OperationalError("database or disk is full")
        raise StoreUnreadable(Path("x.sqlite"), full) from full  # as SqliteFile raises it

    r = c.get("/test-open-store")
    assert r.status_code == 507 and "disk is full" in r.json()["detail"] and r.headers["Retry-After"]


# -- the JSON status link is never cached ---------------------------------------------------
def test_the_json_status_link_is_not_stored_by_any_cache(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    token = c.post("/submissions", json=FORM).json()["status_token"]
    r = c.get(f"/submissions/status/{token}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "noindex" in r.headers["x-robots-tag"]
    assert c.get("/submissions/status/unknown-token").headers["cache-control"] == "no-store"


# -- offsets on the moderation pages ---------------------------------------------------------
@pytest.mark.parametrize("path", ["/admin", "/admin/history"])
def test_a_20_digit_offset_gets_422_not_500(app_for: Callable[..., TestClient], path: str) -> None:
    c = app_for()
    signed_in(c)
    r = c.get(path, params={"offset": "9" * 20})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"][0]["loc"] == ["query", "offset"]
    assert c.get(path, params={"offset": "-3"}).status_code == 200  # a negative one is still read as 0


# -- status_url and the Host header --------------------------------------------------------
def test_status_url_uses_the_configured_public_url_not_the_host_header(app_for: Callable[..., TestClient]) -> None:
    c = app_for(public_url="https://erfa.kommune.no/")
    body = c.post("/submissions", json=FORM, headers={"host": "evil.example"}).json()
    assert body["status_url"] == "https://erfa.kommune.no/submit/status/" + body["status_token"]


def test_without_a_public_url_status_url_is_relative(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    body = c.post("/submissions", json=FORM, headers={"host": "evil.example"}).json()
    assert body["status_url"] == "/submit/status/" + body["status_token"]
    assert c.get(body["status_url"]).status_code == 200


def test_a_public_url_must_be_an_http_address() -> None:
    from erfa.service.settings import Settings

    assert Settings(public_url="https://erfa.example/sok/").public_url == "https://erfa.example/sok"
    for bad in ("erfa.example", "javascript:alert(1)", "https://erfa.example/?a=1", "https://x/#f"):
        with pytest.raises(SystemExit, match="ERFA_PUBLIC_URL"):
            Settings(public_url=bad)


# -- HEAD on the probes ---------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_on_the_probes_answers_200_without_a_body(app_for: Callable[..., TestClient], path: str) -> None:
    c = app_for()
    r = c.head(path)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["x-content-type-options"] == "nosniff"
    assert c.get(path).json()["status"] in ("ok", "ready")
