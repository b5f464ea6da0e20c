"""Moderation and the submitter's status link in a real browser (issue 12 items 1, 2, 3, 7):
submit with a link typed without https://, follow the private status link, sign in on /admin
with the keyboard, correct a typo, approve, find the project in search, reject another with a
reason the submitter then reads, see a forged cross-site form refused, sign out. Every page on
the way passes axe-core's WCAG 2.1 A/AA rules with no violation at all."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_TOKEN, AXE_REPORT, Servers

pytestmark = pytest.mark.browser

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TYPO = "Drone som teler sjøfugl i skjærgården"
TITLE = "Drone som teller sjøfugl i skjærgården"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def no_axe_violations(page: Page, name: str) -> None:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    AXE_REPORT[name] = {
        "rules_passed": len(results.response["passes"]),
        "violations": {v["id"]: (v["impact"], len(v["nodes"])) for v in violations},
    }
    assert len(results.response["passes"]) > 10, "axe-core did not really run"
    found = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in violations]
    assert not found, "\n".join(found)


def submit(page: Page, servers: Servers, title: str, description: str, *, contact: bool = True) -> str:
    """Send the public form in Bokmål; returns the private status link from the receipt."""
    page.goto(f"{servers.erfa}/submit?lang=nb")
    page.get_by_label("Navn på prosjektet").fill(title)
    page.get_by_label("Virksomhet som eier prosjektet").fill("Fjordvik kommune")
    page.get_by_label("Beskrivelse", exact=True).fill(description)
    page.get_by_label("Land").select_option("NO")
    link = page.get_by_label("Lenke til mer informasjon")
    link.fill("fjordvik.kommune.no/ki/sjofugl")
    link.press("Tab")  # leaving the field completes the address and says so
    expect(link).to_have_value("https://fjordvik.kommune.no/ki/sjofugl")
    expect(page.locator("#s-link-note")).to_contain_text("Vi la til https://")
    if contact:
        page.get_by_label("Virksomhetens nettsted").fill("fjordvik.kommune.no")
        page.get_by_label("Funksjonell kontakt").fill("digitalisering@fjordvik.kommune.no")
        page.get_by_label("Kontakten kan publiseres sammen med prosjektet").check()
    page.get_by_role("button", name="Send inn").click()
    receipt = page.locator("#receipt")
    expect(receipt).to_be_focused()
    status = page.locator("#receipt-status")
    href = status.get_attribute("href") or ""
    assert "/submit/status/" in href and status.inner_text() == href
    expect(page.locator("#receipt-links-list")).to_contain_text("https://fjordvik.kommune.no/ki/sjofugl")
    return href


def pending_id(servers: Servers, title: str) -> str:
    subs = httpx.get(f"{servers.erfa}/submissions", params={"status": "all"}, headers=AUTH, timeout=30).json()[
        "submissions"
    ]
    return next(s["id"] for s in subs if s["data"]["title"] == title)


def test_the_form_asks_for_contacts_and_its_receipt_gives_a_status_link(page: Page, servers: Servers) -> None:
    status_url = submit(page, servers, "Oversettelse av vedtaksbrev", "Vedtaksbrev blir oversatt til klarspråk.")
    no_axe_violations(page, "receipt/nb")
    page.goto(status_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Status for innmeldingen")
    expect(page.locator("#submission-state")).to_have_text("Venter på godkjenning")
    no_axe_violations(page, "status/nb")


def test_moderation_from_sign_in_to_sign_out(browser: Any, servers: Servers) -> None:
    submitter = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
    moderator = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")
    try:
        sp, mp = submitter.new_page(), moderator.new_page()
        for p in (sp, mp):
            p.set_default_timeout(15_000)
        status_url = submit(
            sp, servers, TYPO, "En drone teller sjøfugl på holmene, og maskinlæring skiller artene fra hverandre."
        )
        spam_url = submit(sp, servers, "Kjøp billige klokker", "Reklame for klokker.", contact=False)
        sid, spam = pending_id(servers, TYPO), pending_id(servers, "Kjøp billige klokker")

        # sign in with the keyboard alone: Tab to the token field, type, Enter
        mp.goto(f"{servers.erfa}/admin?lang=nb")
        expect(mp.get_by_role("heading", level=1)).to_have_text("Logg inn for å moderere")
        no_axe_violations(mp, "admin-sign-in/nb")
        for _ in range(40):
            mp.keyboard.press("Tab")
            if mp.evaluate("document.activeElement.id") == "admin-token":
                break
        else:
            raise AssertionError("the token field is not reachable with Tab")
        mp.keyboard.type(ADMIN_TOKEN)
        mp.keyboard.press("Enter")
        expect(mp.get_by_role("heading", level=1)).to_have_text("Moderering")
        cookie = next(c for c in moderator.cookies() if c["name"] == "erfa_admin")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and ADMIN_TOKEN not in cookie["value"]
        waiting = httpx.get(f"{servers.erfa}/submissions", headers=AUTH, timeout=30).json()["total"]
        assert waiting >= 2
        expect(mp.get_by_role("link", name=f"Venter ({waiting})")).to_have_attribute("aria-current", "page")
        no_axe_violations(mp, "admin-queue/nb")

        # open the submission: it shows as it will appear, with the consented contact
        mp.get_by_role("link", name=TYPO).click()
        expect(mp.get_by_role("heading", name="Slik blir prosjektsiden")).to_be_visible()
        preview = mp.locator(".preview__page")
        expect(preview.get_by_role("link", name="digitalisering@fjordvik.kommune.no")).to_be_visible()
        expect(preview.get_by_role("link", name="Nettstedet til Fjordvik kommune")).to_have_attribute(
            "href", "https://fjordvik.kommune.no"
        )
        no_axe_violations(mp, "admin-submission/nb")

        # correct the typo; the history says who changed what
        mp.get_by_label("Navn på prosjektet").fill(TITLE)
        mp.get_by_role("button", name="Lagre endringene").click()
        expect(mp.locator("#notice")).to_contain_text("Endringene er lagret.")
        expect(mp.get_by_role("heading", level=1)).to_have_text(TITLE)
        history = mp.locator(".history")
        expect(history).to_contain_text("Redigert")
        expect(history).to_contain_text(TYPO)

        # a forged form from another site is refused: no session cookie travels (SameSite=Strict), no CSRF token
        mp2 = moderator.new_page()
        mp2.goto(f"{servers.stranger}/portal.html")
        mp2.evaluate(
            """([url]) => {
            const f = document.createElement('form'); f.method = 'post'; f.action = url;
            const r = document.createElement('input'); r.name = 'reason'; r.value = 'forged'; f.appendChild(r);
            const c = document.createElement('input'); c.name = 'csrf'; c.value = 'forged'; f.appendChild(c);
            document.body.appendChild(f); f.submit();
        }""",
            [f"{servers.erfa}/admin/submissions/{sid}/reject?lang=nb"],
        )
        expect(mp2.get_by_role("heading", level=1)).to_have_text("Handlingen ble avvist")  # its Origin is another site
        mp2.close()
        # and so is a same-site post without the form's CSRF token
        forged = mp.request.post(
            f"{servers.erfa}/admin/submissions/{sid}/reject?lang=nb", form={"reason": "forged"}, max_redirects=0
        )
        assert forged.status == 403 and "Skjemaet er utløpt" in forged.text()
        sub = httpx.get(f"{servers.erfa}/submissions/{sid}", headers=AUTH, timeout=30).json()
        assert sub["status"] == "pending" and sub["revision"] == 1

        # approve: the project is published and searchable
        mp.get_by_role("button", name="Godkjenn og publiser").click()
        expect(mp.locator("#notice")).to_contain_text("Prosjektet er godkjent og publisert.")
        mp.get_by_role("link", name="Se prosjektsiden").click()
        expect(mp.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(mp.get_by_role("link", name="digitalisering@fjordvik.kommune.no")).to_have_attribute(
            "href", "mailto:digitalisering@fjordvik.kommune.no"
        )
        expect(mp.get_by_role("link", name="Nettstedet til Fjordvik kommune")).to_be_visible()
        no_axe_violations(mp, "project-contact/nb")
        mp.goto(f"{servers.erfa}/?q={quote('drone som teller sjøfugl')}&lang=nb")
        expect(mp.locator(".result-list > li").first.locator(".result__title")).to_have_text(TITLE)

        # reject the other with a reason; an empty reason is asked for first
        mp.goto(f"{servers.erfa}/admin/submissions/{spam}?lang=nb")
        mp.get_by_role("button", name="Avvis").click()
        expect(mp.locator("#reject-reason-error")).to_have_text("Skriv en begrunnelse før du avviser.")
        expect(mp.get_by_label("Begrunnelse for avvisning")).to_have_attribute("aria-invalid", "true")
        no_axe_violations(mp, "admin-reject-error/nb")
        mp.get_by_label("Begrunnelse for avvisning").fill("Dette er reklame, ikke et offentlig prosjekt.")
        mp.get_by_role("button", name="Avvis").click()
        expect(mp.locator("#notice")).to_contain_text("Innmeldingen er avvist.")
        mp.get_by_role("link", name="Logg over beslutninger").click()
        expect(mp.locator("table")).to_contain_text("Godkjent og publisert")
        expect(mp.locator("table")).to_contain_text("Dette er reklame")
        no_axe_violations(mp, "admin-history/nb")

        # the submitter follows both links
        sp.goto(status_url)
        expect(sp.locator("#submission-state")).to_have_text("Publisert")
        sp.locator("#published-link").click()
        expect(sp.get_by_role("heading", level=1)).to_have_text(TITLE)
        sp.goto(spam_url)
        expect(sp.locator("#submission-state")).to_have_text("Avvist")
        expect(sp.locator("#rejection-reason")).to_have_text("Dette er reklame, ikke et offentlig prosjekt.")
        no_axe_violations(sp, "status-rejected/nb")

        # sign out: the session is over, also for a copy of its cookie
        mp.goto(f"{servers.erfa}/admin?lang=nb")
        mp.get_by_role("button", name="Logg ut").click()
        expect(mp.get_by_role("status")).to_have_text("Du er logget ut.")
        moderator.add_cookies([cookie])
        mp.goto(f"{servers.erfa}/admin/submissions/{sid}?lang=nb")
        expect(mp.get_by_role("heading", level=1)).to_have_text("Logg inn for å moderere")
    finally:
        submitter.close()
        moderator.close()


@pytest.mark.parametrize("lang", ["nn", "sv", "da", "en"])
def test_the_sign_in_page_speaks_each_language_without_violations(page: Page, servers: Servers, lang: str) -> None:
    page.goto(f"{servers.erfa}/admin?lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        {
            "nn": "Logg inn for å moderere",
            "sv": "Logga in för att moderera",
            "da": "Log ind for at moderere",
            "en": "Sign in to moderate",
        }[lang]
    )
    no_axe_violations(page, f"admin-sign-in/{lang}")
