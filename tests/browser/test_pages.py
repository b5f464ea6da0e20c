"""erfa in a real browser: the search journey, embedding from another origin, keyboard
use, and axe-core's WCAG 2.1 AA rules. One server and one Chromium serve every test
(see conftest.py); each test gets its own browser context."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from erfa.service.pages import i18n
from tests.browser.conftest import AXE_REPORT, Servers, screenshot

pytestmark = pytest.mark.browser

SWEDISH_NEED = "chattbot som svarar på frågor om bygglov"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def test_swedish_need_finds_norwegian_projects_and_their_similar_projects(page: Page, servers: Servers) -> None:
    page.goto(f"{servers.erfa}/?lang=sv")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    page.get_by_label("Vad vill ni använda AI till?").fill(SWEDISH_NEED)
    page.get_by_role("button", name="Sök", exact=True).click()

    results = page.locator(".result-list > li")
    expect(results.first).to_be_visible()
    assert results.count() == 10
    countries = results.locator(".meta").all_inner_texts()
    norwegian = [i for i, text in enumerate(countries) if "Norge" in text]
    assert norwegian, f"no Norwegian project among the results: {countries}"
    assert norwegian[0] < 3, "a Norwegian project should be among the first three"
    first = results.nth(norwegian[0])
    assert first.locator(".snippet").inner_text().strip(), "every result shows the matched snippet"
    expect(first.locator(".badge")).to_be_visible()  # status, in Swedish
    screenshot(page, "search")

    title = first.locator("h3 a").inner_text()
    first.locator("h3 a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("heading", name="Kontakta organisationen")).to_be_visible()
    similar = page.locator(".similar .result")
    expect(similar.first).to_be_visible()
    assert similar.count() >= 3
    assert title not in similar.all_inner_texts()
    screenshot(page, "project")

    # the same page in Bokmål through the visible switch
    page.get_by_role("link", name="Bokmål").click()
    expect(page.get_by_role("heading", name="Lignende prosjekter")).to_be_visible()


def _widget_titles(page: Page) -> list[str]:
    return page.locator("erfa-search .result .title a").all_inner_texts()


def test_widget_and_iframe_work_from_an_allowed_origin_and_are_refused_elsewhere(page: Page, servers: Servers) -> None:
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{servers.portal}/portal.html")
    widget_results = page.locator("erfa-search .result")  # Playwright's CSS pierces the open shadow root
    expect(widget_results).to_have_count(3, timeout=20_000)
    assert all(_widget_titles(page))
    link = page.locator("erfa-search .result a").first
    assert link.get_attribute("href").startswith(f"{servers.erfa}/project/")
    # the portal's hostile CSS does not reach into the shadow root, and the widget's does not leak out
    assert link.evaluate("a => getComputedStyle(a).color") != "rgb(255, 0, 0)"
    assert page.locator("erfa-search input").evaluate("i => getComputedStyle(i).borderStyle") != "dashed"
    assert page.locator("#portal-own").evaluate("p => getComputedStyle(p).backgroundColor") == "rgb(0, 0, 255)"

    # the widget itself (inside the portal) passes axe-core's WCAG 2.1 AA rules
    axe = Axe().run(page, context="erfa-search", options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    AXE_REPORT["widget/sv"] = {
        "rules_passed": len(axe.response["passes"]),
        "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in axe.response["violations"]},
    }
    assert not [v["id"] for v in axe.response["violations"] if v["impact"] in ("serious", "critical")]

    frame = page.frame_locator("#frame")
    expect(frame.locator(".result")).to_have_count(3)
    expect(frame.get_by_label("Vad vill ni använda AI till?")).to_have_value("transkribera möten")
    # the iframe page is usable in the narrow column: a new need, searched inside the frame
    before = frame.locator(".result a").first.inner_text()
    frame.get_by_label("Vad vill ni använda AI till?").fill("prognos för hemtjänst")
    frame.get_by_role("button", name="Sök").click()
    expect(frame.locator(".result a").first).not_to_have_text(before)  # the new need's results, not the old ones
    assert page.locator("#frame").evaluate("f => f.contentDocument === null")  # cross-origin: the portal cannot peek
    screenshot(page, "embed")

    # The same portal page from an origin that is not configured: both ways are refused, and both say
    # why and what the operator must set (issue 21), in the page and in the browser console.
    refused = page.context.new_page()
    console: list[str] = []
    refused.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    refused.goto(f"{servers.stranger}/portal.html")
    status = refused.locator("erfa-search .status.error")
    expect(status).to_be_visible(timeout=20_000)
    expect(status).to_contain_text(f"webbplatsen {servers.stranger} har inte fått åtkomst")
    expect(status).to_contain_text("ERFA_CORS_ORIGINS")
    assert refused.locator("erfa-search .result").count() == 0
    expect(refused.frame_locator("#frame").locator("#embed-refused")).to_contain_text(
        f"Webbplatsen {servers.stranger} får inte visa erfa i en iframe"
    )
    expect(refused.frame_locator("#frame").locator("#embed-refused")).to_contain_text("ERFA_FRAME_ANCESTORS")
    assert refused.frame_locator("#frame").locator(".result, form").count() == 0  # nothing to act on
    refused.wait_for_function("() => document.readyState === 'complete'")
    assert any("ERFA_CORS_ORIGINS" in m and servers.stranger in m for m in console), console
    assert any("ERFA_FRAME_ANCESTORS" in m and servers.stranger in m for m in console), console


def test_the_widget_speaks_danish_and_counts_with_danish_plurals(page: Page, servers: Servers) -> None:
    """Issue 21: lang="da" gives the Danish widget, its count by the catalog's plural rule ("1 resultat",
    "3 resultater"), with no serious axe-core violation."""
    page.goto(f"{servers.portal}/portal.html")
    widget = page.locator("#widget")
    expect(page.locator("erfa-search .result")).to_have_count(3, timeout=20_000)
    widget.evaluate("w => w.setAttribute('lang', 'da')")
    expect(page.locator("erfa-search label")).to_have_text("Hvad vil I bruge AI til?")
    expect(page.locator("erfa-search .status")).to_have_text("3 resultater", timeout=20_000)
    widget.evaluate("w => { w.setAttribute('limit', '1'); w.setAttribute('q', 'chatbot til byggesager'); }")
    expect(page.locator("erfa-search .status")).to_have_text("1 resultat", timeout=20_000)
    expect(page.locator("erfa-search .result")).to_have_count(1)
    axe = Axe().run(page, context="erfa-search", options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    AXE_REPORT["widget/da"] = {
        "rules_passed": len(axe.response["passes"]),
        "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in axe.response["violations"]},
    }
    assert not [v["id"] for v in axe.response["violations"] if v["impact"] in ("serious", "critical")]


def test_submission_form_validates_in_the_users_language_and_gives_a_receipt(page: Page, servers: Servers) -> None:
    page.goto(f"{servers.erfa}/submit?lang=sv")
    page.get_by_label("Projektets namn").fill("Tolkning av mötesprotokoll med AI")
    page.get_by_label("Länk till mer information").fill("inte en länk")
    page.get_by_label("Startår").fill("2024")
    page.get_by_label("Slutår").fill("2023")
    page.get_by_role("button", name="Skicka").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Fyll i ”Organisation som äger projektet”.")
    expect(summary).to_contain_text("Slutåret kan inte vara före startåret.")
    expect(summary).to_contain_text("https://")
    org = page.get_by_label("Organisation som äger projektet")
    expect(org).to_have_attribute("aria-invalid", "true")
    summary.get_by_role("link").first.click()
    expect(org).to_be_focused()

    org.fill("Fjordby kommun")
    page.get_by_label("Länk till mer information").fill("https://fjordby.example/ai")
    page.get_by_label("Slutår").fill("")
    page.get_by_label("Land").select_option("SE")
    page.get_by_role("button", name="Skicka").click()
    receipt = page.locator("#receipt")
    expect(receipt).to_be_focused()
    expect(receipt).to_contain_text("Tack! Projektet har tagits emot")
    assert page.locator("#receipt-id").inner_text().strip()
    # pending: not in search until a moderator approves it
    page.goto(f"{servers.erfa}/?q={quote('Tolkning av mötesprotokoll med AI')}&lang=sv")
    assert "Tolkning av mötesprotokoll med AI" not in page.locator(".result-list").inner_text()


def _tab_to(page: Page, predicate: str, limit: int = 80, key: str = "Tab") -> dict[str, Any]:
    """Press ``key`` (Tab, or Shift+Tab to go back) until the focused element matches ``predicate``
    (JS over `el`); fail if it never does. ``presses`` in the answer says how many it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        info = page.evaluate(f"""() => {{
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {{match: (el => {predicate})(el), tag: el.tagName,
                     text: (el.innerText || el.value || '').slice(0, 80),
                     outline: style.outlineStyle + ' ' + style.outlineWidth, shadow: style.boxShadow,
                     bg: style.backgroundColor}};
        }}""")
        if info["match"]:
            return {**info, "presses": presses}  # type: ignore[no-any-return]
    raise AssertionError(f"never reached {predicate} with {key} in {limit} presses")


