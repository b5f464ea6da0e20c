"""The web pages, the embed page and the widget's configuration, through FastAPI's test
client: fast checks of what the browser tests (tests/browser) exercise end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from erfa.index import Filters, ProjectIndex
from erfa.index.search import ranking
from erfa.ingest import Record, vocab
from erfa.service.api import create_app
from erfa.service.pages import i18n
from erfa.service.settings import Settings
from tests._ops import TOKEN, set_close_match
from tests.factories import CORPUS, Make, rec

PORTAL = "https://intranett.fjordby.kommune.no"
HOSTILE = rec(
    "5",
    "<script>alert('x')</script> Chatbot",
    "Chatbot <img src=x onerror=alert(1)> for byggesaker og søknader.",
    organisation="Fjordby <b>kommune</b>",
    country="NO",
    status="pilot",
    start_year=2023,
    sector="building_maps",
    link="https://fjordby.example/chatbot",
)


@pytest.fixture
def served_records() -> list[Record]:
    """The `client` and `app_for` fixtures (tests/conftest.py) serve the corpus with a hostile record here."""
    return [*CORPUS, HOSTILE]


# -- language ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "lang", "question"),
    [
        ("sv-SE,sv;q=0.9,en;q=0.5", "sv", "Vad vill ni använda AI till?"),
        ("nb-NO,nb;q=0.9", "nb", "Hva vil dere bruke KI til?"),
        ("no", "nb", "Hva vil dere bruke KI til?"),
        ("nn-NO", "nn", "Kva vil de bruke KI til?"),
        ("da-DK,da;q=0.9", "da", "Hvad vil I bruge AI til?"),
        ("de-DE,en;q=0.3,sv;q=0.8", "sv", "Vad vill ni använda AI till?"),
        ("fr-FR", "en", "What do you want to use AI for?"),
        ("", "en", "What do you want to use AI for?"),
    ],
)
def test_the_page_speaks_the_browsers_language(client: TestClient, header: str, lang: str, question: str) -> None:
    r = client.get("/", headers={"Accept-Language": header})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'<html lang="{lang}">' in r.text and question in r.text
    assert "Accept-Language" in r.headers["Vary"]
    assert "set-cookie" not in r.headers


def test_lang_parameter_wins_and_travels_in_links(client: TestClient) -> None:
    r = client.get("/", params={"q": "chatbot", "lang": "nn"}, headers={"Accept-Language": "sv"})
    assert '<html lang="nn">' in r.text and "Kva vil de bruke KI til?" in r.text
    assert 'href="/project/test-1?q=chatbot&amp;lang=nn"' in r.text
    # the visible switch: every language, each named in itself, the current one marked
    for code, name in i18n.ENDONYMS.items():
        assert f'lang="{code}" hreflang="{code}"' in r.text and name in r.text
    assert re.search(r'hreflang="nn" aria-current="true"', r.text)


def test_every_ui_string_exists_in_all_five_languages_with_the_same_placeholders() -> None:
    for key in (k for k in i18n.all_keys() if not i18n.is_plural(k)):  # plural forms: tests/test_i18n.py
        texts = [i18n.t(lang, key) for lang in i18n.LANGS]
        assert all(t.strip() for t in texts), key
        assert len({frozenset(re.findall(r"{(\w+)}", t)) for t in texts}) == 1, key
    for kind, codes in (("status", vocab.STATUSES), ("sector", vocab.SECTORS), ("owner_type", vocab.OWNER_TYPES)):
        for code in codes:
            labels = [i18n.label(lang, kind, code) for lang in i18n.LANGS]
            assert all(labels) and code not in labels, (kind, code)
    assert i18n.label("sv", "status", "implemented") == "I drift"
    assert i18n.label("nb", "country", "XX") == "XX"  # unknown codes stay codes, not guesses


def test_the_widget_carries_the_same_strings_as_i18n() -> None:
    js = (Path(i18n.__file__).parent / "static" / "erfa-widget.js").read_text(encoding="utf-8")
    block = re.search(r"/\*STRINGS\*/\s*var STRINGS = (.*?);\s*/\*END STRINGS\*/", js, re.S)
    assert block, "STRINGS block missing in erfa-widget.js"
    assert json.loads(block.group(1)) == i18n.widget_strings(), "run: python -m erfa.service.pages.i18n"
    plurals = re.search(r"/\*PLURALS\*/\s*(.*?)\s*/\*END PLURALS\*/", js, re.S)
    assert plurals and plurals.group(1) == i18n.widget_plural_code(), "run: python -m erfa.service.pages.i18n"


def test_accept_language_parsing() -> None:
    assert i18n.from_accept_language("en;q=0.1, sv;q=0.2") == "sv"
    assert i18n.from_accept_language("sv;q=0, nn") == "nn"
    assert i18n.from_accept_language("da-DK,da;q=0.9,en;q=0.5") == "da"
    assert i18n.from_accept_language("fi-FI") == "en"
    assert i18n.from_accept_language("garbage;q=x, nb") == "nb"
    assert i18n.choose("SV", "nb") == ("sv", True)
    assert i18n.choose("xx", "nb") == ("nb", False)


# -- search page ------------------------------------------------------------------------
def test_search_page_shows_results_with_their_facts_and_facets(client: TestClient) -> None:
    r = client.get("/", params={"q": "chatbot byggesøknad", "lang": "en"})
    assert r.status_code == 200
    html = r.text
    assert "Chatbot for byggesaker" in html and "Askøy kommune" in html and "Norway" in html
    assert "<mark>" in html  # the query's words in the snippet
    assert 'type="checkbox"' in html and 'name="country" value="NO"' in html
    assert "Showing 1–" in html
    # registry text is escaped wherever it appears
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>kommune</b>" not in html
    assert "&lt;script&gt;alert" in html
    assert "Pilot" in html and "since 2023" in html


def test_filters_narrow_results_and_stay_ticked(client: TestClient) -> None:
    html = client.get("/", params={"q": "AI", "country": "SE", "lang": "en"}).text
    results = html.split('class="result-list"')[1]
    assert "Taligenkänning i vården" in results and "Askøy kommune" not in results
    assert re.search(r'name="country" value="SE" checked', html)
    assert "Clear all filters" in html
    both = client.get("/?q=AI&country=SE&country=DK&lang=en").text.split('class="result-list"')[1]
    assert "Naturstyrelsen" in both and "Askøy kommune" not in both


def test_bad_filters_give_a_message_not_a_json_error(client: TestClient) -> None:
    r = client.get("/", params={"q": "AI", "status": "bogus", "year_from": "abc", "lang": "en"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "The filter cannot be used:" in r.text and "Years must be between 1900 and 2100." in r.text


def test_no_close_match_is_said_honestly(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 0)  # judge even this five-project corpus
    set_close_match(monkeypatch, 99.0)  # no match stands out this far
    for lang, text in (
        ("nb", "Ingen nære treff"),
        ("nn", "Ingen nære treff"),
        ("sv", "Inga nära träffar"),
        ("en", "No close match"),
    ):
        assert text in client.get("/", params={"q": "snømåking", "lang": lang}).text
    assert i18n.t("sv", "no_close") in client.get("/embed", params={"q": "snømåking", "lang": "sv"}).text
    set_close_match(monkeypatch, -1.0)
    assert "No close match" not in client.get("/", params={"q": "snømåking", "lang": "en"}).text


def test_partner_view_lists_organisations_and_their_projects(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_close_match(monkeypatch, -1.0)
    html = client.get("/", params={"q": "chatbot for byggesaker", "view": "partners", "lang": "nb"}).text
    assert "Organisasjoner med erfaring" in html and 'aria-current="page">Organisasjoner med erfaring' in html
    assert "Askøy kommune" in html and "Relevante prosjekter" in html
    assert 'href="/project/test-1?q=chatbot+for+byggesaker&amp;lang=nb"' in html


def test_pages_load_no_inline_script_or_style(client: TestClient) -> None:
    """The CSP forbids inline code; a page that relied on it would break only in browsers."""
    for url in ("/?q=chatbot", "/project/test-1", "/submit", "/embed?q=chatbot", "/project/nope"):
        html = client.get(url).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert "<style" not in html and " style=" not in html, url
        assert "unsafe-inline" not in client.get(url).headers["content-security-policy"]


# -- project page -----------------------------------------------------------------------
def test_project_page_shows_the_record_contact_and_similar_projects(client: TestClient) -> None:
    r = client.get("/project/test-5", params={"lang": "en", "q": "chatbot"})
    assert r.status_code == 200
    html = r.text
    assert "<h1" in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Chatbot" in html
    assert (
        "Contact the organisation" in html and "Ask Fjordby &lt;b&gt;kommune&lt;/b&gt; about their experience" in html
    )
    assert 'href="https://fjordby.example/chatbot"' in html
    assert "Planning, building and maps" in html and "Pilot" in html
    assert "Similar projects" in html and html.count('class="result"') >= 3
    assert 'href="/?q=chatbot&amp;lang=en"' in html  # back to the search


def test_unknown_project_is_a_404_page(client: TestClient) -> None:
    r = client.get("/project/nope", headers={"Accept-Language": "sv"})
    assert (
        r.status_code == 404
        and "Projektet hittades inte" in r.text
        and r.headers["content-type"].startswith("text/html")
    )


def test_pages_say_so_while_the_index_is_loading(make_index: Make, tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path / "h", demo=False, rate_limit=0), index=make_index())
    c = TestClient(app)  # not entered: the lifespan (and so the loader) never runs
    r = c.get("/", params={"q": "chatbot"}, headers={"Accept-Language": "nb"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5" and "erfa starter" in r.text
    assert c.get("/").status_code == 200  # the empty search page needs no index
    assert c.get("/submit").status_code == 200


# -- submission form ----------------------------------------------------------------------
def test_submit_page_has_labelled_fields_and_its_messages(app_for: Callable[..., TestClient]) -> None:
    client = app_for(
        admin_token=TOKEN
    )  # with no moderator the page says submissions are closed (tests/service/test_moderation.py)
    html = client.get("/submit", params={"lang": "sv"}).text
    assert "<h1>Föreslå ett projekt</h1>" in html and 'data-endpoint="/submissions"' in html
    for name in (
        "title",
        "organisation",
        "description",
        "purpose",
        "country",
        "municipality",
        "sector",
        "status",
        "start_year",
        "end_year",
        "link",
    ):
        assert f'<label for="s-{name}">' in html and f'id="s-{name}"' in html, name
    strings = json.loads(
        re.search(r'<script type="application/json" id="submit-strings">(.*?)</script>', html, re.S).group(1)
    )
    assert strings["err_end_before_start"] == "Slutåret kan inte vara före startåret."
    for code in vocab.STATUSES:
        assert f'<option value="{code}">' in html
    assert 'src="/static/erfa.js"' in html
    assert "Meld inn prosjekt" in client.get("/submit", params={"lang": "nb"}).text


def test_the_forms_target_accepts_what_the_form_sends(app_for: Callable[..., TestClient]) -> None:
    client = app_for(admin_token=TOKEN)
    body = {
        "title": "Tolkning av protokoll",
        "organisation": "Fjordby kommun",
        "country": "SE",
        "sector": "hr",
        "status": "pilot",
        "start_year": 2024,
        "link": "https://fjordby.example/x",
    }
    r = client.post("/submissions", json=body)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    bad = client.post("/submissions", json={"title": "x", "link": "nope"})
    assert bad.status_code == 422
    fields = {d["loc"][-1] for d in bad.json()["detail"]}
    assert {"organisation", "link"} <= fields  # erfa.js maps these onto its own messages


# -- embedding --------------------------------------------------------------------------
def test_embed_page_is_compact_and_framable_only_by_the_configured_portals(
    app_for: Callable[..., TestClient],
) -> None:
    c = app_for(frame_ancestors=["'self'", PORTAL])
    r = c.get("/embed", params={"q": "chatbot", "lang": "sv", "limit": "2", "country": "NO"})
    assert r.status_code == 200 and '<html lang="sv">' in r.text
    assert r.text.count('class="result"') == 2 and 'target="_blank"' in r.text and "(öppnas i ny flik)" in r.text
    assert 'name="country" value="NO"' in r.text and 'name="limit" value="2"' in r.text  # kept for the next search
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {PORTAL}" in csp and "x-frame-options" not in r.headers
    assert "site-header" not in r.text  # no page chrome in a narrow column
    other = c.get("/", params={"q": "chatbot"})
    assert (
        "frame-ancestors 'none'" in other.headers["content-security-policy"]
        and other.headers["x-frame-options"] == "DENY"
    )


def test_embed_is_framable_by_erfa_itself_by_default(client: TestClient) -> None:
    assert "frame-ancestors 'self'" in client.get("/embed").headers["content-security-policy"]


def test_cors_only_for_the_configured_origins(app_for: Callable[..., TestClient]) -> None:
    closed = app_for()
    assert "access-control-allow-origin" not in closed.get("/search?q=chatbot", headers={"Origin": PORTAL}).headers
    c = app_for(cors_origins=[PORTAL])
    ok = c.get("/search", params={"q": "chatbot"}, headers={"Origin": PORTAL})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PORTAL
    assert "access-control-allow-credentials" not in ok.headers
    stranger = c.get("/search", params={"q": "chatbot"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
    pre = c.options("/search", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 400
    # writes are never opened to other origins
    pre = c.options("/submissions", headers={"Origin": PORTAL, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 400


def test_widget_script_is_served_as_javascript(client: TestClient) -> None:
    r = client.get("/static/erfa-widget.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert 'customElements.define("erfa-search"' in r.text and "attachShadow" in r.text
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML", r.text)  # textContent only


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("ERFA_CORS_ORIGINS", "", []),
        ("ERFA_CORS_ORIGINS", f"{PORTAL}/, http://localhost:8080", [PORTAL, "http://localhost:8080"]),
        ("ERFA_FRAME_ANCESTORS", "", ["'self'"]),
        (
            "ERFA_FRAME_ANCESTORS",
            "https://fjordby.sharepoint.com https://*.fjordby.no",
            ["'self'", "https://fjordby.sharepoint.com", "https://*.fjordby.no"],
        ),
    ],
)
def test_embedding_settings_parse(monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: list[str]) -> None:
    monkeypatch.setenv(env, value)
    s = Settings()
    assert (s.cors_origins if env == "ERFA_CORS_ORIGINS" else s.frame_ancestors) == expected


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("ERFA_CORS_ORIGINS", "*"),
        ("ERFA_CORS_ORIGINS", "https://portal.example/sites/ai"),
        ("ERFA_CORS_ORIGINS", "portal.example"),
        ("ERFA_FRAME_ANCESTORS", "*"),
        ("ERFA_FRAME_ANCESTORS", "https://a.example; script-src *"),
    ],
)
def test_unsafe_or_malformed_embedding_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SystemExit, match=env):
        Settings()


# -- small ones (issue 13, item 7) --------------------------------------------------------
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_an_empty_query_asks_for_the_need_in_the_page_language(client: TestClient, lang: str) -> None:
    for q in ("", "   "):
        r = client.get("/", params={"q": q, "lang": lang})
        assert r.status_code == 200 and i18n.t(lang, "empty_query") in r.text, (lang, q)
        assert 'aria-describedby="q-hint q-error"' in r.text and 'aria-invalid="true"' in r.text
    assert i18n.t(lang, "empty_query") not in client.get("/", params={"lang": lang}).text  # first visit: no scolding
    assert i18n.t(lang, "empty_query") in client.get("/embed", params={"q": "", "lang": lang}).text


def test_an_over_long_query_is_refused_saying_the_limit_and_never_cut(client: TestClient) -> None:
    need = ("chatbot for byggesaker " * 60)[:1209]
    r = client.get("/", params={"q": need, "lang": "en"})
    assert r.status_code == 200
    assert "at most 1,000 characters, and this one has 1,209" in r.text
    assert 'class="result-list"' not in r.text and "Askøy kommune" not in r.text  # not searched
    assert f'value="{need}"' in r.text  # given back whole, to shorten, not silently cut
    nb = client.get("/", params={"q": need, "lang": "nb"}).text
    assert "høyst 1\u00a0000 tegn, og denne har 1\u00a0209" in nb
    embed = client.get("/embed", params={"q": need, "lang": "sv"}).text
    assert "högst 1\u00a0000 tecken" in embed and 'class="result"' not in embed
    at_limit = client.get("/", params={"q": need[:1000], "lang": "en"}).text
    assert "too long" not in at_limit and 'class="result-list"' in at_limit


@pytest.mark.parametrize("offset", ["50", "999", "1000", "5000"])
def test_an_offset_past_the_end_says_so_and_links_to_the_first_page(client: TestClient, offset: str) -> None:
    r = client.get("/", params={"q": "AI", "country": "SE", "offset": offset, "lang": "en"})
    assert r.status_code == 200
    assert "This page is empty: the search has fewer results than that." in r.text
    assert '<a href="/?q=AI&amp;country=SE&amp;lang=en">Go to the first page</a>' in r.text
    assert 'class="result-list"' not in r.text and i18n.t("en", "no_results") not in r.text
    assert "Previous page" not in r.text  # no link deeper into nothing
    inside = client.get("/", params={"q": "AI", "offset": "2", "lang": "en"}).text
    assert "Showing 3–" in inside and "This page is empty" not in inside


def test_the_api_keeps_its_offset_behaviour(client: TestClient) -> None:
    """Not page 1 in disguise: past the end is an empty list, past the window a 422 naming offset."""
    r = client.get("/search", params={"q": "AI", "offset": 50})
    assert r.status_code == 200 and r.json()["results"] == [] and r.json()["total"] > 0
    bad = client.get("/search", params={"q": "AI", "offset": 5000})
    assert bad.status_code == 422 and "offset" in bad.text


def test_country_names_come_from_babel_in_the_interface_language() -> None:
    assert [i18n.label(lang, "country", "RS") for lang in i18n.LANGS] == [
        "Serbia",
        "Serbia",
        "Serbien",
        "Serbien",
        "Serbia",
    ]
    assert [i18n.label(lang, "country", "NO") for lang in i18n.LANGS] == ["Norge", "Noreg", "Norge", "Norge", "Norway"]
    assert i18n.label("sv", "country", "GB") == "Storbritannien"
    for code in ("XX", "ZZ", "001", "NOR"):  # unknown or not a country: the code itself, never a guess
        assert i18n.label("nb", "country", code) == code
    assert i18n.widget_strings()["sv"]["country"]["RS"] == "Serbien"


def test_pages_name_a_serbian_project_in_the_page_language(make_index: Make, tmp_path: Path) -> None:
    idx = make_index()
    idx.upsert(
        [
            *CORPUS,
            rec(
                "rs",
                "Chatbot za građevinske dozvole",
                "Chatbot that answers questions about building permits.",
                organisation="Grad Novi Sad",
                country="RS",
                status="pilot",
            ),
        ]
    )
    with TestClient(create_app(Settings(home=tmp_path / "h", demo=False, rate_limit=0), index=idx, wait=True)) as c:
        assert "<dd>Serbien</dd>" in c.get("/project/test-rs", params={"lang": "sv"}).text
        html = c.get("/", params={"q": "chatbot building permits", "lang": "sv"}).text
        assert re.search(r'name="country" value="RS"[^>]*>\s*<label[^>]*>Serbien ', html)
        assert ">RS<" not in html and "· RS" not in html
    form = (
        TestClient(
            create_app(Settings(home=tmp_path / "h2", demo=False, rate_limit=0, admin_token=TOKEN), index=make_index())
        )
        .get("/submit", params={"lang": "nn"})
        .text
    )
    options = re.findall(r'<option value="([A-Z]{2})">([^<]+)</option>', form)
    assert options[:5] == [("NO", "Noreg"), ("SE", "Sverige"), ("DK", "Danmark"), ("FI", "Finland"), ("IS", "Island")]
    assert ("RS", "Serbia") in options
    rest = [name for _, name in options[5:]]
    assert rest == sorted(rest, key=str.casefold)


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("lang", "title"),
    [("nb", "Fant ikke siden"), ("nn", "Fann ikkje sida"), ("sv", "Sidan hittades inte"), ("en", "Page not found")],
)
def test_browsers_get_the_translated_404_page_for_any_unknown_path(client: TestClient, lang: str, title: str) -> None:
    for path in ("/nope", "/project", "/a/b/c.html", "/static/missing.css"):
        r = client.get(path, headers={"Accept": BROWSER, "Accept-Language": lang})
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), path
        assert f'<html lang="{lang}">' in r.text and f"<h1>{title}</h1>" in r.text, path
        assert "style-src 'self'" in r.headers["content-security-policy"], path  # the page CSP: its stylesheet loads
        assert "Accept" in r.headers["Vary"].split(", "), path
    assert "<h1>Fann ikkje sida</h1>" in client.get("/nope", params={"lang": "nn"}, headers={"Accept": BROWSER}).text


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/nope", "application/json"),
        ("/nope", ""),
        ("/nope", "*/*"),
        ("/nope", "application/json, text/html;q=0.5"),
        ("/projects/nope", BROWSER),
        ("/search/extra", BROWSER),
        ("/submissions/x/y/z", BROWSER),
    ],
)
def test_api_clients_still_get_the_json_error(client: TestClient, path: str, accept: str) -> None:
    r = client.get(path, headers={"Accept": accept} if accept else {"Accept": ""})
    assert r.status_code == 404 and r.headers["content-type"] == "application/json", (path, accept)
    assert "detail" in r.json() and "<html" not in r.text


def test_the_chosen_language_is_kept_in_a_cookie(client: TestClient) -> None:
    r = client.get("/", params={"lang": "sv"}, headers={"Accept-Language": "en"})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("erfa_lang=sv;"), cookie
    for part in ("SameSite=lax", "HttpOnly", "Path=/", "Max-Age=31536000"):
        assert part.lower() in cookie.lower(), part
    assert "secure" not in cookie.lower()  # plain HTTP here; over HTTPS it is Secure
    assert "Cookie" in r.headers["Vary"]
    # no lang parameter: the remembered choice wins over the browser's preference, on every page
    again = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="sv">' in again.text and "set-cookie" not in again.headers
    assert '<html lang="sv">' in client.get("/submit", headers={"Accept-Language": "en"}).text
    assert "<h1>Sidan hittades inte</h1>" in client.get("/nope", headers={"Accept": BROWSER}).text
    # a new choice replaces it; ?lang= still wins for that page
    assert client.get("/", params={"lang": "nn"}).headers["set-cookie"].startswith("erfa_lang=nn;")
    assert '<html lang="nn">' in client.get("/").text


def test_the_language_cookie_is_only_set_by_a_choice_and_only_trusted_for_a_known_language(client: TestClient) -> None:
    assert "set-cookie" not in client.get("/", params={"lang": "xx"}).headers
    assert "set-cookie" not in client.get("/embed", params={"lang": "sv"}).headers  # the portal chose, not the user
    assert "set-cookie" not in client.get("/search", params={"q": "AI", "lang": "sv"}).headers
    client.cookies.set("erfa_lang", "<script>")
    assert '<html lang="nb">' in client.get("/", headers={"Accept-Language": "nb"}).text
    secure = client.get("https://testserver/", params={"lang": "sv"}).headers.get("set-cookie", "")
    assert "secure" in secure.lower()


def test_a_record_with_only_a_title_says_so_on_its_card(make_index: Make, tmp_path: Path) -> None:
    """Issue 13: a bare title is shown as such, not with an empty snippet that looks like a glitch."""
    idx = make_index()
    idx.upsert([*CORPUS, rec("bare", "Chatbot for byggesaker i Fjordby")])
    app = create_app(Settings(home=tmp_path / "home", demo=False, rate_limit=0), index=idx, wait=True)
    with TestClient(app) as c:
        for lang in i18n.LANGS:
            html = c.get("/", params={"q": "chatbot byggesak", "lang": lang}).text
            assert html.count(i18n.t(lang, "no_description")) == 1, lang  # the bare record only


# -- a newcomer's walk (issue 21) ---------------------------------------------------------
def test_a_page_past_the_window_shows_no_result_even_when_more_are_ranked(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine ranks past the window it pages (``total``); those results are past the end."""
    from erfa.index.search import searcher
    from erfa.service.pages import web

    monkeypatch.setattr(searcher, "MAX_WINDOW", 3)
    monkeypatch.setattr(web, "MAX_WINDOW", 3)
    for offset in ("3", "5000"):
        html = client.get("/", params={"q": "AI", "offset": offset, "lang": "sv"}).text
        assert 'class="result-list"' not in html and "Visar 4–" not in html
        assert i18n.t("sv", "past_end") in html
    straddling = client.get("/", params={"q": "AI", "offset": "2", "lang": "en"}).text
    assert "Showing 3–3" in straddling and straddling.count('class="result"') == 1


