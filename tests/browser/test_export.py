"""Following and exporting a search in a real browser: the links on the results page (also the
feed's <link rel="alternate"> that browsers and feed readers discover), the feed they lead to,
the downloads, keyboard use, the CSP, and axe-core's WCAG 2.1 AA rules at zero violations.
The server and Chromium come from conftest.py, as for test_pages.py."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import AXE_REPORT, Servers

pytestmark = pytest.mark.browser

A = "{http://www.w3.org/2005/Atom}"
NEED = "chattbot som svarar på frågor om bygglov"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LINKS = {  # link texts per language: feed, CSV, JSON
    "nb": ("Nyhetsstrøm (Atom)", "Last ned som CSV (regneark)", "Last ned som JSON"),
    "nn": ("Nyheitsstraum (Atom)", "Last ned som CSV (rekneark)", "Last ned som JSON"),
    "sv": ("Nyhetsflöde (Atom)", "Ladda ned som CSV (kalkylark)", "Ladda ned som JSON"),
    "da": ("Nyhedsfeed (Atom)", "Download som CSV (regneark)", "Download som JSON"),
    "en": ("News feed (Atom)", "Download as CSV (spreadsheet)", "Download as JSON"),
}


def _results(page: Page, servers: Servers, lang: str, extra: str = "") -> None:
    page.goto(f"{servers.erfa}/?q={quote(NEED)}&lang={lang}{extra}")
    expect(page.locator(".result-list > li").first).to_be_visible()


def test_the_feed_link_leads_to_a_feed_of_the_same_search(page: Page, servers: Servers) -> None:
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    _results(page, servers, "sv", "&country=NO")
    feed_link = page.get_by_role("link", name=LINKS["sv"][0])
    expect(feed_link).to_be_visible()
    href = feed_link.get_attribute("href") or ""
    assert href.startswith("/feed.atom?") and "country=NO" in href and "lang=sv" in href
    # what browsers and feed readers discover in the head is the same feed
    head = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    expect(head).to_have_attribute("href", href)

    r = page.request.get(servers.erfa + href)
    assert r.status == 200 and r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(r.body())
    assert root.tag == f"{A}feed" and root.findtext(A + "title") == f"erfa: projekt som ”{NEED}”"
    entries = root.findall(A + "entry")
    assert entries, "the feed of a search with results is not empty"
    dates = [e.findtext(A + "updated") for e in entries]
    assert dates == sorted(dates, reverse=True)
    # a polling reader that already has this version gets 304 and no body
    again = page.request.get(servers.erfa + href, headers={"If-None-Match": r.headers["etag"]})
    assert again.status == 304

    # an entry's link opens the project's page on erfa: the filter held (a Norwegian project)
    first = entries[0]
    project = first.find(f"{A}link[@rel='alternate']").get("href")  # type: ignore[union-attr]
    assert project and project.startswith(f"{servers.erfa}/project/")
    page.goto(project + "?lang=sv")
    expect(page.get_by_role("heading", level=1)).to_have_text(first.findtext(A + "title") or "")
    expect(page.locator(".facts, main").first).to_contain_text("Norge")
    assert not refused, refused


def test_the_exports_download_the_result_list(page: Page, servers: Servers) -> None:
    _results(page, servers, "nb")
    shown = page.locator(".result__title a").all_inner_texts()
    close = page.locator(".result:has(.close-mark) .result__title a").all_inner_texts()
    with page.expect_download() as info:
        page.get_by_role("link", name=LINKS["nb"][1]).click()
    download = info.value
    assert download.suggested_filename == "erfa-chattbot-som-svarar-på-frågor-om-bygglov.csv"
    with open(download.path(), "rb") as f:
        data = f.read()
    assert data.startswith("\ufeff".encode())  # Excel reads UTF-8 only with it
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))  # Norwegian Excel's separator
    header, body = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert header[:5] == ["rank", "close_match", "score", "id", "title"]
    # what the page shows as relevant (issue 21): the close matches when there are any, else the page
    assert [row["title"] for row in body] == (close or shown)
    assert all(row["close_match"] == ("Nært treff" if close else "") for row in body)
    assert [int(row["rank"]) for row in body] == sorted(int(row["rank"]) for row in body)
    assert all(len(row["country"]) != 2 for row in body) and any(row["country"] == "Norge" for row in body)  # labels
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)

    with page.expect_download() as info:
        page.get_by_role("link", name=LINKS["nb"][2]).click()
    with open(info.value.path(), encoding="utf-8") as f:
        body = json.load(f)
    assert body["query"] == NEED and [r["title"] for r in body["results"][: len(shown)]] == shown


def test_the_links_are_reachable_with_the_keyboard(page: Page, servers: Servers) -> None:
    _results(page, servers, "en")
    expect(page.locator("#results-h")).to_be_focused()  # where a search leaves focus (erfa-search.js)
    reached: list[dict[str, Any]] = []
    for name in LINKS["en"]:
        for _ in range(80):
            page.keyboard.press("Tab")
            info = page.evaluate("""() => { const el = document.activeElement; const s = getComputedStyle(el);
                return {text: el.innerText || '', outline: s.outlineStyle + ' ' + s.outlineWidth,
                        shadow: s.boxShadow}; }""")
            if info["text"] == name:
                reached.append(info)
                break
        else:
            raise AssertionError(f"Tab never reached {name!r}")
    for info in reached:  # each shows where focus is
        assert not info["outline"].startswith("none") or info["shadow"] != "none", info
    with page.expect_download() as download:
        page.keyboard.press("Enter")  # on the JSON link
    assert download.value.suggested_filename.endswith(".json")


@pytest.mark.parametrize("lang", list(LINKS))
def test_results_page_with_the_links_has_no_axe_violation(page: Page, servers: Servers, lang: str) -> None:
    _results(page, servers, lang)
    for name in LINKS[lang]:
        expect(page.get_by_role("link", name=name)).to_be_visible()
    page.locator(".export").scroll_into_view_if_needed()
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    AXE_REPORT[f"export/{lang}"] = {
        "rules_passed": len(results.response["passes"]),
        "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in violations},
    }
    assert len(results.response["passes"]) > 10, "axe-core did not really run"
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in violations]
    assert not bad, "\n".join(bad)
