"""The interface's languages (issues 20, 21): gettext catalogs complete in nb, nn, sv, da and en,
plurals by each language's own rule (in Python and in the widget's JavaScript), Danish chosen
from the browser, and a readable label for every code a person can see."""

from __future__ import annotations

import gettext
import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from erfa.index.moderation.submissions import SOURCE as SUBMISSION_SOURCE
from erfa.ingest import vocab
from erfa.ingest.formats import aiwatch, digdir, pstw
from erfa.service.pages import i18n
from tests._ops import csrf_of, signed_in
from tests.factories import SUBMISSION_FORM as FORM

PLACEHOLDER = re.compile(r"{(\w*)}")
WIDGET = Path(i18n.__file__).parent / "static" / "erfa-widget.js"
DANISH = "da-DK,da;q=0.9,en;q=0.5"


def _entries(lang: str) -> dict[str, tuple[str, ...]]:
    """key -> its text (one form, or every plural form) as the .po file has it."""
    return {
        str(m.id[0] if m.pluralizable else m.id): tuple(m.string) if m.pluralizable else (str(m.string),)
        for m in i18n.read_catalog(lang)
        if m.id
    }


# -- the catalogs ----------------------------------------------------------------------------
def test_every_catalog_has_every_msgid_with_text_in_every_form() -> None:
    english = _entries("en")
    assert len(english) > 250
    for lang in i18n.LANGS:
        catalog = i18n.read_catalog(lang)
        entries = _entries(lang)
        assert set(entries) == set(english), (lang, set(entries) ^ set(english))
        assert catalog.num_plurals == 2 and catalog.plural_expr == "(n != 1)", lang
        for key, forms in entries.items():
            assert all(f.strip() for f in forms), (lang, key)
            if i18n.is_plural(key):
                assert len(forms) == catalog.num_plurals, (lang, key)
            # every form of every language fills the same placeholders as the English
            assert {frozenset(PLACEHOLDER.findall(f)) for f in forms} == {
                frozenset(PLACEHOLDER.findall(english[key][-1]))
            }, (lang, key)


def test_the_catalogs_are_in_sync_with_the_english_one() -> None:
    """Every catalog lists en.po's msgids in its order, each with the current English as '#. en:'
    (what translators read): editing en.po without the sync fails here."""
    for lang in i18n.LANGS:
        assert i18n.synced_catalog(lang) == i18n.catalog_path(lang).read_bytes(), (
            f"{i18n.catalog_path(lang)} is out of step: run python -m erfa.service.pages.i18n"
        )


def test_a_new_english_string_reaches_every_catalog_for_translation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    en = i18n.catalog_path("en")
    en.write_text(
        en.read_text(encoding="utf-8").replace('msgid "skip"', 'msgid "brand_new"\nmsgstr "Brand new"\n\nmsgid "skip"'),
        encoding="utf-8",
    )
    before = i18n.catalog_path("da").read_text(encoding="utf-8")
    changed = i18n.sync_catalogs()
    assert {p.parent.parent.name for p in changed} == {"nb", "nn", "sv", "da"}  # en.po was already in order
    da = i18n.catalog_path("da").read_text(encoding="utf-8")
    assert '#. en: Brand new\nmsgid "brand_new"\nmsgstr ""\n' in da  # empty: the completeness test fails until filled
    assert da.replace('#. en: Brand new\nmsgid "brand_new"\nmsgstr ""\n\n', "") == before  # nothing else moved
    assert i18n.sync_catalogs() == []  # idempotent


def test_a_broken_or_missing_catalog_is_named_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "locale")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    broken = i18n.catalog_path("sv")
    broken.write_text(
        broken.read_text(encoding="utf-8").replace('msgid "tagline"', 'tagline = "x"\nmsgid "tagline"'),
        encoding="utf-8",
    )
    with pytest.raises(i18n.CatalogError, match=r"sv/LC_MESSAGES/erfa\.po cannot be read"):
        i18n.read_catalog("sv")
    i18n.catalog_path("da").unlink()
    with pytest.raises(i18n.CatalogError, match=r"no catalog for 'da'.*erfa\.po is missing"):
        i18n.read_catalog("da")


def test_t_refuses_an_unknown_key_and_a_plural_without_a_count() -> None:
    with pytest.raises(i18n.CatalogError, match="no string 'no_such_key'"):
        i18n.t("da", "no_such_key")
    with pytest.raises(TypeError, match="n="):
        i18n.t("sv", "n_results")
    assert i18n.t("xx", "question") == i18n.t("en", "question")  # an unknown UI language is English


