"""Guess the language of a project text, including Bokmål vs Nynorsk.

Search quality depends on knowing which language a record is in (which analyser,
which translation hints), and users filter by it. langdetect is fast and offline,
but it has three blind spots that matter for a Nordic registry:

* it only knows "no", while Norwegian public bodies write both Bokmål and Nynorsk;
* on short texts it mixes up Norwegian, Danish and Swedish;
* it is randomised, and its default factory and seed are process-global.

We therefore keep a private, seeded factory and settle Scandinavian cases with
marker words: short function words that are frequent and differ between the written
standards. They are counted, not trusted blindly, and combined with langdetect's own
probabilities.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from langdetect import DetectorFactory
from langdetect.detector import Detector
from langdetect.detector_factory import PROFILES_DIRECTORY
from langdetect.lang_detect_exception import ErrorCode, LangDetectException

if TYPE_CHECKING:
    from erfa.ingest.record import Record

# Our own factory (below) is seeded on its own; seeding the global one as well keeps
# anyone else in the process who calls langdetect.detect() deterministic too.
DetectorFactory.seed = 0

# Profiles we load. Everything in the Nordic/European public sector, plus nothing
# exotic: with all 55 profiles, short Nordic texts are sometimes called Afrikaans,
# Somali or Indonesian, and each extra profile costs time on every n-gram.
_PROFILES: tuple[str, ...] = (
    "bg",
    "ca",
    "cs",
    "cy",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fi",
    "fr",
    "hr",
    "hu",
    "it",
    "lt",
    "lv",
    "mk",
    "nl",
    "no",
    "pl",
    "pt",
    "ro",
    "ru",
    "sk",
    "sl",
    "sq",
    "sv",
    "tr",
    "uk",
)

# Below this many letters langdetect's answer is close to a coin toss.
MIN_LETTERS = 12
# Longer texts add time but not accuracy: on the Digdir and PSTW data, 300 characters
# give the same answers as 600 (and as the whole text) in half the time.
MAX_CHARS = 300

_SCANDINAVIAN = ("no", "da", "sv")


def _word_list(text: str) -> frozenset[str]:
    """A word list written as wrapped text, one space between words, so it reads like the language it lists."""
    return frozenset(text.split())


# Words that occur in exactly one of the three written languages. Words shared by two
# of them ("ikke" is nb and da, "av" is no and sv) are useless here and left out.
_MARKERS: dict[str, frozenset[str]] = {
    "no": _word_list(
        """
        å ble bruke brukes etter mellom gjennom uten opp seg meg deg utvikle utvikling
        utviklet innbyggere hjelpe hjelp virksomhet mye noe noen vært prosjekt prosjektet
        helse sykehus pasienter saksbehandling gjøre slik blant oppgaver
        ikkje eg dei kva korleis kvifor frå berre òg eit mykje noko nokon nokre vere vore
        heile sjølv kvar desse fleire ho dykk ein tenester verksemd innbyggjarar løysing
        løysingar meir auke gjere særleg
        """
    ),
    "da": _word_list(
        """
        af mellem gennem uden mod op ud udvikle udvikling udviklet borgere borgerne
        hjælpe hjælp brug bruge bruges blev været meget hvad nogle noget nogen sundhed
        gøre blandt opgaver medarbejdere spørgsmål særligt sagsbehandling
        """
    ),
    "sv": _word_list(
        """
        inte och för att är till från också vara ett hur vad varför mycket genom
        utveckla utveckling utvecklat invånare invånarna detta denna dessa används
        användning bättre stöd kommun inom även olika ska hälsa sjukvård vården
        handläggning ärenden
        """
    ),
}
# Each marker must belong to exactly one language; anything listed twice by mistake
# is dropped rather than allowed to vote for both.
_SHARED = (_MARKERS["no"] & _MARKERS["da"]) | (_MARKERS["no"] & _MARKERS["sv"]) | (_MARKERS["da"] & _MARKERS["sv"])
_MARKERS = {lang: words - _SHARED for lang, words in _MARKERS.items()}

# Bokmål/Nynorsk pairs; words both standards allow ("gjennom", "mellom", "som") are
# not markers.
_NYNORSK = _word_list(
    """
    ikkje eg dei kva korleis kvifor frå berre òg eit ein mykje noko nokon nokre vere
    vore heile sjølv kvar desse fleire ho dykk me tenester verksemd innbyggjarar medan
    utan saman eigen eigne løysing løysingar meir auke gjere særleg difor tilsette
    vart sjå kommunar
    """
)
_BOKMAL = _word_list(
    """
    ikke jeg de hva hvordan hvorfor fra bare også et en mye noe noen være vært hele
    selv hver disse flere hun dere tjenester virksomhet innbyggere mens uten sammen
    egen egne løsning løsninger mer øke gjøre særlig derfor ansatte ble se kommuner
    """
)

# Endings and letter pairs that only one of the three spells; they settle short texts
# ("Kommunikasjonsplattform", "Sundhedsdata") that contain no marker word.
_SUFFIX_MARKERS: dict[str, re.Pattern[str]] = {
    "no": re.compile(r"sjon|øy"),
    "da": re.compile(r"hed(en|er)?$|heds|øj"),
    "sv": re.compile(r"[äö]"),
}
# Which national language a registry's country makes likely when the text itself
# cannot tell Norwegian, Danish and Swedish apart ("Datatilsynets sandkasse").
COUNTRY_LANGUAGE: dict[str, str] = {"NO": "no", "DK": "da", "SE": "sv"}

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)

# Weight of the marker-word vote against langdetect's probability when both exist.
_MARKER_WEIGHT = 0.6


class _Detector:
    """A private, lazily loaded langdetect factory, and langdetect's detection run in numpy.

    Loading profiles takes ~0.3 s, so it happens once, on first use, under a lock
    (the HTTP service may call us from several threads). A private instance means
    nobody else can change our seed or profile set by touching langdetect's globals.

    langdetect's own loop (`Detector._detect_block`) multiplies 30 probabilities one by
    one in Python for every sampled n-gram, seven trials over: 7-9 ms for a short need,
    the largest cost of a search besides the model (bench/ENGINE.md). `_trials` runs the
    same algorithm step for step (the same seeded draws, the same products, sums and
    convergence checks in the same order, so the same floating-point results) with one
    numpy operation per n-gram instead.
    """

    def __init__(self) -> None:
        self._factory: DetectorFactory | None = None
        self._rows: dict[str, int] = {}  # n-gram -> its row of ``_table``
        self._table = np.empty((0, 0))  # every profile n-gram's probability per language
        self._lock = threading.Lock()

    def _get(self) -> DetectorFactory:
        if self._factory is None:
            with self._lock:
                if self._factory is None:
                    factory = DetectorFactory()
                    factory.load_json_profile(_read_profiles(_PROFILES))
                    factory.set_seed(0)
                    grams = factory.word_lang_prob_map
                    self._rows = {g: i for i, g in enumerate(grams)}
                    self._table = np.array(list(grams.values()), dtype=np.float64)
                    self._factory = factory
        return self._factory

    def probabilities(self, text: str) -> dict[str, float]:
        """All languages' probabilities, not just those above langdetect's 0.1 cut."""
        factory = self._get()
        detector = factory.create()
        detector.set_max_text_length(MAX_CHARS)
        detector.append(text)
        detector.cleaning_text()
        ngrams = detector._extract_ngrams()  # internal but stable in the pinned langdetect 1.0.9
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        probs = _trials(self._table[[self._rows[g] for g in ngrams]], detector.seed, detector.n_trial)
        return {lang: p for lang, p in zip(factory.get_lang_list(), probs.tolist(), strict=True) if p > 0.0}


def _trials(grams: np.ndarray, seed: int | None, n_trial: int) -> np.ndarray:
    """`Detector._detect_block` over ``grams`` (the text's n-grams' rows, in text order).

    Each trial starts from a uniform prior with a jittered smoothing ``alpha``, multiplies
    in the probabilities of randomly drawn n-grams, and stops once one language passes
    CONV_THRESHOLD (checked after the first draw, then after every fifth); the trials are
    averaged. The draws are langdetect's: the same seeded `random.Random`, read in bulk
    (`_draws`) and then wound forward by exactly the words langdetect would have used, so
    the next trial's jitter is langdetect's too. Products run in langdetect's order, one
    draw at a time, and the normalising sum is Python's own over a list, as langdetect's
    is: the answer is langdetect's to the last bit
    (tests/test_ingest_language.py compares them)."""
    rng = random.Random()
    rng.seed(seed)
    n_lang = grams.shape[1]
    langprob = np.zeros(n_lang)
    for _ in range(n_trial):
        alpha = Detector.ALPHA_DEFAULT + rng.gauss(0.0, 1.0) * Detector.ALPHA_WIDTH
        state = rng.getstate()
        draws, words_used = _draws(rng, len(grams), Detector.ITERATION_LIMIT + 1)
        factors = alpha / Detector.BASE_FREQ + grams[draws]  # weight + lang_prob_map[i], per draw
        prob = np.full(n_lang, 1.0 / n_lang)
        used = len(draws)
        for i, row in enumerate(factors):
            prob *= row
            if i % 5 == 0:  # langdetect's convergence check: max p / sum, then p / sum, for every p
                values = prob.tolist()
                total = sum(values)
                prob /= total
                if max(values) / total > Detector.CONV_THRESHOLD or i >= Detector.ITERATION_LIMIT:
                    used = i + 1
                    break
        rng.setstate(state)
        rng.getrandbits(32 * int(words_used[used - 1]))  # langdetect's generator after this trial's draws
        langprob += prob / n_trial
    return langprob


def _draws(rng: random.Random, n: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The next ``count`` values of ``rng.choice(range(n))`` without advancing ``rng`` by
    them one call at a time, and how many 32-bit words of the generator each had used by
    then. `choice` keeps the top ``n.bit_length()`` bits of one word and draws again when
    they reach ``n``; `getrandbits(32 * m)` hands out the same m words, first word lowest."""
    bits = n.bit_length()
    values = np.empty(0, np.int64)
    positions = np.empty(0, np.int64)
    read = 0
    while len(values) < count:
        m = 2 * (count - len(values)) + 64
        words = np.frombuffer(rng.getrandbits(32 * m).to_bytes(4 * m, "little"), dtype="<u4")
        cand = (words >> np.uint32(32 - bits)).astype(np.int64)
        ok = np.flatnonzero(cand < n)
        values = np.concatenate([values, cand[ok]])
        positions = np.concatenate([positions, ok + read + 1])
        read += m
    return values[:count], positions[:count]


