"""Normalise the free-text categories sources use into erfa's small fixed vocabularies.

Filters and facets only work when "I produksjon", "In use" and "Implementert" are the
same value. The tables are explicit on purpose: a reviewer can read every mapping,
and a value nobody listed becomes None (unknown) instead of a plausible-looking guess.
Keys are compared after `_key` (case, spacing, trailing punctuation), so tables list
each spelling once.
"""

from __future__ import annotations

import re
from typing import Final

STATUSES: Final = ("planned", "in_development", "pilot", "implemented", "completed", "discontinued")
OWNER_TYPES: Final = (
    "municipality",
    "county",
    "region",
    "health_trust",
    "state_agency",
    "state_company",
    "university",
    "other",
)
SECTORS: Final = (
    "health",
    "social_services",
    "education",
    "transport",
    "energy",
    "archives_case_handling",
    "tax_benefits",
    "building_maps",
    "environment",
    "hr",
    "language_technology",
    "culture",
    "police_justice",
    "agriculture_fisheries",
    "finance",
    "other",
)


def _key(value: object) -> str:
    """Comparison key: case- and whitespace-insensitive, trailing dots/colons ignored."""
    text = " ".join(str(value).replace("\xa0", " ").split()).casefold()
    return text.strip(" .:;,-")


def _table(groups: dict[str | None, str]) -> dict[str, str | None]:
    """Build a lookup from `canonical -> 'spelling | spelling | ...'` groups."""
    out: dict[str, str | None] = {}
    for canonical, spellings in groups.items():
        for spelling in spellings.split("|"):
            k = _key(spelling)
            if k in out and out[k] != canonical:
                raise ValueError(f"vocab: {spelling!r} mapped twice")
            out[k] = canonical
    return out


def _lookup(table: dict[str, str | None], canon: tuple[str, ...], value: object) -> str | None:
    if value is None:
        return None
    k = _key(value)
    if not k:
        return None
    if k in canon:  # already normalised, e.g. erfa's own format
        return k
    return table.get(k)


# --- status -------------------------------------------------------------------------

_STATUS = _table(
    {
        "planned": (
            "planlagt | planlagd | planlegging | planleggingsfase | planned | planning | idea"
            "| idé | ide | idéfase | idefase | konsept | konseptfase | forstudie | planerad"
            "| planeras | planering | idéstadium | planlagt projekt | planlægning"
        ),
        "in_development": (
            "under utvikling | i utvikling | utvikling | utviklingsfase | under utvikling/test"
            "| in development | under development | development | developing | in progress"
            "| ongoing | pågående | pågåande | pågår | under arbeid | under utveckling"
            "| i utveckling | utveckling | utvecklingsfas | pågående projekt | under udvikling"
            "| i udvikling | udvikling | igangværende"
        ),
        # "Pågående"/"ongoing" sit next to "I bruk"/"Implementert" in Digdir's list, so they
        # mean "still being built", not "running in production".
        "pilot": (
            "pilot | pilot phase | pilotfase | pilotering | piloting | pilotprosjekt"
            "| pilotprojekt | pilotprojekt | utprøving | uttesting | testing | test | testfase"
            "| trial | proof of concept | poc | forsøk | försök | försöksverksamhet | afprøvning"
        ),
        "implemented": (
            "implementert | implementeret | implementerad | implemented | i produksjon"
            "| i produktion | in production | production | i drift | in operation | operational"
            "| i bruk | in use | tatt i bruk | tekne i bruk | tagen i bruk | taget i brug"
            "| i brug | deployed | live | driftsatt | används | in service"
        ),
        # A project that ran its course is not one that was stopped: people ask the first how it went and
        # the second why it ended, so the two are told apart (issue 21: "Avsluttet" read as both).
        "completed": (
            "avsluttet | avslutta | avslutat | afsluttet | fullført | fullførd | gjennomført | gjennomført prosjekt"
            "| genomfört | slutfört | färdigt | gennemført | fuldført | completed | complete | finished | ended"
            "| closed | concluded | done"
        ),
        "discontinued": (
            "avbrutt | avbroten | avbrutet | afbrudt | nedlagt | nedlagd | lagt ned | stoppet | stansa | stanset"
            "| discontinued | terminated | cancelled | canceled | stopped | abandoned | not in use"
            "| no longer in use | ikke i bruk | ikkje i bruk | inte i bruk | ej i bruk | ikke i brug | retired"
            "| decommissioned | avvecklat | avviklet | avvikla"
        ),
    }
)