def _facet(html: str, field: str) -> tuple[list[str], list[str]]:
    """(values listed, values folded behind the disclosure) of one facet group of a results page."""
    groups = re.findall(r'<fieldset class="facet">(.*?)</fieldset>', html, re.S)
    (group,) = [g for g in groups if f'name="{field}"' in g]
    shown, _, folded = group.partition('class="facet__more"')
    pick = re.compile(rf'name="{field}" value="([^"]+)"')
    return pick.findall(shown), pick.findall(folded)


def test_filters_list_the_values_with_results_first_and_fold_the_rest(client: TestClient) -> None:
    html = client.get("/", params={"q": "chatbot", "status": "pilot", "lang": "sv"}).text  # one Norwegian pilot
    assert 'class="facet__more"' in html
    shown, folded = _facet(html, "country")
    assert shown == ["NO"] and "SE" in folded and "DK" in folded  # no Swedish or Danish result: folded
    statuses, _ = _facet(html, "status")
    assert "pilot" in statuses
    assert re.search(r"Visa \d+ värden? utan träffar", html)
    from erfa.service.pages.web import FacetOption, facet_groups

    class _P:  # the two Page helpers facet_groups uses
        def label(self, kind: str, code: str | None) -> str:
            return i18n.label("en", kind, code)

        def t(self, key: str, **values: object) -> str:
            return i18n.t("en", key, **values)

    groups = facet_groups(
        _P(),  # type: ignore[arg-type]
        {"country": {"NO": 3, "SE": 1, "FI": 0, "AT": 0, "DK": 0}},
        Filters(country=["DK"]),
    )
    (country,) = groups
    assert [o.value for o in country["options"]] == ["NO", "SE", "DK"]  # with results, most first; then chosen
    assert [o.value for o in country["more"]] == ["AT", "FI"]  # the rest in label order: Austria, Finland
    assert all(isinstance(o, FacetOption) and not o.checked for o in country["more"])