def _read_profiles(codes: Iterable[str]) -> list[str]:
    from pathlib import Path

    base = Path(PROFILES_DIRECTORY)
    return [(base / code).read_text(encoding="utf-8") for code in codes]


_DETECTOR = _Detector()


def prepare() -> None:
    """Load the language profiles now rather than on the first text (~0.16 s): the service
    does this while it starts, so the first need after a restart does not wait for it."""
    _DETECTOR._get()


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _candidates(words: list[str]) -> list[str]:
    """The Scandinavian languages the letters allow: Swedish writes ä/ö, never æ/ø."""
    letters = set("".join(words))
    if letters & {"æ", "ø"} and not letters & {"ä", "ö"}:
        return [lang for lang in _SCANDINAVIAN if lang != "sv"]
    return list(_SCANDINAVIAN)


def _marker_hits(words: list[str], languages: Iterable[str]) -> dict[str, int]:
    """Per language, the words that only it writes (marker words and endings)."""
    return {lang: sum(1 for w in words if w in _MARKERS[lang] or _SUFFIX_MARKERS[lang].search(w)) for lang in languages}


def _scandinavian(probs: dict[str, float], words: list[str], likely: str | None) -> str:
    """Pick no/da/sv from langdetect's probabilities, marker words and the letters used.

    `likely` (from the registry's country) only decides when the text has no marker
    at all: a title like "Maskinlæring - ECMO data" is equally good Danish and
    Norwegian, and in a Norwegian registry it is Norwegian.
    """
    candidates = _candidates(words)
    hits = _marker_hits(words, candidates)
    total_hits = sum(hits.values())
    if total_hits == 0 and likely in candidates:
        return likely
    total_p = sum(probs.get(lang, 0.0) for lang in candidates) or 1.0

    def score(lang: str) -> float:
        p = probs.get(lang, 0.0) / total_p
        if total_hits == 0:
            return p
        return (1 - _MARKER_WEIGHT) * p + _MARKER_WEIGHT * hits[lang] / total_hits

    return max(candidates, key=score)