def normalise_status(value: object) -> str | None:
    """One of STATUSES, or None when the source's word is unknown or blank."""
    return _lookup(_STATUS, STATUSES, value)


# --- owner type ---------------------------------------------------------------------

_OWNER_TYPE = _table(
    {
        "municipality": (
            "kommune | kommunal | kommunal sektor | kommunal virksomhet | kommunalt foretak"
            "| kommunal verksemd | municipality | municipal | local government | local authority"
            "| kommun | kommunen | kommunalt bolag"
        ),
        "county": (
            "fylkeskommune | fylkeskommunal | fylke | county | county council | county municipality"
            "| fylkeskommunal virksomhet | amt"
        ),
        "region": ("region | regional | regional government | regionalt | regionkommune | landsting| region (sverige)"),
        "health_trust": (
            "helseforetak | helseføretak | regionalt helseforetak | health trust"
            "| regional health authority | hospital trust | sykehus | sjukehus | sjukhus"
        ),
        "state_agency": (
            "statlig virksomhet | statlig virksmhet | statleg verksemd | statlig etat | etat"
            "| direktorat | state agency | government agency | central government"
            "| central-government | national government | ministry | departement | statlig"
            "| statlig myndighet | statlig förvaltningsmyndighet | myndighet | förvaltningsmyndighet"
            "| statslig myndighed | styrelse"
        ),
        "state_company": (
            "statlig selskap | statleg selskap | statlig foretak | statsforetak | statlig aksjeselskap"
            "| state company | state-owned company | state owned company | state enterprise"
            "| statligt bolag | statsägt bolag | statsejet selskab | state-owned enterprise"
            "| state-owned entreprise | state owned enterprise"
        ),
        "university": (
            "universitet | university | universitet og høgskole | høgskole | høyskole | høgskule"
            "| högskola | university college | academic-research | academic | academia"
            "| universitets- og høyskolesektoren"
        ),
        # Known to be outside the public-body kinds above, so "other" rather than unknown.
        "other": (
            "annet | anna | annat | andet | other | others | consortium | private sector"
            "| non-governmental | ngo | community led | european institution/agency"
            "| european institution | eu institution | international organisation"
        ),
    }
)

# Catch-all words: the source did not classify the owner, so the name may.
# ("Consortium" or "Private sector" are real classifications and are kept.)
_GENERIC_OTHER = frozenset(_key(v) for v in ("annet", "anna", "annat", "andet", "other", "others"))

# When a source says "other" or nothing, an unmistakable organisation name still tells
# us the kind. Only patterns with no realistic false positives are listed.
_OWNER_BY_NAME: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bfylkeskommune\b", re.I), "county"),
    (re.compile(r"(\bkommune|\bkommun|\bmunicipality)$|^(kommune|kommun|municipality of)\b", re.I), "municipality"),
    (re.compile(r"^region \w+$", re.I), "region"),
    (
        re.compile(
            r"\b(universitetet i|universitetet på|university of|universitet|universitetet|högskolan"
            r"|høgskolen|høyskolen|høgskulen)\b|\bNTNU\b",
            re.I,
        ),
        "university",
    ),
    (
        re.compile(
            r"^helse (nord|midt|vest|sør-øst|bergen|fonna|førde|stavanger|møre)\b|\b(HF|RHF)$"
            r"|sykehus|sjukehus|universitetssykehus",
            re.I,
        ),
        "health_trust",
    ),
)