# -- plurals ---------------------------------------------------------------------------------
PLURALS = {
    "n_results": {
        "nb": ("1 treff", "2 treff", "5 treff"),
        "nn": ("1 treff", "2 treff", "5 treff"),
        "sv": ("1 träff", "2 träffar", "5 träffar"),
        "da": ("1 resultat", "2 resultater", "5 resultater"),
        "en": ("1 result", "2 results", "5 results"),
    },
    "partners_count": {
        "nb": ("1 organisasjon", "2 organisasjoner", "5 organisasjoner"),
        "nn": ("1 organisasjon", "2 organisasjonar", "5 organisasjonar"),
        "sv": ("1 organisation", "2 organisationer", "5 organisationer"),
        "da": ("1 organisation", "2 organisationer", "5 organisationer"),
        "en": ("1 organisation", "2 organisations", "5 organisations"),
    },
    "reason_projects": {
        "nb": ("1 prosjekt", "2 prosjekter", "5 prosjekter"),
        "nn": ("1 prosjekt", "2 prosjekt", "5 prosjekt"),
        "sv": ("1 projekt", "2 projekt", "5 projekt"),
        "da": ("1 projekt", "2 projekter", "5 projekter"),
        "en": ("1 project", "2 projects", "5 projects"),
    },
    "adm_caption_approved": {
        "nb": ("1 godkjent innmelding", "2 godkjente innmeldinger", "5 godkjente innmeldinger"),
        "nn": ("1 godkjend innmelding", "2 godkjende innmeldingar", "5 godkjende innmeldingar"),
        "sv": ("1 godkänt förslag", "2 godkända förslag", "5 godkända förslag"),
        "da": ("1 godkendt indberetning", "2 godkendte indberetninger", "5 godkendte indberetninger"),
        "en": ("1 approved submission", "2 approved submissions", "5 approved submissions"),
    },
}


@pytest.mark.parametrize("key", list(PLURALS))
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_counts_take_the_languages_own_plural(key: str, lang: str) -> None:
    assert tuple(i18n.t(lang, key, n=n) for n in (1, 2, 5)) == PLURALS[key][lang]


def test_the_sentences_that_carry_a_count_agree_with_it() -> None:
    one = i18n.t("sv", "results_matches", start=1, end=10, n=1)
    assert one.endswith("1 nära träff.") and "1 nära träffar" not in one
    assert i18n.t("nn", "results_matches", start=1, end=10, n=3).endswith("3 nære treff.")
    assert i18n.t("nn", "adm_caption_pending", n=1) == "1 innmelding ventar"
    assert i18n.t("en", "adm_caption_pending", n=1) == "1 submission waiting"
    assert i18n.t("en", "busy", n=1).endswith("in 1 second.") and i18n.t("da", "busy", n=30).endswith("30 sekunder.")
    assert i18n.t("sv", "facets_over_matches", n=1) == "Siffrorna gäller den 1 nära träffen."