def norwegian_variant(text: str) -> str:
    """'nn' when Nynorsk marker words outnumber Bokmål ones, else 'nb'.

    Bokmål is the default because roughly nine in ten Norwegian public texts use it,
    so a text with no markers either way is most likely Bokmål.
    """
    words = _words(text)
    nn = sum(1 for w in words if w in _NYNORSK)
    nb = sum(1 for w in words if w in _BOKMAL)
    return "nn" if nn > nb else "nb"


def likely_nordic(text: str) -> str | None:
    """A guess at 'no', 'da' or 'sv' from letters and marker words alone; None when the need
    reads as English (a common English word and no Nordic sign). Microseconds, where
    `detect_language` takes one or two milliseconds: the search sends a need to Apertium on
    this guess while the detector runs (index/search/translate.py, `Translator.ahead`), and
    the guess only ever decides what is asked early, never the need's language. On the 537
    needs of erfa's evaluation sets and the bench it picks the detector's Apertium pair for
    466, another pair for 39, and sends 20 that need none (issue 22)."""
    words = _words(text)
    letters = set("".join(words))
    hits = _marker_hits(words, _SCANDINAVIAN)
    if "sv" not in _candidates(words):
        # Danish writes "at" before a verb and "ej" where Norwegian writes "å" and "ei" (vej/vei), and
        # "æ" far more often (ældre, læse, tælle): a guess, so these tip the balance and nothing else
        hits["da"] += sum(1 for w in words if w == "at" or "ej" in w or "æ" in w)
        hits["no"] += sum(1 for w in words if w == "å" or "ei" in w)
        return "da" if hits["da"] > hits["no"] else "no"
    if "å" in letters and not any(hits.values()):  # Swedish plurals and verbs end in -or/-ar, Bokmål's in -er
        hits["sv"] += sum(1 for w in words if w.endswith(("or", "ar")))
        hits["no"] += sum(1 for w in words if w.endswith("er") or w == "å")
    best = max(_SCANDINAVIAN, key=lambda lang: hits[lang])
    if hits[best]:
        return best
    return None if set(words) & _ENGLISH or not words else "no"  # no sign either way: the likeliest of the five


