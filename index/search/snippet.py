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
    return {_stem(w) for w in _WORD.findall(text) if len(w) > 2 and w.casefold() not in STOPWORDS}


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """A description's sentences with their stems, worked out once per text: the same
    projects come back in many searches, and splitting and stemming every sentence of every
    shown result was the largest cost of a search after the model (bench/ENGINE.md)."""
    return tuple((s, frozenset(_stems(s))) for s in (s.strip() for s in _SENTENCE.split(text.strip())) if s)


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
    best, stems = max(sentences, key=lambda s: len(q & s[1])) if q else sentences[0]
    if not q & stems:
        best = sentences[0][0]
    if len(best) > max_chars:
        best = best[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    marks = [
        (m.start(), m.end())
        for m in _WORD.finditer(best)
        if len(m.group()) > 2 and m.group().casefold() not in STOPWORDS and _stem(m.group()) in q
    ]
    return best, marks