def _widget_plurals_in_node(lang: str, counts: list[int]) -> list[str]:
    """Run the widget's own STRINGS, PLURALS and plural() in Node for one language."""
    js = WIDGET.read_text(encoding="utf-8")
    start, end = js.index("/*STRINGS*/"), js.index("function plural(")
    body = js[js.index("function plural(") :]
    func = body[: body.index("\n  }\n") + 4]
    script = (
        js[start:end]
        + func
        + f"\nconsole.log(JSON.stringify({json.dumps(counts)}.map(function (n) {{"
        + f" return plural({json.dumps(lang)}, STRINGS[{json.dumps(lang)}].n_results, n); }})));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
@pytest.mark.parametrize("lang", i18n.LANGS)
def test_the_widgets_javascript_picks_the_same_plural_form(lang: str) -> None:
    assert _widget_plurals_in_node(lang, [1, 2, 5]) == list(PLURALS["n_results"][lang])
    assert _widget_plurals_in_node(lang, [0]) == [i18n.t(lang, "n_results", n=0)]


def test_the_widgets_plural_rule_is_the_catalogs() -> None:
    for lang in i18n.LANGS:
        rule = gettext.c2py(i18n.widget_strings()[lang]["plural"])
        assert [rule(n) for n in (0, 1, 2, 5)] == [1, 0, 1, 1]
        assert f'"{lang}": function (n) {{ return Number((n != 1)); }}' in i18n.widget_plural_code()


# -- labels -----------------------------------------------------------------------------------
def _source_codes() -> set[str]:
    toml = tomllib.loads((Path(i18n.__file__).parents[1] / "sources.toml").read_text(encoding="utf-8"))
    named = {s["source"] for s in toml.get("source", []) if "source" in s}
    return named | {digdir.SOURCE, pstw.SOURCE, aiwatch.SOURCE_IPS, "aiwatch", SUBMISSION_SOURCE, "demo"}


def test_every_code_a_person_can_see_has_a_label_in_every_language() -> None:
    kinds = {
        "status": vocab.STATUSES,
        "sector": vocab.SECTORS,
        "owner_type": vocab.OWNER_TYPES,
        "source": tuple(sorted(_source_codes() | {"uk_atrs", "us_inventory"})),
        "language": i18n.LANGS,
    }
    for kind, codes in kinds.items():
        assert set(codes) <= set(i18n.codes(kind)), (kind, set(codes) - set(i18n.codes(kind)))
        for code in codes:
            for lang in i18n.LANGS:
                text = i18n.label(lang, kind, code)
                assert text and text != code and "_" not in text, (kind, code, lang, text)


def test_an_unknown_code_is_humanised_never_raw() -> None:
    assert i18n.label("nb", "source", "new_registry") == "New registry"
    assert i18n.label("en", "sector", "space_travel") == "Space travel"
    assert i18n.label("da", "language", "hu") == "Ungarsk"  # Babel's name, in the interface language
    assert i18n.label("sv", "language", "hu") == "Ungerska"
    assert i18n.label("en", "status", None) == ""
    with pytest.raises(ValueError, match="no labels for 'colour'"):
        i18n.label("en", "colour", "red")


def test_the_reviewed_words() -> None:
    """Issue 21's native-speaker review, item by item."""
    assert i18n.t("nn", "adm_action_submitted") == "Sendt inn"  # what happened, not an imperative
    assert i18n.label("sv", "owner_type", "health_trust") == "Hälso- och sjukvård"
    assert i18n.label("sv", "owner_type", "county") == "Region" and i18n.label("da", "owner_type", "county") == "Region"
    assert i18n.t("sv", "nav_submit") == "Föreslå ett projekt" and "nmäl" not in i18n.t("sv", "submit_intro")
    assert i18n.label("nn", "status", "planned") == "Planlagt"  # agrees with "prosjekt" (neuter)
    assert len({i18n.label("nb", "status", s) for s in vocab.STATUSES}) == len(vocab.STATUSES)
    assert i18n.label("sv", "status", "discontinued") == "Avvecklat"  # stopped, not merely "ended"
    examples = {lang: i18n.t(lang, "s_contact_hint") + i18n.t(lang, "s_website_hint") for lang in i18n.LANGS}
    assert not re.search(r"\.kommune?\.se", examples["sv"]) and "exempelkommun.se" in examples["sv"]
    assert "eksempelkommune.dk" in examples["da"] and "kommune.no" in examples["nb"] + examples["nn"]
    assert "insändare" not in " ".join(i18n.t("sv", k) for k in i18n.all_keys() if not i18n.is_plural(k))


# -- Danish in the pages -----------------------------------------------------------------------
def test_a_danish_browser_gets_danish_everywhere(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    home = c.get("/", headers={"Accept-Language": DANISH})
    assert '<html lang="da">' in home.text and "Hvad vil I bruge AI til?" in home.text
    assert 'hreflang="da" aria-current="true"' in home.text and ">Dansk<" in home.text
    embed = c.get("/embed", params={"q": "chatbot"}, headers={"Accept-Language": DANISH})
    assert '<html lang="da">' in embed.text and "Søg i erfa" in embed.text
    assert re.search(r"\d+ resultat(er)?<", embed.text)
    project = c.get("/project/test-1", headers={"Accept-Language": DANISH})
    assert project.status_code == 200 and "Senest opdateret" in project.text
    # the date as Danish writes it (Babel's CLDR), the ISO date kept for machines
    assert re.search(r'<time datetime="\d{4}-\d{2}-\d{2}">\d{1,2}\. [a-zæøå]+\.? \d{4}</time>', project.text)
    admin = c.get("/admin", headers={"Accept-Language": DANISH})
    assert '<html lang="da">' in admin.text and "Log ind for at moderere" in admin.text
    assert i18n.widget_strings()["da"]["question"] == "Hvad vil I bruge AI til?"
    assert i18n.widget_strings()["da"]["country"]["DK"] == "Danmark"
    assert "da: " in WIDGET.read_text(encoding="utf-8").split("var ALIASES")[1][:120]


def test_the_moderation_history_shows_labels_not_codes(app_for: Callable[..., TestClient]) -> None:
    c = app_for()
    sid = c.post("/submissions", json=FORM).json()["id"]
    csrf = signed_in(c)
    page = c.get(f"/admin/submissions/{sid}?lang=nn")
    form = {
        "csrf": csrf,
        "revision": "0",
        "title": FORM["title"],
        "organisation": FORM["organisation"],
        "country": "SE",
        "sector": "social_services",
        "status": "implemented",
        "start_year": "2023",
    }
    assert csrf_of(page.text)
    saved = c.post(f"/admin/submissions/{sid}/edit?lang=nn", data=form)
    assert saved.status_code == 200, saved.text
    history = saved.text.split('id="history-h"')[1]
    for shown in ("Miljø og klima", "Sosiale tenester", "Pilot", "I bruk", "Noreg", "Sverige", "Sendt inn"):
        assert shown in history, shown
    for raw in ("social_services", "environment", "implemented", ">NO<", "Send inn"):
        assert raw not in history, raw