def normalise_owner_type(value: object, organisation: str | None = None) -> str | None:
    """One of OWNER_TYPES; refines a missing or 'other' type from an obvious org name."""
    found = _lookup(_OWNER_TYPE, OWNER_TYPES, value)
    generic = found is None or (value is not None and _key(value) in _GENERIC_OTHER)
    if generic and organisation:
        name = " ".join(organisation.split())
        for pattern, kind in _OWNER_BY_NAME:
            if pattern.search(name):
                return kind
    return found


# --- sector -------------------------------------------------------------------------

_SECTOR = _table(
    {
        "health": (
            "helse | helse og omsorg | helse- og omsorg | health | healthcare | health care"
            "| hälsa | hälso- och sjukvård | sjukvård | sundhed | sundhedsvæsen | omsorg | care"
        ),
        "social_services": (
            "sosiale tjenester | sosialtjenester | social services | socialtjänst | sociala tjänster"
            "| socialområdet | velferd | welfare | barnevern | child welfare | social protection"
        ),
        "education": (
            "utdanning | utdaning | opplæring | skole | education | utbildning | skola"
            "| uddannelse | forskning og utdanning | høyere utdanning"
        ),
        "transport": "transport | samferdsel | transportation | mobility | trafikk | trafik | kollektivtrafikk",
        "energy": "energi | energy | kraft | energiforsyning",
        "archives_case_handling": (
            "arkiv | arkiver | archives | saksbehandling | case handling | case management"
            "| ärendehandläggning | sagsbehandling | dokumenthåndtering"
        ),
        "tax_benefits": "skatt | skatter | tax | taxation | trygd | ytelser | benefits | pensjon | pension",
        "building_maps": (
            "plan og bygg | byggesak | byggesaker | kart | kart og geodata | geodata | matrikkel"
            "| building | buildings | maps | mapping | housing | bolig | samhällsbyggnad | bygg"
        ),
        "environment": "klima og miljø | miljø | miljö | environment | climate | klima | natur",
        "hr": "hr | personal | personalforvaltning | human resources | rekruttering | recruitment",
        "language_technology": "språkteknologi | language technology | språkteknik | sprogteknologi",
        "culture": "kultur | culture | kulturarv | bibliotek | libraries | museum | museer",
        "police_justice": (
            "justis | justis og beredskap | politi | police | justice | rettsvesen | domstol"
            "| domstoler | courts | rättsväsende | polis | retsvæsen | kriminalomsorg"
        ),
        "agriculture_fisheries": (
            "landbruk | fiskeri | fiskerier | havbruk | landbruk og mat | jordbruk | agriculture"
            "| fisheries | fishing | landbrug | fiskeri og havbruk"
        ),
        "finance": "finans | finance | økonomi | ekonomi | økonomistyring",
        "other": "annet | anna | annat | andet | other",
        # Administrative levels, not domains: a known value that says nothing about sector.
        None: "statsforvaltning | kommuneforvaltning | offentlig forvaltning | public administration",
    }
)

# Norway's ministries own clearly bounded domains, so the ministry (public in Digdir's
# overview) is a fair sector signal. Broad ministries (trade, local government,
# foreign affairs) say nothing precise and are left out.
_SECTOR_BY_MINISTRY = _table(
    {
        "health": "helse- og omsorgsdepartementet",
        "transport": "samferdselsdepartementet",
        "education": "kunnskapsdepartementet",
        "culture": "kultur- og likestillingsdepartementet | kulturdepartementet",
        "police_justice": "justis- og beredskapsdepartementet",
        "environment": "klima- og miljødepartementet",
        "energy": "olje- og energidepartementet | energidepartementet",
        "agriculture_fisheries": "landbruks- og matdepartementet",
        "finance": "finansdepartementet",
    }
)