@pytest.mark.parametrize(("lang", "boxes"), [("sv", 1), ("da", 1), ("nb", 2), ("en", 2)])
def test_owner_types_a_language_names_alike_are_one_checkbox(
    app_for: Callable[..., TestClient], make_index: Callable[..., ProjectIndex], lang: str, boxes: int
) -> None:
    """Swedish and Danish call a Norwegian fylkeskommune and a region both "Region": one box for both,
    which filters on both; Norwegian and English name them apart and keep two."""
    idx = make_index()
    idx.upsert(
        [
            rec("f", "Chatbot for fylkeskommunen", organisation="Vestfjord fylkeskommune", owner_type="county"),
            rec("r", "Chattbot för regionen", organisation="Region Norrfjäll", owner_type="region", country="SE"),
            rec("m", "Chatbot for kommunen", organisation="Fjordvik kommune", owner_type="municipality"),
        ]
    )
    c = app_for(index=idx)
    html = c.get("/", params={"q": "chatbot", "lang": lang}).text
    values = re.findall(r'name="owner_type" value="([^"]+)"', html)
    assert len([v for v in values if "county" in v or "region" in v]) == boxes, values
    if boxes == 1:
        assert "county|region" in values or "region|county" in values
        joined = next(v for v in values if "|" in v)
        picked = c.get("/", params={"q": "chatbot", "lang": lang, "owner_type": joined}).text
        results = picked.split('class="result-list"')[1]
        assert "fylkeskommunen" in results and "regionen" in results and "Chatbot for kommunen" not in results
        assert re.search(rf'name="owner_type" value="{re.escape(joined)}" checked', picked)