def _focus_visible(info: dict[str, Any]) -> bool:
    return (not info["outline"].startswith("none") and not info["outline"].endswith(" 0px")) or info["shadow"] != "none"


FIRST_RESULT = "el.closest && !!el.closest('.result-list > li:first-child .result__title')"


def test_search_filters_and_results_work_with_the_keyboard_only(page: Page, servers: Servers) -> None:
    page.goto(f"{servers.erfa}/?lang=nb")
    first = _tab_to(page, "el.classList.contains('skip-link')", limit=3)
    assert _focus_visible(first) or first["bg"] != "rgba(0, 0, 0, 0)"
    page.keyboard.press("Enter")  # skip link: the next Tab lands inside <main>
    box = _tab_to(page, "el.id === 'q'")
    assert _focus_visible(box)
    page.keyboard.type("chatbot for byggesaker")
    page.keyboard.press("Enter")
    expect(page.locator(".result-list > li").first).to_be_visible()
    # after a search, focus is on the results heading (not back at the top): one Tab to the first result
    heading = page.locator("#results-h")
    expect(heading).to_be_focused()
    assert heading.get_attribute("aria-describedby") == "results-summary"  # a screen reader hears the count
    assert _tab_to(page, FIRST_RESULT, limit=1)["presses"] == 1

    # a filter: back to the "Norge" checkbox and tick it with Space; it applies at once (no Apply button)
    box = _tab_to(page, "el.name === 'country' && el.value === 'NO'", limit=40, key="Shift+Tab")
    assert _focus_visible(box)
    expect(page.locator(".filters__apply")).to_be_hidden()
    expect(page.locator("#filters-auto")).to_be_visible()  # the page says that a filter applies at once
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"country=NO"))
    # focus stays on the filter just ticked (issue 21): the next filter is one Tab away
    norway = page.locator("input[type=checkbox][name=country][value=NO]")
    expect(norway).to_be_focused()
    expect(norway).to_be_checked()
    expect(page.locator("#filters-live")).to_contain_text(page.locator("#results-summary").inner_text())
    metas = page.locator(".result-list .meta").all_inner_texts()
    assert metas and all("Norge" in m for m in metas), metas

    # a result: the skip link's target is the results heading; from there Tab to the first title, Enter
    page.locator("#results-h").focus()
    link = _tab_to(page, FIRST_RESULT, limit=1)
    assert _focus_visible(link) or link["bg"] != "rgba(0, 0, 0, 0)"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/project/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(link["text"])

    # the organisations view is a keyboard-reachable tab too
    page.go_back()
    expect(page.locator(".result-list > li").first).to_be_visible()
    _tab_to(
        page,
        "el.closest && !!el.closest('.tabs') && el.textContent.includes('Organisasjoner')",
        limit=60,
        key="Shift+Tab",
    )
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"view=partners"))
    expect(page.locator(".partner").first).to_be_visible()
    expect(page.locator("#results-h")).to_be_focused()