# English function words: a need with one of them and no Nordic sign is not sent ahead to Apertium
_ENGLISH = _word_list("the and of to for with from on by is are an a how can our we what which who that this")


def detect_language(text: str, country: str | None = None) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text.

    Deterministic: the same text always gives the same answer, so re-ingesting a file
    does not flip records between languages (which would count as an update).
    `country` (ISO alpha-2 of the registry) only breaks Norwegian/Danish/Swedish ties.
    """
    return _detect(text, COUNTRY_LANGUAGE.get((country or "").upper()))


@lru_cache(maxsize=16384)
def _detect(text: str, likely: str | None) -> str | None:
    # Cached: the same registry is often read twice in one process (CSV and XLSX of
    # the same export, re-ingest after an edit), and the answer cannot change.
    if not text:
        return None
    text = text[: MAX_CHARS * 2]
    words = _words(text)
    if sum(len(w) for w in words) < MIN_LETTERS:
        return None
    try:
        probs = _DETECTOR.probabilities(text)
    except LangDetectException:  # no usable n-grams (digits, symbols only)
        return None
    if not probs:
        return None
    top = max(probs, key=lambda lang: probs[lang])
    if top in _SCANDINAVIAN:
        top = _scandinavian(probs, words, likely)
    if top == "no":
        return norwegian_variant(text)
    return top


def with_detected_language(record: Record) -> Record:
    """The record with its language filled in from its text, unless the source gave one.

    Every way into the registry (file ingest, the admin API, an approved submission)
    goes through here, so a project is tagged the same whichever door it came in by.
    """
    if record.language is not None:
        return record
    text = "\n".join(part for part in (record.title, record.description, record.purpose) if part)
    language = detect_language(text, country=record.country)
    return record.model_copy(update={"language": language}) if language else record
