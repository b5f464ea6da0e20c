"""One organisation, one name (issue 12 item 5): spellings, languages, acronyms, registry
numbers and the alias table join one body's names; different bodies stay apart; the
body is shown under the name it uses itself; the organisation filter and incremental
writes use the merged key. Real examples come from ../shared/data (skipped without it)."""
from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Callable

import pytest

from erfa.index import ProjectIndex
from erfa.index.facets import Filters, Metadata
from erfa.index.organisations import ALIASES_FILE, Directory, merge_keys, name_keys, org_key
from erfa.ingest import Record

from tests._shared import shared_data_dir


def one_body(*names: str, country: str = "NO") -> bool:
    d = Directory()
    keys = {d.add(n, country) for n in names}
    return len({d.key(n, country) for n in names}) == 1 and len(keys) >= 1


@pytest.mark.parametrize("names", [
    ("Fjordby kommune", "Fjordby Municipality", "Municipality of Fjordby", "City of Fjordby", "FJORDBY KOMMUNE"),
    ("Vikås kommun", "Vikås Municipality", "Vikås stad", "Vikas kommun"),  # Swedish forms, accents folded
    ("Nordstrands kommun", "Nordstrand Municipality"),  # the genitive -s
    ("Region Fjellmark", "Fjellmark Region", "Region of Fjellmark"),
    ("Vestfjell fylkeskommune", "Vestfjell County Council", "Vestfjell County Municipality"),
    ("Universitetet i Fjordby", "University of Fjordby", "Fjordby universitet", "Fjordby University"),
    ("Fjordby universitetssykehus", "Fjordby University Hospital"),
    ("Helse Fjordby HF", "Helse Fjordby"),
    ("Arbeids- og velferdsetaten (NAV)", "NAV"),
    ("Finnish Patent and Registration Office PRH", "Finnish Patent and Registration Office", "PRH"),
    ("Fjordby Customs (Tollkontoret)", "Tollkontoret"),
    ("Kartverket, the national mapping agency", "Kartverket"),
    ("Fjordby Land Registry Authority", "Fjordby Land Registry Authoritty"),  # one letter apart
])
def test_spellings_of_one_body_are_one_key(names: tuple[str, ...]) -> None:
    assert one_body(*names), [name_keys(n) for n in names]


@pytest.mark.parametrize("a, b", [
    ("Fjordby kommune", "Fjordby fylkeskommune"),  # same place, other type of body
    ("Fjordby kommune", "Fjordby universitet"),
    ("Region Fjellmark", "Region Fjordby"),
    ("Sola kommune", "Sula kommune"),  # two municipalities one letter apart
    ("Norsk Hydro ASA", "Statkraft ASA"),  # a legal form is no acronym
    ("Fjordby kommune and Nabovik kommune", "Fjordby kommune"),  # a joint project is not its first owner
    ("UNIVERSITA DI PISA", "Pisa"),  # SHOUTED names have no trailing acronym
    ("Ministry of Finance", "Agency for Digitalisation (Ministry of Finance)"),  # a parent in brackets is not the body
])
def test_different_bodies_stay_apart(a: str, b: str) -> None:
    assert not one_body(a, b), (name_keys(a), name_keys(b))


def test_registry_numbers_join_names_no_rule_could() -> None:
    d = Directory()
    d.add("Fjordby kommune", "NO", "944000001")
    d.add("Kommunen ved fjorden", "NO", "944000001")
    d.add("Nabovik kommune", "NO", "944000002")  # one digit apart: another body
    assert d.key("Fjordby kommune", "NO") == d.key("Kommunen ved fjorden", "NO")
    assert d.key("Nabovik kommune", "NO") != d.key("Fjordby kommune", "NO")


