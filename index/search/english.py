"""An English wording of a Nordic need, proposed from a small glossary, never passed off as a translation.

Most projects in the European registries (PSTW, IPS-X, AI Watch) are described in English. erfa
searches a Nordic need in a language-neutral space and also reads it as Bokmål (Apertium), but it has
no machine translation into English, and a need that finds no close match over an English-speaking
corpus may do better written as those registries write. So the results page offers, when nothing is
close (issue 21): the need in a text field to rewrite in English, and, when this glossary knows most of
its words, a suggested English wording to search with one click, labelled as a suggestion.

The glossary is common public-sector AI vocabulary in Bokmål, Nynorsk, Swedish and Danish, written for
erfa (not taken from the registries or the evaluation needs). A word matches an entry when it is the
entry's stem plus at most a usual inflection ending ("byggesøknad" matches "byggesøknader"), or a
compound that ends in it ("innbyggerchatbot"). Function words are dropped; a word the glossary does not
know stays as written (a name such as "Altinn" or an English loan). What this finds that the need as
written missed is measured in models.md ("An English wording of a Nordic need").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_COVERED = 0.5  # share of the need's content words the glossary must know before a wording is proposed
MIN_KNOWN = 2  # ... and at least this many of them

# Inflection endings of Scandinavian nouns, verbs and adjectives that may follow a stem (longest first).
_ENDINGS = tuple(
    sorted(
        {"", "e", "en", "er", "ene", "et", "a", "ar", "ane", "arna", "erna", "or", "orna", "na", "n", "r", "t", "s"}
        | {"ing", "ingen", "inger", "ingar", "ingane", "ingerne", "ning", "ningen", "ninger", "ningar", "ende"},
        key=len,
        reverse=True,
    )
)

# Function words and words every need has ("we want to use AI for"): they carry nothing to search with.
STOPWORDS = frozenset(
    [
        "og",
        "och",
        "samt",
        "eller",
        "for",
        "för",
        "fore",
        "til",
        "till",
        "i",
        "på",
        "pa",
        "av",
        "med",
        "om",
        "fra",
        "från",
        "frå",
        "ved",
        "vid",
        "hos",
        "mot",
        "mod",
        "som",
        "der",
        "det",
        "den",
        "de",
        "dei",
        "ein",
        "en",
        "ett",
        "et",
        "ei",
        "å",
        "att",
        "at",
        "er",
        "är",
        "ar",
        "var",
        "vi",
        "dere",
        "ni",
        "de",
        "dykk",
        "vår",
        "vårt",
        "våre",
        "vores",
        "vores",
        "vil",
        "ville",
        "vill",
        "kan",
        "skal",
        "ska",
        "skall",
        "må",
        "maa",
        "bør",
        "ønsker",
        "ønskjer",
        "önskar",
        "ønsker",
        "gerne",
        "gjerne",
        "bruke",
        "bruka",
        "använda",
        "anvende",
        "bruge",
        "nytte",
        "nytta",
        "hjelp",
        "hjelpe",
        "hjelpa",
        "hjälp",
        "hjälpa",
        "hjælp",
        "hjælpe",
        "ki",
        "ai",
        "kunstig",
        "kunstlig",
        "artificiell",
        "intelligens",
        "intelligent",
        "intelligence",
        "slik",
        "slik",
        "sånn",
        "sådan",
        "alle",
        "all",
        "allt",
        "alt",
        "mange",
        "mye",
        "mykje",
        "mycket",
        "meget",
        "mer",
        "meir",
        "mere",
        "flere",
        "fleire",
        "fler",
        "nye",
        "ny",
        "nya",
        "nytt",
        "våre",
        "vårt",
        "sin",
        "sitt",
        "sine",
        "seg",
        "sig",
        "oss",
        "os",
        "hvordan",
        "korleis",
        "hur",
        "hvor",
        "kor",
        "var",
        "når",
        "när",
        "da",
        "då",
        "inom",
        "innen",
        "innan",
        "inden",
        "blant",
        "bland",
        "mellom",
        "mellan",
        "gjennom",
        "genom",
        "igennem",
        "under",
        "over",
        "efter",
        "etter",
        "finn",
        "finne",
        "finna",
        "hitta",
        "finde",
        "få",
        "faa",
        "gi",
        "ge",
        "give",
        "lage",
        "lag",
        "göra",
        "gjøre",
        "gjere",
        "lave",
    ]
)

# Stem -> English. Keys are lower-case stems; several languages may share one key.
GLOSSARY: dict[str, str] = {
    # services and channels
    "chatbot": "chatbot",
    "chattbot": "chatbot",
    "chatrobot": "chatbot",
    "prat": "chat",
    "virtuell assistent": "virtual assistant",
    "assistent": "assistant",
    "innbygg": "citizens",
    "innbyggjar": "citizens",
    "invånar": "citizens",
    "medborgar": "citizens",
    "borger": "citizens",
    "brukar": "users",
    "bruker": "users",
    "henvendels": "enquiries",
    "førespurnad": "enquiries",
    "förfrågan": "enquiries",
    "fråg": "questions",
    "spørsmål": "questions",
    "spurs": "questions",
    "spørgsmål": "questions",
    "svar": "answers",
    "kundeservic": "customer service",
    "kundtjänst": "customer service",
    "sentralbord": "switchboard",
    "telefon": "phone",
    "e-post": "email",
    "epost": "email",
    # casework and administration
    "saksbehandl": "case handling",
    "sakshandsam": "case handling",
    "handlägg": "case handling",
    "sagsbehandl": "case handling",
    "søknad": "application",
    "søkna": "application",
    "ansøgning": "application",
    "ansökan": "application",
    "ansökn": "application",
    "vedtak": "decision",
    "beslut": "decision",
    "afgørels": "decision",
    "journalfør": "record keeping",
    "arkiv": "archive",
    "dokument": "documents",
    "klassifiser": "classification",
    "klassificer": "classification",
    "sortering": "sorting",
    "automatiser": "automation",
    "automatisk": "automatic",
    "automatisering": "automation",
    "skjema": "forms",
    "blankett": "forms",
    "faktur": "invoices",
    "regnskap": "accounting",
    "redovisning": "accounting",
    "regnskab": "accounting",
    "innkjøp": "procurement",
    "upphandl": "procurement",
    "indkøb": "procurement",
    "anskaff": "procurement",
    "kontrakt": "contracts",
    "avtal": "contracts",
    "tilsyn": "inspection",
    "inspektion": "inspection",
    "kontroll": "control",
    "kontrol": "control",
    "svindel": "fraud",
    "bedrägeri": "fraud",
    "svik": "fraud",
    "misbruk": "fraud",
    "risiko": "risk",
    "risk": "risk",
    # building and land
    "byggesak": "building permit",
    "byggjesak": "building permit",
    "byggesøknad": "building permit application",
    "byggjesøknad": "building permit application",
    "bygglov": "building permit",
    "byggetilladels": "building permit",
    "byggsak": "building permit",
    "reguleringsplan": "zoning plan",
    "detaljplan": "detailed plan",
    "lokalplan": "local plan",
    "plan": "planning",
    "planlegg": "planning",
    "planlegging": "planning",
    "planering": "planning",
    "planlægning": "planning",
    "odeklarer": "undeclared",
    "uregistrer": "unregistered",
    "ulovlig": "illegal",
    "eiendom": "property",
    "eigedom": "property",
    "fastighet": "property",
    "ejendom": "property",
    "kart": "maps",
    "karta": "maps",
    "flyfoto": "aerial images",
    "flygbild": "aerial images",
    "luftfoto": "aerial images",
    "satellitt": "satellite",
    "satellit": "satellite",
    "basseng": "swimming pools",
    "pool": "swimming pools",
    "tilbygg": "extensions",
    "tillbyggnad": "extensions",
    # health and care
    "helse": "health",
    "hälsa": "health",
    "sundhed": "health",
    "sjukehus": "hospital",
    "sykehus": "hospital",
    "sjukhus": "hospital",
    "hospital": "hospital",
    "pasient": "patients",
    "patient": "patients",
    "omsorg": "care",
    "pleie": "care",
    "pleje": "care",
    "hjemmetjenest": "home care",
    "heimeteneste": "home care",
    "hemtjänst": "home care",
    "hjemmepleje": "home care",
    "eldre": "elderly",
    "äldre": "elderly",
    "ældre": "elderly",
    "sykehjem": "nursing homes",
    "sjukeheim": "nursing homes",
    "äldreboend": "nursing homes",
    "plejehjem": "nursing homes",
    "journal": "medical records",
    "diagnos": "diagnosis",
    "røntg": "x-ray",
    "röntg": "x-ray",
    "bildediagnostikk": "medical imaging",
    "medisin": "medication",
    "läkemedel": "medication",
    "medicin": "medication",
    "legemiddel": "medication",
    "lækemiddel": "medication",
    "tannhels": "dental care",
    "tandvård": "dental care",
    "psykisk": "mental health",
    "rus": "substance abuse",
    # social services, work, welfare
    "sosial": "social services",
    "social": "social services",
    "barnevern": "child welfare",
    "barnevernet": "child welfare",
    "barnavård": "child welfare",
    "børneværn": "child welfare",
    "socialtjänst": "social services",
    "nav": "welfare",
    "trygd": "social security",
    "ytels": "benefits",
    "ytings": "benefits",
    "stønad": "benefits",
    "bidrag": "benefits",
    "ydels": "benefits",
    "försörjningsstöd": "social assistance",
    "sykepeng": "sick pay",
    "sjukpeng": "sick pay",
    "sygedagpeng": "sick pay",
    "arbeidsledig": "unemployed",
    "arbetslös": "unemployed",
    "ledig": "unemployed",
    "jobb": "jobs",
    "arbeid": "employment",
    "arbete": "employment",
    "beskæftigels": "employment",
    # education
    "skole": "school",
    "skule": "school",
    "skola": "school",
    "elev": "pupils",
    "student": "students",
    "lærer": "teachers",
    "lärar": "teachers",
    "undervisning": "teaching",
    "barnehag": "kindergarten",
    "förskol": "preschool",
    "børnehav": "kindergarten",
    "skoleskyss": "school transport",
    "skuleskyss": "school transport",
    "skolskjuts": "school transport",
    "skolekørsel": "school transport",
    "frafall": "dropout",
    "avhopp": "dropout",
    "frafald": "dropout",
    # transport, roads, environment
    "vei": "roads",
    "veg": "roads",
    "väg": "roads",
    "vej": "roads",
    "trafikk": "traffic",
    "trafik": "traffic",
    "kollektivtrafikk": "public transport",
    "kollektivtrafik": "public transport",
    "buss": "buses",
    "bus": "buses",
    "parkering": "parking",
    "brøyting": "snow clearing",
    "snørydding": "snow clearing",
    "snöröjning": "snow clearing",
    "snerydning": "snow clearing",
    "vedlikehold": "maintenance",
    "underhåll": "maintenance",
    "vedligehold": "maintenance",
    "avfall": "waste",
    "affald": "waste",
    "renovasjon": "waste collection",
    "sophämtning": "waste collection",
    "vann": "water",
    "vatn": "water",
    "vatten": "water",
    "vand": "water",
    "avløp": "sewage",
    "avlopp": "sewage",
    "spildevand": "sewage",
    "lekkasj": "leaks",
    "läck": "leaks",
    "lækag": "leaks",
    "miljø": "environment",
    "miljö": "environment",
    "klima": "climate",
    "energi": "energy",
    "strøm": "electricity",
    "el": "electricity",
    "skog": "forests",
    "skov": "forests",
    "landbruk": "agriculture",
    "jordbruk": "agriculture",
    "landbrug": "agriculture",
    "flom": "flooding",
    "översvämning": "flooding",
    "oversvømmels": "flooding",
    "vær": "weather",
    "väder": "weather",
    "vejr": "weather",
    "prognos": "forecasting",
    "prognose": "forecasting",
    "prediksjon": "prediction",
    "prediktion": "prediction",
    "forutsi": "predict",
    "förutsäg": "predict",
    # police, justice, safety
    "politi": "police",
    "polis": "police",
    "domstol": "courts",
    "beredskap": "emergency preparedness",
    "nødsamtal": "emergency calls",
    "nödsamtal": "emergency calls",
    "nødopkald": "emergency calls",
    "brann": "fire",
    "brand": "fire",
    "kriminalitet": "crime",
    "brottslighet": "crime",
    # language and documents
    "transkriber": "transcription",
    "transkribering": "transcription",
    "tale": "speech",
    "tal": "speech",
    "taleattenkjenning": "speech recognition",
    "talegjenkjenning": "speech recognition",
    "taligenkänning": "speech recognition",
    "talegenkendels": "speech recognition",
    "diktering": "dictation",
    "møte": "meetings",
    "möte": "meetings",
    "møde": "meetings",
    "sammanträd": "meetings",
    "protokoll": "minutes",
    "referat": "minutes",
    "oversett": "translation",
    "omsett": "translation",
    "översätt": "translation",
    "oversæt": "translation",
    "klarspråk": "plain language",
    "klarsprog": "plain language",
    "sammendrag": "summaries",
    "samandrag": "summaries",
    "sammanfatt": "summaries",
    "resumé": "summaries",
    "tekst": "text",
    "text": "text",
    "språk": "language",
    "sprog": "language",
    "anonymiser": "anonymisation",
    "anonymisér": "anonymisation",
    "avidentifier": "anonymisation",
    "personopplysning": "personal data",
    "personuppgift": "personal data",
    "personoplysning": "personal data",
    "persondata": "personal data",
    "søk": "search",
    "sök": "search",
    "søg": "search",
    "bilde": "images",
    "bilete": "images",
    "bild": "images",
    "billed": "images",
    "video": "video",
    "kamera": "cameras",
    "analys": "analysis",
    "analyse": "analysis",
    "data": "data",
    "statistikk": "statistics",
    "statistik": "statistics",
    "kommun": "municipality",
    "kommune": "municipality",
    "region": "region",
    "fylk": "county",
    "stat": "government",
    "myndighet": "authority",
    "myndighed": "authority",
    "etat": "agency",
    "styrels": "agency",
    "verk": "agency",
    "ansatt": "employees",
    "tilsett": "employees",
    "anställd": "employees",
    "medarbejder": "employees",
    "rekrutter": "recruitment",
    "rekryter": "recruitment",
    "skatt": "tax",
    "skat": "tax",
    "toll": "customs",
    "tull": "customs",
    "told": "customs",
    # what AI is asked to do: the common verbs (and their nouns) of the registries' project titles
    "oppdag": "detect",
    "upptäck": "detect",
    "opdag": "detect",
    "avdekk": "detect",
    "forutseie": "predict",
    "forudsig": "predict",
    "vurder": "assess",
    "bedöm": "assess",
    "vurdér": "assess",
    "fordel": "allocation",
    "fördel": "allocation",
    "tildel": "allocation",
    "prioriter": "prioritisation",
    "overvåk": "monitoring",
    "övervak": "monitoring",
    "optimer": "optimisation",
    "optimal": "optimisation",
    "identifiser": "identification",
    "identifier": "identification",
    "gjenkjenn": "recognition",
    "kjenn": "recognition",
    "känn": "recognition",
    "genkend": "recognition",
    "kod": "coding",
    "koder": "coding",
    "rut": "routes",
    "match": "matching",
    "anbefal": "recommendation",
    "rekommender": "recommendation",
    "tilråd": "recommendation",
    "sammenlign": "comparison",
    "jämför": "comparison",
    "samanlikn": "comparison",
    "rapport": "reports",
    "behov": "needs",
    "tjenest": "services",
    "tjenester": "services",
    "teneste": "services",
    "tjänst": "services",
    "tjeneste": "services",
    "offentlig": "public sector",
    "offentleg": "public sector",
    "hantering": "management",
    "handtering": "management",
    "håndtering": "management",
    "behandling": "processing",
}

_WORD = re.compile(r"[\w-]+", re.UNICODE)
# multi-word entries first, then single stems from the longest down (the most specific wins)
_PHRASES = sorted((k for k in GLOSSARY if " " in k), key=len, reverse=True)
_STEMS = sorted((k for k in GLOSSARY if " " not in k), key=len, reverse=True)


@dataclass(frozen=True)
class Wording:
    """A proposed English wording and how much of the need the glossary knew."""

    text: str
    known: int  # content words of the need the glossary knew
    words: int  # content words of the need (function words left out)

    @property
    def covered(self) -> float:
        return self.known / self.words if self.words else 0.0


def _inflected(word: str) -> str | None:
    """The English of a word that is one stem plus an inflection ending."""
    for stem in _STEMS:
        if word.startswith(stem) and word[len(stem) :] in _ENDINGS:
            return GLOSSARY[stem]
    return None


def english_term(word: str) -> str | None:
    """The English of one lower-case word: a stem plus an ending, else a compound read the way the
    Scandinavian languages build them, modifier (+ a linking s or e) + head: both parts when the
    glossary knows both ("avfall|s|hantering" -> "waste management"), else the head, else the modifier."""
    whole = _inflected(word)
    if whole is not None:
        return whole
    head_only = modifier_only = None
    for cut in range(3, len(word) - 2):
        modifier, rest = word[:cut], word[cut:]
        first = _inflected(modifier)  # "innbygger|chatbot": a modifier may carry an ending too
        for link in ("", "s", "e"):
            if not rest.startswith(link) or len(rest) - len(link) < 3:
                continue
            head = _inflected(rest[len(link) :])
            if head is None:
                continue
            if first is not None:
                return f"{first} {head}"
            head_only = head_only or head
        if first is not None and len(modifier) >= 4:
            modifier_only = first
    return head_only or modifier_only


def english_wording(need: str) -> Wording:
    """The need's content words in English where the glossary knows them, in the need's order, each
    English term once; words it does not know stay as written. Always returns a Wording: whether to
    propose it is `proposable`'s call."""
    text = need.casefold()
    out: list[str] = []
    known = words = 0
    for phrase in _PHRASES:
        if phrase in text:
            out.append(GLOSSARY[phrase])
            known += len(phrase.split())
            words += len(phrase.split())
            text = text.replace(phrase, " ")
    for word in _WORD.findall(text):
        if word in STOPWORDS or word.isdigit():
            continue
        words += 1
        term = english_term(word)
        if term is not None:
            known += 1
            out.append(term)
        else:
            out.append(word)
    return Wording(" ".join(dict.fromkeys(out)), known, words)


def proposable(wording: Wording) -> bool:
    """Propose a wording only when the glossary knew most of the need: a half-translated need would
    mislead more than it helps."""
    return wording.known >= MIN_KNOWN and wording.covered >= MIN_COVERED and bool(wording.text)
