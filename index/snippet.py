"""Pick the part of a description that best explains why a project matched.

A dense model cannot say which words mattered, so the snippet is chosen by the
query's words instead: the sentence sharing most word stems with the query, or the
opening of the description when nothing is shared (a cross-language match).
"""
from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
STEM = 5  # crude prefix stemming: "byggesøknader" and "byggesøknad" share "bygge"


def _stems(text: str) -> set[str]:
    return {w[:STEM] for w in _WORD.findall(text.lower()) if len(w) > 2}


def snippet(query: str, text: str | None, max_chars: int = 240) -> str:
    if not text:
        return ""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    q = _stems(query)
    best = max(sentences, key=lambda s: len(q & _stems(s))) if q else sentences[0]
    if not q & _stems(best):
        best = sentences[0]
    if len(best) <= max_chars:
        return best
    cut = best[:max_chars].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"