# EU COFOG (functions of government) as used by Public Sector Tech Watch. Level II is
# specific enough to map; a level II we list as None is known-but-unmappable and must
# not fall back to the broader level I ("Water supply" is not "building_maps").
_COFOG_II: dict[str, str | None] = _table(
    {
        "transport": "transport",
        "energy": "fuel and energy",
        "agriculture_fisheries": "agriculture, forestry, fishing and hunting",
        "police_justice": (
            "police services | law courts | prisons | public order and safety n.e.c| r&d public order and safety"
        ),
        "health": (
            "public health services | hospital services | outpatient services | health n.e.c"
            "| r&d health | medical products, appliances and equipment"
        ),
        "education": (
            "r&d education | education not definable by level | education n.e.c | tertiary education"
            "| secondary education | pre-primary and primary education"
            "| post-secondary non-tertiary education | subsidiary services to education"
        ),
        "environment": (
            "environmental protection n.e.c | r&d environmental protection | pollution abatement"
            "| protection of biodiversity and landscape | waste management | waste water management"
        ),
        "culture": (
            "cultural services | broadcasting and publishing services | recreational and sporting services"
            "| r&d recreation, culture and religion | recreation, culture and religion n.e.c"
            "| religious and other community services"
        ),
        "social_services": (
            "social protection n.e.c | family and children | old age | sickness and disability"
            "| social exclusion n.e.c | r&d social protection"
        ),
        "tax_benefits": "unemployment",
        "building_maps": "housing development | community development | r&d housing and community amenities",
        "other": (
            "military defence | civil defence | defence n.e.c | r&d defence | foreign economic aid"
            "| fire-protection services"
        ),
        None: (
            "general services | general public services n.e.c | r&d general public services"
            "| executive and legislative organs, financial and fiscal affairs, external affairs"
            "| general economic, commercial and labour affair | economic affairs n.e.c"
            "| r&d economic affairs | mining, manufacturing and construction | other industries"
            "| communication | water supply | street lighting | housing and community amenities n.e.c"
            "| transfers of a general character between different levels of government"
            "| basic research"
        ),
    }
)
_COFOG_I = _table(
    {
        "health": "health",
        "education": "education",
        "environment": "environmental protection",
        "culture": "recreation, culture and religion",
        "police_justice": "public order and safety",
        "social_services": "social protection",
        "other": "defence",
        "building_maps": "housing and community amenities",
        None: "general public services | economic affairs",
    }
)


def normalise_sector(value: object) -> str | None:
    """One of SECTORS from a sector name in English or a Scandinavian language."""
    return _lookup(_SECTOR, SECTORS, value)


def sector_from_ministry(ministry: object) -> str | None:
    """Sector implied by a Norwegian ministry's name, when its domain is narrow."""
    return _lookup(_SECTOR_BY_MINISTRY, (), ministry)


def sector_from_cofog(level_ii: object, level_i: object) -> str | None:
    """Sector from COFOG level II, falling back to level I only when II is unlisted."""
    if level_ii is not None and _key(level_ii):
        k = _key(level_ii)
        if k in _COFOG_II:
            return _COFOG_II[k]
    return _lookup(_COFOG_I, (), level_i)


# --- country ------------------------------------------------------------------------