def test_facets_count_the_records_the_page_shows() -> None:
    from erfa.index.search.facets import recount

    shown = [rec("a", "A", country="SE", status="pilot"), rec("b", "B", country="SE"), rec("c", "C", country="NO")]
    counts = recount(shown, {"country": {"NO": 2, "SE": 0, "DK": 1}, "status": {"implemented": 1}})
    assert counts["country"] == {"SE": 2, "NO": 1, "DK": 0}
    assert counts["status"] == {"pilot": 1, "implemented": 0}
    assert counts["language"] == {}


def test_without_a_close_match_the_facets_count_what_is_shown(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 0)
    set_close_match(monkeypatch, 99.0)  # nothing stands out
    html = client.get("/", params={"q": "snømåking", "lang": "en"}).text
    shown = html.count('class="result"')
    assert i18n.t("en", "facets_over_shown", n=shown) in html
    listed = sum(
        int(n)
        for n in re.findall(
            r'name="country" value="[A-Z]+"[^>]*>\s*<label[^>]*>[^<]*<span class="count">\((\d+)\)', html
        )
    )
    assert listed == shown  # every result shown has a country in this corpus, each counted once


def test_the_results_page_has_a_live_region_for_filter_changes(client: TestClient) -> None:
    html = client.get("/", params={"q": "chatbot", "lang": "nn"}).text
    assert re.search(r'<p class="visually-hidden" id="filters-live" role="status" aria-live="polite"></p>', html)