def test_aliases_never_cross_borders_and_every_entry_names_its_source() -> None:
    data = tomllib.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    assert all(b["source"] and b["country"] and b["name"] for b in data["bodies"])
    assert all(p["source"] and p["own"] for p in data["places"].values())
    assert len(data["bodies"]) <= 60, "the alias table is for what rules cannot join: keep it small"
    assert one_body("Directorate of Immigration", "Utlendingsdirektoratet", country="NO")
    assert not one_body("Ministry of Foreign Affairs", "Utenriksdepartementet", country="DK")
    assert one_body("City of Copenhagen", "Københavns Kommune", country="DK")  # an exonym


def test_the_name_shown_is_the_one_the_body_uses_itself() -> None:
    d = Directory()
    d.add("Fjordby Municipality", "NO", language="en")
    d.add("Fjordby Municipality", "NO", language="en")
    d.add("Fjordby kommune", "NO", language="nb")
    d.add("FJORDBY KOMMUNE", "NO", language="nb")
    assert d.display(d.key("Fjordby kommune", "NO"), "NO") == "Fjordby kommune"
    d.add("Directorate of Immigration", "NO", language="en")  # only the English name in the data:
    assert d.display(d.key("Directorate of Immigration", "NO"), "NO") == "Utlendingsdirektoratet"  # the table's


def test_merge_keys_and_org_key_keep_their_old_promises() -> None:
    assert org_key("Helse Bergen HF") == org_key("helse  bergen") == "helse bergen"
    assert org_key("Arbeids- og velferdsetaten (NAV)") == org_key("NAV") == "nav"
    keys = merge_keys(["Stockholms stad", "Stockholm stad", "City of Stockholm"])
    assert len(set(keys.values())) == 1
    assert len(set(merge_keys(["Region Skåne", "Region Stockholm"]).values())) == 2


def _rec(sid: str, org: str, country: str = "NO", language: str = "nb", number: str | None = None) -> Record:
    return Record.build("t", sid, title=f"Prosjekt {sid}", organisation=org, country=country, language=language,
                        organisation_number=number)


def test_metadata_keys_rows_by_body_and_stays_right_when_a_write_joins_two_bodies() -> None:
    recs = [_rec("1", "Fjordby kommune"), _rec("2", "Fjordby Municipality", language="en"),
            _rec("3", "Kommunen ved fjorden", number="944000001"), _rec("4", "Fjordby kommune", country="SE")]
    meta = Metadata([1, 2, 3, 4], recs)
    assert meta.org_key_of(1) == meta.org_key_of(2) != meta.org_key_of(3)
    # a new record gives "Fjordby kommune" the registry number "Kommunen ved fjorden" has: one body now
    meta2 = meta.with_rows([5], [_rec("5", "Fjordby kommune", number="944000001")])
    assert meta2.org_key_of(1) == meta2.org_key_of(2) == meta2.org_key_of(3) == meta2.org_key_of(5)
    assert meta.org_key_of(1) != meta.org_key_of(3)  # the old metadata is untouched
    assert meta2.org_key_of(4) == meta.org_key_of(4)  # same name in Sweden: another body, not rekeyed
    rebuilt = Metadata([1, 2, 3, 4, 5], [*recs, _rec("5", "Fjordby kommune", number="944000001")])
    assert len({rebuilt.org_key_of(r) for r in (1, 2, 3, 5)}) == 1
    assert meta2.org_name(meta2.org_key_of(2), "NO") == "Fjordby kommune"
    mask = meta2.mask(Filters(organisation=["Fjordby Municipality"]))
    assert sorted(meta2.rowids[mask].tolist()) == [1, 2, 3, 4, 5]  # the Swedish one by its name's prefix