_COUNTRY = _table(
    {
        # EU
        "AT": "austria | österreich | østerrike | østrig | itävalta",
        "BE": "belgium | belgië | belgique | belgien | belgia",
        "BG": "bulgaria | bulgarien | bălgarija | българия",
        "HR": "croatia | hrvatska | kroatia | kroatien",
        "CY": "cyprus | kypros | kypern | cypern | κύπρος",
        "CZ": "czechia | czech republic | česko | tsjekkia | tjeckien | tjekkiet | tšekki",
        "DK": "denmark | danmark | tanska",
        "EE": "estonia | eesti | estland | viro",
        "FI": "finland | suomi | finnland",
        "FR": "france | frankrike | frankrig | ranska",
        "DE": "germany | deutschland | tyskland | saksa",
        "GR": "greece | hellas | ελλάδα | grekland | grækenland | kreikka",
        "HU": "hungary | magyarország | ungarn | ungern | unkari",
        "IE": "ireland | éire | irland | irlanti",
        "IT": "italy | italia | italien",
        "LV": "latvia | latvija | lettland | letland",
        "LT": "lithuania | lietuva | litauen",
        "LU": "luxembourg | lëtzebuerg | luxemburg",
        "MT": "malta",
        "NL": "netherlands | the netherlands | nederland | holland | nederländerna | nederlandene | alankomaat",
        "PL": "poland | polska | polen | puola",
        "PT": "portugal | portugali",
        "RO": "romania | românia | rumänien | rumænien",
        "SK": "slovakia | slovensko | slovakien | slovakiet",
        "SI": "slovenia | slovenija | slovenien",
        "ES": "spain | españa | spania | spanien | espanja",
        "SE": "sweden | sverige | ruotsi | schweden",
        # EEA, UK, US
        "IS": "iceland | ísland | island | islanti",
        "LI": "liechtenstein",
        "NO": "norway | norge | noreg | norja | norwegen",
        "GB": (
            "united kingdom | uk | great britain | britain | storbritannia | storbritannien | england"
            "| scotland | wales | northern ireland | iso-britannia"
        ),
        "US": (
            "united states | united states of america | usa | u.s | u.s.a | usa (united states) | amerika | yhdysvallat"
        ),
        # Other European countries present in Public Sector Tech Watch
        "CH": "switzerland | schweiz | sveits | suisse | svizzera | sveitsi",
        "UA": "ukraine | ukraina | україна",
        "RS": "serbia | srbija | serbien",
        "AL": "albania | shqipëria | albanien",
        "MD": "moldova | republic of moldova | moldavia",
        "SM": "san marino",
        "MK": "north macedonia | nord-makedonia | nordmakedonien",
        "TR": "türkiye | turkey | tyrkia | turkiet | tyrkiet",
        "AD": "andorra",
        "GE": "georgia",
        "VA": "vatican city | vatican | holy see",
        "BA": "bosnia and herzegovina | bosnia-herzegovina | bosnia | bosnia-hercegovina",
        "ME": "montenegro",
        "XK": "kosovo",
        # Supranational: a real, known value, but not a country.
        None: "european union | eu | europe | europa | international | global",
    }
)
_ALPHA3 = {
    "AUT": "AT",
    "BEL": "BE",
    "BGR": "BG",
    "HRV": "HR",
    "CYP": "CY",
    "CZE": "CZ",
    "DNK": "DK",
    "EST": "EE",
    "FIN": "FI",
    "FRA": "FR",
    "DEU": "DE",
    "GRC": "GR",
    "HUN": "HU",
    "IRL": "IE",
    "ITA": "IT",
    "LVA": "LV",
    "LTU": "LT",
    "LUX": "LU",
    "MLT": "MT",
    "NLD": "NL",
    "POL": "PL",
    "PRT": "PT",
    "ROU": "RO",
    "SVK": "SK",
    "SVN": "SI",
    "ESP": "ES",
    "SWE": "SE",
    "ISL": "IS",
    "LIE": "LI",
    "NOR": "NO",
    "GBR": "GB",
    "USA": "US",
    "CHE": "CH",
}
_ALPHA2 = frozenset(c for c in _COUNTRY.values() if c) | {"EL"}


def country_code(value: object) -> str | None:
    """ISO 3166-1 alpha-2 code from a code or a country name, or None if unknown."""
    if value is None:
        return None
    k = _key(value)
    if not k:
        return None
    upper = k.upper()
    if upper in _ALPHA2:
        # Eurostat writes Greece as EL and the UK as UK; ISO says GR and GB.
        return {"EL": "GR"}.get(upper, upper)
    if upper in _ALPHA3:
        return _ALPHA3[upper]
    return _COUNTRY.get(k)