def test_embed_page_shows_the_close_mark_and_the_other_registries(
    make_index: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index()
    # the first project of CORPUS again, as another registry holds it: one result, "also registered in"
    twin = Record.build(
        "pstw",
        "77",
        title="Chatbot for byggesaker",
        description="Innbyggerne får svar på spørsmål om byggesøknader fra en chatbot døgnet rundt.",
        organisation="Askøy kommune",
        country="NO",
    )
    idx.upsert([*CORPUS, HOSTILE, twin])
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 0)
    set_close_match(monkeypatch, -99.0)  # everything stands out
    with TestClient(create_app(Settings(home=tmp_path / "h", demo=False, rate_limit=0), index=idx, wait=True)) as c:
        html = c.get("/embed", params={"q": "chatbot byggesøknader", "lang": "nn"}).text
        api = c.get("/search", params={"q": "chatbot byggesøknader"}).json()["results"]
    assert html.count('class="close-mark"') == sum(bool(r["close_match"]) for r in api[:5]) > 0
    assert any(r["twins"] for r in api[:5]) and "Også registrert i: <a" in html


@pytest.mark.parametrize(
    ("source", "origin", "allowed"),
    [
        ("'self'", "http://testserver", True),
        ("'self'", "https://intranett.fjordby.kommune.no", False),
        (PORTAL, PORTAL, True),
        (PORTAL + "/", PORTAL, True),
        (PORTAL, PORTAL + ":8443", False),
        ("https://*.kommune.no", PORTAL, True),
        ("https://*.kommune.no", "https://kommune.no", False),
        ("https://*.kommune.no", "https://evilkommune.no", False),
        ("http://intranett.example", "https://intranett.example", True),
        ("https://intranett.example", "http://intranett.example", False),
        ("https://intranett.example:*", "https://intranett.example:8443", True),
    ],
)
def test_which_sites_may_frame_erfa(source: str, origin: str, allowed: bool) -> None:
    from erfa.service.pages.embedding import source_allows

    assert source_allows(source, origin, "http://testserver") is allowed