PHONE = {"width": 375, "height": 667}


def _axe_violations(page: Page, name: str) -> list[str]:
    """Every axe-core WCAG 2.1 A/AA violation on the page (any impact), recorded for the summary."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    AXE_REPORT[name] = {
        "rules_passed": len(results.response["passes"]),
        "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in violations},
    }
    assert len(results.response["passes"]) > 10, "axe-core did not really run"
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in violations]


def test_on_a_phone_the_results_come_first_and_the_filters_fold_behind_a_button(page: Page, servers: Servers) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang=nb")
    first = page.locator(".result-list > li").first.locator(".result__title")
    box = first.bounding_box()
    assert box and box["y"] + box["height"] <= PHONE["height"], f"the first result is not in the first screen: {box}"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    expect(page.locator("#results-h")).to_be_focused()
    assert page.evaluate("window.scrollY") == 0  # focusing the heading did not push the search box away

    toggle = page.locator("#filters > summary")
    norway = page.locator("input[type=checkbox][name=country][value=NO]")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_text("Filter")
    expect(norway).to_be_hidden()
    bad = _axe_violations(page, "phone/closed")
    assert not bad, "\n".join(bad)
    screenshot(page, "phone")

    toggle.click()
    expect(page.locator("#filters")).to_have_attribute("open", "")
    expect(norway).to_be_visible()
    bad = _axe_violations(page, "phone/open")
    assert not bad, "\n".join(bad)
    page.get_by_label(re.compile(r"^Norge")).check()  # applies at once: no Apply button to find
    page.wait_for_url(re.compile(r"country=NO"))
    # the person was in the filters: they stay open with focus on the box just ticked (issue 21)
    expect(norway).to_be_focused()
    expect(norway).to_be_checked()
    expect(toggle).to_have_text("Filter (valgt: 1)")  # the button says one filter is on
    expect(page.locator("#filters-live")).not_to_be_empty()
    bad = _axe_violations(page, "phone/after-filter")
    assert not bad, "\n".join(bad)
    page.reload()  # a page loaded afresh: the filters fold again, the results first
    expect(norway).to_be_hidden()
    metas = page.locator(".result-list .meta").all_inner_texts()
    assert metas and all("Norge" in m for m in metas), metas

    # the organisations view on a phone: the same folding, no axe violation
    page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&view=partners&lang=sv")
    expect(page.locator(".partner").first).to_be_visible()
    expect(page.locator("#filters > summary")).to_have_text("Filter")
    bad = _axe_violations(page, "phone/partners")
    assert not bad, "\n".join(bad)


def test_years_apply_when_focus_leaves_them_not_between_the_two_fields(page: Page, servers: Servers) -> None:
    page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang=en")
    page.get_by_label("From year").fill("2020")
    page.keyboard.press("Tab")  # into "To": nothing is sent yet
    expect(page.get_by_label("To year")).to_be_focused()
    page.wait_for_timeout(300)  # time enough for a (wrong) submission to start
    assert "year_from" not in page.url
    page.keyboard.type("2024")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"year_from=2020.*year_to=2024"))
    expect(page.get_by_label("To year")).to_be_focused()  # where the person was (issue 21)
    expect(page.get_by_label("To year")).to_have_value("2024")


def test_the_skip_link_reaches_the_first_result_in_three_presses(browser: Any, servers: Servers) -> None:
    """Without JavaScript nothing moves focus, so the skip link is the way past the search box
    and the filters: Tab, Enter, Tab."""
    context = browser.new_context(viewport=PHONE, locale="nb-NO", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang=nb")
        skip = _tab_to(page, "el.classList.contains('skip-link')", limit=1)
        assert skip["text"] == "Hopp til treffene"
        assert page.locator(".skip-link").first.evaluate("a => a.getBoundingClientRect().top >= 0")  # shown on focus
        page.keyboard.press("Enter")
        expect(page.locator("#results-h")).to_be_focused()
        link = _tab_to(page, FIRST_RESULT, limit=1)
        assert link["text"] == page.locator(".result__title a").first.inner_text()
    finally:
        context.close()


def test_without_javascript_the_filters_open_and_apply_with_their_buttons(browser: Any, servers: Servers) -> None:
    context = browser.new_context(viewport=PHONE, locale="sv-SE", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang=sv")
        norway = page.locator("input[type=checkbox][name=country][value=NO]")
        expect(norway).to_be_hidden()
        page.locator("#filters > summary").click()  # a native <details>: opens without JavaScript
        expect(norway).to_be_visible()
        expect(page.locator("#filters-auto")).to_be_hidden()
        norway.check()
        assert "country=" not in page.url  # nothing happens until Apply
        apply = page.get_by_role("button", name="Använd filtren")
        expect(apply).to_be_visible()
        apply.click()
        page.wait_for_url(re.compile(r"country=NO"))
        expect(norway).to_be_checked()

        # on a wide screen the filters are a side column, open without JavaScript too
        page.set_viewport_size({"width": 1280, "height": 900})
        expect(page.locator("#filters > summary")).to_be_hidden()
        expect(norway).to_be_visible()
        expect(page.get_by_role("button", name="Använd filtren")).to_be_visible()
    finally:
        context.close()


PAGES = {
    "search": "/?q={need}&lang={lang}",
    "partners": "/?q={need}&view=partners&lang={lang}",
    "project": "/project/{project}?lang={lang}",
    "embed": "/embed?q={need}&lang={lang}",
    "submit": "/submit?lang={lang}",
}


@pytest.mark.parametrize("lang", ["nb", "sv", "da"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_wcag_21_aa_violation(page: Page, servers: Servers, name: str, lang: str) -> None:
    page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang={lang}")
    project = page.locator(".result__title a").first.get_attribute("href").split("/project/")[1].split("?")[0]
    page.goto(servers.erfa + PAGES[name].format(need=quote(SWEDISH_NEED), lang=lang, project=project))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    if name == "submit":  # audit the form with its error messages showing, too
        page.get_by_role("button", name={"nb": "Send inn", "sv": "Skicka in", "da": "Indsend"}[lang]).click()
        expect(page.locator("#error-summary")).to_be_visible()
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    AXE_REPORT[f"{name}/{lang}"] = {
        "rules_passed": len(results.response["passes"]),
        "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in violations},
    }
    assert len(results.response["passes"]) > 10, "axe-core did not really run"
    if lang == "sv" and name in ("submit", "partners"):
        screenshot(page, name)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, "\n".join(bad)


def test_api_docs_render_offline_under_their_csp(page: Page, servers: Servers) -> None:
    """/docs is served from the swagger-ui-bundle wheel under a CSP without CDNs or inline
    scripts: it must still draw the operations, and the browser must refuse nothing."""
    refused: list[str] = []
    page.on(
        "console",
        lambda msg: (
            refused.append(msg.text) if "Content Security Policy" in msg.text or "Refused" in msg.text else None
        ),
    )
    outside: list[str] = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(servers.erfa) else None)
    page.goto(f"{servers.erfa}/docs")
    expect(page.locator(".swagger-ui .opblock-summary-path", has_text="/search").first).to_be_visible(timeout=20_000)
    assert not refused, refused
    assert not [u for u in outside if not u.startswith(("data:", "blob:"))], outside


def test_the_counts_say_how_many_close_matches_and_every_country_can_be_chosen(page: Page, servers: Servers) -> None:
    """Issue 13, item 1: 'N close matches' instead of 'of 1000', facets counted over them, and a
    country none of them is from still listed (greyed, at 0) and selectable."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{servers.erfa}/search?q={quote(SWEDISH_NEED)}")  # the API, for the figures the page must show
    api = page.evaluate("JSON.parse(document.body.innerText)")
    page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang=en")
    summary = page.locator("#results-summary").inner_text()
    assert " of 1000" not in summary and " of " not in summary
    if api["matches"]:
        n = api["matches"]
        assert f"{n} close match{'es' if n != 1 else ''}." in summary
        expect(page.locator(".filters__panel .hint").first).to_contain_text(
            f"The counts cover the {n} close match{'es' if n != 1 else ''}."
        )
    empty = page.locator(".check--none input[name=country]")
    listed = page.locator("input[type=checkbox][name=country]").evaluate_all("els => els.map(e => e.value)")
    assert sorted(listed) == sorted(api["facets"]["country"]), "every country of the registry is listed"
    zero = empty.evaluate_all("els => els.map(e => e.value)")
    assert zero, "those with no counted result at 0"
    label = page.locator(".check--none label").first
    color = label.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(75, 85, 99)", f"a value with no match is greyed: {color}"
    bad = _axe_violations(page, "counts/en")
    assert not bad, "\n".join(bad)
    # the countries at 0 are folded behind "Show N values with no results" (issue 21): open, then pick one
    more = page.locator(".facet__more:has(input[name=country]) > summary")
    expect(more).to_have_text(i18n.t("en", "facet_more", n=len(zero)))
    expect(empty.first).to_be_hidden()
    more.click()
    value = empty.first.get_attribute("value")
    name = page.locator(f".check--none label[for='{empty.first.get_attribute('id')}']").inner_text().split(" (")[0]
    # selectable: with JavaScript the filter applies at once. The box is found by its value, which survives the
    # reload the check causes (the first greyed box of the new page is another country, and would be checked too)
    page.locator(f"input[type=checkbox][name=country][value={value}]").check()
    page.wait_for_url(re.compile(rf"country={value}"))
    expect(page.locator(f"input[type=checkbox][name=country][value={value}]")).to_be_checked()
    metas = page.locator(".result-list > li > .meta").all_inner_texts()
    assert metas and all(name in m for m in metas), (
        page.url,
        name,
        metas,
    )  # that country's projects, though none was close


