"""Word-level text handling shared by the keyword index, passages and snippets."""

from __future__ import annotations

import re
from functools import cache

import Stemmer
from bm25s import stopwords as _sw

WORD = re.compile(r"\w+", re.UNICODE)
# One stopword set for all languages: a query in one language is matched against
# documents in the others, so "for", "och", "og" must vanish on both sides alike.
STOPWORDS = frozenset(
    w.casefold()
    for lst in (_sw.STOPWORDS_EN, _sw.STOPWORDS_NORWEGIAN, _sw.STOPWORDS_SWEDISH, _sw.STOPWORDS_DANISH)
    for w in lst
)

# Snowball stemmers for the languages erfa's sources are written in.
STEMMER_OF = {
    "nb": "norwegian",
    "nn": "norwegian",
    "no": "norwegian",
    "sv": "swedish",
    "da": "danish",
    "en": "english",
    "fi": "finnish",
    "de": "german",
    "nl": "dutch",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
}
# A query is stemmed the way each of these would stem it: a Swedish need shares many
# words with Norwegian and Danish projects ("kommun"/"kommune"), and names are kept.
QUERY_LANGUAGES = ("nb", "sv", "da", "en")


# Words every project in an AI registry shares: "AI", "KI", "kunstig intelligens",
# "artificiell intelligens", "maskinlæring", "machine learning", ... They carry no
# information about *which* project a need is about, yet in a short need they pull the
# query vector toward every record that says "AI" loudest (title-only records such as
# "X ved hjelp av AI"). Taken out of the need before it is embedded or matched; in a
# compound only the prefix goes ("KI-verktøy" -> "verktøy").
GENERIC_AI = re.compile(
    r"\b(?:artificiel+[ta]?\s+intelligen[sc]e?|kunstig\s+intelligen[st]e?|kunstige\s+intelligensen|"
    r"maskin(?:læ|lä|inlä)r(?:ing|ning)(?:en)?|machine[\s-]+learning|deep[\s-]+learning|"
    r"a\.i\.|k\.i\.|ai|ki)(?:-(?=\w)|\b|(?<=\.))",
    re.IGNORECASE,
)


def informative(query: str) -> str:
    """The need without the registry-generic AI words; the need itself when nothing else is left."""
    rest = " ".join(GENERIC_AI.sub(" ", query).split())
    return rest if WORD.search(rest) else query


@cache
def _stemmer(algorithm: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(algorithm)


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.casefold()) if w not in STOPWORDS and (not w.isdigit() or len(w) == 4)]


def stems(text: str, language: str | None) -> list[str]:
    """Stems in the text's own language; unknown languages fall back to plain words."""
    ws = words(text)
    algo = STEMMER_OF.get(language or "")
    return _stemmer(algo).stemWords(ws) if algo else ws


def _query_stemmers(language: str | None) -> list[Stemmer.Stemmer]:
    """The stemmers a need's words go through: its own language's, then the Nordic and English ones."""
    algos = dict.fromkeys(STEMMER_OF[lang] for lang in (language or "", *QUERY_LANGUAGES) if lang in STEMMER_OF)
    return [_stemmer(a) for a in algos]


def query_stems(text: str, language: str | None) -> list[str]:
    """The query's words stemmed every way a Nordic or English document may have been."""
    ws = words(text)
    out: list[str] = list(ws)
    for stemmer in _query_stemmers(language):
        out.extend(stemmer.stemWords(ws))
    return list(dict.fromkeys(out))


def word_variants(text: str, language: str | None) -> list[set[str]]:
    """Per word of the need, the word itself and its stems every way `query_stems` stems it."""
    stemmers = _query_stemmers(language)
    return [{w, *(s.stemWord(w) for s in stemmers)} for w in words(text)]


def split_passages(title: str, body: str, max_words: int = 180) -> list[str]:
    """Split a long description into passages the model can read whole.

    multilingual-e5-small reads 512 tokens; Nordic words average about 1.6 XLM-R
    tokens, so 180 words plus the title stays well inside the window. Passages end
    at sentence boundaries and each repeats the title, so a passage alone still says
    what project it belongs to. Linear in the text's length: each sentence is split
    into words once, however long it is (a 9 MB "sentence" once never finished).
    """
    if len(body.split()) <= max_words:
        return [f"{title}\n{body}" if body else title]
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in _SENTENCE_END.split(body.strip()):
        words_ = sentence.split()
        n = len(words_)
        if current and count + n > max_words:
            passages.append(" ".join(current))
            current, count = [], 0
        if n > max_words:  # one enormous "sentence" (lists, tables): cut by words
            start = 0
            while n - start > max_words:
                passages.append(" ".join(words_[start : start + max_words]))
                start += max_words
            sentence, n = " ".join(words_[start:]), n - start
        current.append(sentence)
        count += n
    if current:
        passages.append(" ".join(current))
    return [f"{title}\n{p}" for p in passages]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
