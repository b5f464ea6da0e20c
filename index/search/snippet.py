"""Pick the part of a description that best explains why a project matched.

A dense model cannot say which words mattered, so the snippet is chosen by the
query's words instead: the sentence sharing most word stems with the query, or the
opening of the description when nothing is shared (a cross-language match). The
shared words are returned as character ranges, so any client can mark them safely
(no HTML in the API).
"""

from __future__ import annotations

import re
from functools import lru_cache

from erfa.index.search.text import STOPWORDS

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
STEM = 5  # crude prefix stemming: "byggesøknader" and "byggesøknad" share "byggs"


def _stem(word: str) -> str:
    return word.casefold()[:STEM]


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text) if _counts(w)}


def _counts(word: str) -> bool:
    """A word that can be marked and matched: longer than two letters, not a stopword."""
    return len(word) > 2 and word.casefold() not in STOPWORDS


# A sentence, its stems, and where each word that counts starts and ends, with its stem.
Sentence = tuple[str, frozenset[str], tuple[tuple[int, int, str], ...]]


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[Sentence, ...]:
    """A description's sentences with their stems and word places, worked out once per text:
    the same projects come back in many searches, and splitting, stemming and finding the
    words of every shown result was the largest cost of a search after the model, and of
    /similar after FAISS (bench/ENGINE.md)."""
    out = []
    for sentence in (s.strip() for s in _SENTENCE.split(text.strip())):
        if sentence:
            found = _WORD.finditer(sentence)
            words = tuple((m.start(), m.end(), _stem(m.group())) for m in found if _counts(m.group()))
            out.append((sentence, frozenset(stem for _, _, stem in words), words))
    return tuple(out)


def snippet(query: str, text: str | None, max_chars: int = 240) -> tuple[str, list[tuple[int, int]]]:
    """(snippet, marks): marks are [start, end) ranges of query words in the snippet."""
    if not text:
        return "", []
    return _snippet(_query_stems(query), text, max_chars)


@lru_cache(maxsize=1024)
def _query_stems(query: str) -> frozenset[str]:
    return frozenset(_stems(query))


def _snippet(q: frozenset[str], text: str, max_chars: int) -> tuple[str, list[tuple[int, int]]]:
    sentences = _sentences(text)
    if not sentences:
        return "", []
    best, stems, words = max(sentences, key=lambda s: len(q & s[1])) if q else sentences[0]
    if not q & stems:
        best, stems, words = sentences[0]
    if len(best) <= max_chars:
        return best, [(start, end) for start, end, stem in words if stem in q]
    cut = best[:max_chars].rsplit(" ", 1)[0].rstrip(",;:")
    marks = [(start, end) for start, end, stem in words if end <= len(cut) and stem in q]
    for start, end, _ in words:  # a word the cut went through (a 240-letter run without a space) is marked by its part
        if start < len(cut) < end and _counts(part := cut[start:]) and _stem(part) in q:
            marks.append((start, len(cut)))
    return cut + " …", marks