def test_origin_of_takes_only_web_addresses() -> None:
    from erfa.service.pages.embedding import origin_of

    assert origin_of("https://Intra.Example:443/side?x=1") == "https://intra.example"
    assert origin_of("http://intra.example:8080/") == "http://intra.example:8080"
    assert origin_of("javascript:alert(1)") is None and origin_of("") is None and origin_of("http://[::1") is None


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_embed_framed_by_a_site_not_allowed_says_what_to_set(app_for: Callable[..., TestClient], lang: str) -> None:
    c = app_for(frame_ancestors=["'self'", PORTAL])
    stranger = "https://intra.other.example"
    r = c.get(
        "/embed",
        params={"q": "chatbot", "lang": lang},
        headers={"Sec-Fetch-Dest": "iframe", "Referer": stranger + "/ki/soek?x=1"},
    )
    assert r.status_code == 403 and f'<html lang="{lang}">' in r.text
    assert i18n.t(lang, "embed_refused", origin=stranger) in r.text and "ERFA_FRAME_ANCESTORS" in r.text
    assert 'class="result"' not in r.text and "<form" not in r.text  # nothing to act on in a foreign frame
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors *" in csp and "form-action 'none'" in csp and "x-frame-options" not in r.headers
    assert '<script src="/static/erfa-embed.js"' in r.text
    # the allowed portal, erfa itself, and a browser that does not say who frames: the embed as always
    for headers in (
        {"Sec-Fetch-Dest": "iframe", "Referer": PORTAL + "/"},
        {"Sec-Fetch-Dest": "iframe", "Referer": "http://testserver/"},
        {"Sec-Fetch-Dest": "iframe"},
        {"Referer": stranger + "/"},
    ):
        ok = c.get("/embed", params={"q": "chatbot"}, headers=headers)
        assert ok.status_code == 200 and f"frame-ancestors 'self' {PORTAL}" in ok.headers["content-security-policy"]