# -- a newcomer's walk (issue 21): at 375 and 1280 px, by keyboard, in every language ------------
LANGS = list(i18n.LANGS)  # nb, nn, sv, da, en
SIZES = {"375": PHONE, "1280": {"width": 1280, "height": 900}}


def _results_with_filters(page: Page, servers: Servers, lang: str, size: str) -> None:
    page.set_viewport_size(SIZES[size])
    page.goto(f"{servers.erfa}/?q={quote(SWEDISH_NEED)}&lang={lang}")
    expect(page.locator(".result-list > li").first).to_be_visible()
    if size == "375":  # on a phone the filters fold behind their button
        page.locator("#filters > summary").click()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
def test_a_filter_that_applies_keeps_focus_and_announces_the_new_count(
    page: Page, servers: Servers, lang: str, size: str
) -> None:
    _results_with_filters(page, servers, lang, size)
    box = page.locator(".facet .check > input[type=checkbox]").first  # the first value with results
    name, value = box.get_attribute("name"), box.get_attribute("value")
    box.focus()
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(rf"{name}={value}"))
    ticked = page.locator(f"input[type=checkbox][name={name}][value='{value}']")
    expect(ticked).to_be_focused()
    expect(ticked).to_be_checked()
    summary = page.locator("#results-summary").inner_text()
    expect(page.locator("#filters-live")).to_contain_text(summary)  # what a screen reader hears
    # the next filter is one Tab away, not the results heading's 35
    nxt = _tab_to(page, "!!(el.closest && el.closest('.filters__panel'))", limit=1)
    assert _focus_visible(nxt)
    bad = _axe_violations(page, f"filter-focus/{lang}/{size}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
def test_values_without_results_fold_and_open_from_the_keyboard(
    page: Page, servers: Servers, lang: str, size: str
) -> None:
    _results_with_filters(page, servers, lang, size)
    more = page.locator(".facet__more").first
    summary = more.locator("summary")
    expect(summary).to_have_text(i18n.t(lang, "facet_more", n=more.locator("input").count()))
    folded = more.locator("input").first
    expect(folded).to_be_hidden()
    # listed first: only values with results (none is chosen here, so none shown is at 0)
    assert "(0)" not in page.locator(".facet > .check .count").all_inner_texts()
    page.locator("#filters > summary" if size == "375" else "#filters-h").focus()
    reached = _tab_to(page, "el.tagName === 'SUMMARY' && el.parentElement.classList.contains('facet__more')")
    assert _focus_visible(reached)
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(folded).to_be_visible()
    if size == "1280":  # the useful groups are no longer screens down: status starts in the first screen
        legends = page.locator(".facet legend")
        tops = legends.evaluate_all("ls => ls.map(l => l.getBoundingClientRect().top + window.scrollY)")
        assert len(tops) > 1 and tops[1] < SIZES[size]["height"], tops
    bad = _axe_violations(page, f"facets-more/{lang}/{size}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
def test_embedding_on_a_site_not_allowed_says_what_the_operator_must_set(
    page: Page, servers: Servers, lang: str, size: str
) -> None:
    page.set_viewport_size(SIZES[size])
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    page.goto(
        f"{servers.stranger}/intranet-{lang}.html"
    )  # the portal's page in that language, from an origin not listed
    status = page.locator("erfa-search .status.error")
    expect(status).to_have_text(i18n.t(lang, "widget_origin", origin=servers.stranger), timeout=20_000)
    frame = page.frame_locator("#frame")
    expect(frame.locator("#embed-refused")).to_have_text(i18n.t(lang, "embed_refused", origin=servers.stranger))
    expect(frame.locator("h1")).to_have_text(i18n.t(lang, "embed_refused_title"))
    link = frame.get_by_role("link", name=re.compile(re.escape(i18n.t(lang, "embed_open"))))
    expect(link).to_have_attribute("target", "_blank")
    page.wait_for_function("() => document.readyState === 'complete'")
    assert any("ERFA_CORS_ORIGINS" in m for m in console) and any("ERFA_FRAME_ANCESTORS" in m for m in console)
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
    child = next(f for f in page.frames if f != page.main_frame)
    for target, name in ((page, "portal"), (child, "embed-refused")):
        results = Axe().run(
            target, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]}
        )  # type: ignore[arg-type]
        violations = results.response["violations"]
        AXE_REPORT[f"{name}/{lang}/{size}"] = {
            "rules_passed": len(results.response["passes"]),
            "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in violations},
        }
        if name == "embed-refused":
            assert not violations, [v["id"] for v in violations]
        else:  # the portal page is not ours: only the widget's part counts
            assert not [v for v in violations if any("erfa-search" in str(n["target"]) for n in v["nodes"])]


@pytest.mark.parametrize("lang", LANGS)
def test_the_embed_shows_the_close_match_mark_in_every_language(page: Page, servers: Servers, lang: str) -> None:
    page.goto(f"{servers.erfa}/search?q={quote(SWEDISH_NEED)}&limit=5")
    api = page.evaluate("JSON.parse(document.body.innerText)")
    page.set_viewport_size(PHONE)
    page.goto(f"{servers.erfa}/embed?q={quote(SWEDISH_NEED)}&lang={lang}")
    marks = page.locator(".result .close-mark")
    expect(marks).to_have_count(sum(bool(r["close_match"]) for r in api["results"]))
    if marks.count():
        expect(marks.first).to_have_text(i18n.t(lang, "close_mark"))
    twins = sum(bool(r["twins"]) for r in api["results"])
    expect(page.locator(".result .also-in")).to_have_count(twins)
    bad = _axe_violations(page, f"embed-marks/{lang}")
    assert not bad, "\n".join(bad)