def test_partners_name_one_body_once_under_its_own_name(make_index: Callable[..., ProjectIndex]) -> None:
    about = "Innbyggerne får svar døgnet rundt på spørsmål om byggesøknader fra en chatbot."
    idx = make_index()
    idx.upsert([
        Record.build("t", "1", title="Chatbot for byggesaker", description=about, organisation="Fjordby kommune",
                     country="NO", language="nb", status="implemented"),
        Record.build("u", "2", title="Building permit chatbot", description="Citizens ask a chatbot about building permits.",
                     organisation="Fjordby Municipality", country="NO", language="en", status="pilot"),
        Record.build("t", "3", title="Prognose for snøbrøyting", description="Vi varsler brøyting ut fra værdata.",
                     organisation="Nabovik kommune", country="NO"),
    ])
    page = idx.partners("chatbot som svarer om byggesøknader")
    fjordby = [p for p in page.partners if "Fjordby" in p.organisation]
    assert len(fjordby) == 1 and fjordby[0].organisation == "Fjordby kommune"
    assert {h.record.id for h in fjordby[0].projects} | {t.id for h in fjordby[0].projects for t in h.twins} == {"t-1", "u-2"}


# -- real data ------------------------------------------------------------------------
def _real_names() -> dict[tuple[str, str], str]:
    """(country, name) -> language of a record carrying it, over the Nordic corpus."""
    from erfa.index.corpora import available, nordic_corpus

    shared = shared_data_dir()
    if not available(shared):
        pytest.skip("the real corpora's files are not all in ../shared/data")
    return {(r.country or "", r.organisation): r.language or "" for r in nordic_corpus(shared) if r.organisation}


@pytest.mark.shared
def test_real_registries_spellings_of_one_body_merge_and_show_its_own_name() -> None:
    names = _real_names()
    d = Directory()
    for (country, name), language in names.items():
        d.add(name, country, language=language)
    bodies: dict[tuple[str, str], set[str]] = defaultdict(set)
    for country, name in names:
        bodies[(country, d.key(name, country))].add(name)

    def body(country: str, name: str) -> set[str]:
        return bodies[(country, d.key(name, country))]

    # Norway's overview writes Norwegian names, PSTW English ones
    assert {"Kristiansand kommune", "Kristiansand Municipality"} <= body("NO", "Kristiansand kommune")
    assert {"Trondheim kommune", "Trondheim Municipality"} <= body("NO", "Trondheim kommune")
    assert {"Stavanger kommune", "City of Stavanger"} <= body("NO", "Stavanger kommune")
    assert {"Akershus universitetssykehus", "Akershus University Hospital"} <= body("NO", "Akershus universitetssykehus")
    assert {"Tolletaten", "Norwegian Customs (Tolletaten)"} <= body("NO", "Tolletaten")
    assert {"Utlendingsdirektoratet", "Directorate of Immigration"} <= body("NO", "Utlendingsdirektoratet")
    assert {"Helse Vest", "Western Norway Regional Health Authority"} <= body("NO", "Helse Vest")
    # Danish and Swedish municipalities, an exonym, a genitive, an acronym beside the long name
    assert {"Kobenhavns Kommune", "City of Copenhagen"} <= body("DK", "City of Copenhagen")
    assert {"Aalborg Kommune", "Municipality of Aalborg"} <= body("DK", "Aalborg Kommune")
    assert {"Nacka municipality", "Municipality of Nacka"} <= body("SE", "Nacka municipality")
    assert {"Finnish Tax Administration", "Finnish Tax Administration (FTA)"} <= body("FI", "Finnish Tax Administration")
    # ... and bodies that only share a word stay apart
    assert "Helse Bergen" not in body("NO", "Helse Vest")
    assert "Aarhus University" not in body("DK", "Aarhus Municipality")
    assert "Oslo University Hospital" not in body("NO", "Municipality of Oslo")
    # the name shown is the body's own
    assert d.display(d.key("Kristiansand Municipality", "NO"), "NO") == "Kristiansand kommune"
    assert d.display(d.key("Trondheim Municipality", "NO"), "NO") == "Trondheim kommune"
    assert d.display(d.key("Swedish Tax Agency", "SE"), "SE") == "Skatteverket"