def test_the_widget_explains_a_refused_origin() -> None:
    js = (Path(i18n.__file__).parent / "static" / "erfa-widget.js").read_text(encoding="utf-8")
    assert 'mode: "no-cors"' in js and "ERFA_CORS_ORIGINS" in js and "console.error" in js
    for lang in i18n.LANGS:
        assert "{origin}" in i18n.t(lang, "widget_origin") and "ERFA_CORS_ORIGINS" in i18n.t(lang, "widget_origin")


def test_a_nordic_need_with_no_close_match_among_english_projects_is_offered_in_english(
    make_index: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index()
    english = [
        rec(
            str(i),
            f"Chatbot for building permits {i}",
            "Citizens ask a chatbot about building permits.",
            country="DK",
            language="en",
        )
        for i in range(1, 6)
    ]
    idx.upsert([*english, rec("9", "Chatbot for byggesaker", "Svar om byggesøknader.", country="NO", language="nb")])
    monkeypatch.setattr(ranking, "CLOSE_MATCH_MIN_PASSAGES", 0)
    set_close_match(monkeypatch, 99.0)  # nothing stands out
    with TestClient(create_app(Settings(home=tmp_path / "h", demo=False, rate_limit=0), index=idx, wait=True)) as c:
        for lang in i18n.LANGS:
            html = c.get("/", params={"q": "chattbot som svarar på frågor om bygglov", "lang": lang}).text
            text = unescape(html)
            assert i18n.t(lang, "english_hint_title") in text and i18n.t(lang, "english_suggestion") in text
            assert '<a href="/?q=chatbot+answers+questions+building+permit&amp;lang=' + lang + '" lang="en">' in html
            assert 'id="q-en" name="q" type="search" value="chattbot som svarar på frågor om bygglov"' in html
        # a need the glossary barely knows: the field to rewrite it, no suggestion
        html = unescape(c.get("/", params={"q": "vurdere om innsatte begår nye lovbrudd", "lang": "en"}).text)
        assert i18n.t("en", "english_hint_title") in html and i18n.t("en", "english_suggestion") not in html
        # a need in English, or a close match: no hint
        assert (
            i18n.t("en", "english_hint_title") not in c.get("/", params={"q": "chatbot for permits", "lang": "en"}).text
        )
        set_close_match(monkeypatch, -99.0)
        html = c.get("/", params={"q": "chattbot som svarar på frågor om bygglov", "lang": "sv"}).text
        assert i18n.t("sv", "english_hint_title") not in html
