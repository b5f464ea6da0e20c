"""One key per public body, however its name is spelled.

Registries write the same body many ways: "Helse Bergen HF" / "Helse Bergen",
"Stockholms stad" / "Stockholm stad", "Arbeids- og velferdsetaten (NAV)" / "NAV".
Counting them apart would split an organisation's experience and hide it from the
ranking, so names are folded to a key and near-identical keys are merged.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Legal-form suffixes that do not change which body is meant.
_SUFFIXES = re.compile(r"\s+(hf|rhf|iks|as|asa|ab|a/s|sf|kf|fkf|ikt)$")
_PAREN = re.compile(r"\(([^)]*)\)")


def org_key(name: str) -> str:
    """Case, spacing, punctuation and legal form folded away; a bracketed acronym wins.

    "Arbeids- og velferdsetaten (NAV)" -> "nav", because people search and write the
    acronym; the long form usually appears only beside it.
    """
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    acronym = _PAREN.search(text)
    if acronym and re.fullmatch(r"[\w&-]{2,10}", acronym.group(1).strip()) and acronym.group(1).strip().isalpha():
        return acronym.group(1).strip()
    text = _PAREN.sub(" ", text)
    text = re.sub(r"[^\w\s/&-]", " ", text)
    text = " ".join(text.replace("-", " ").split())
    prev = None
    while prev != text:
        prev, text = text, _SUFFIXES.sub("", text)
    return text


def same_body(a: str, b: str) -> bool:
    """One edit apart and long enough that one edit cannot make a different body."""
    if a == b:
        return True
    if min(len(a), len(b)) < 10 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)):] == b[i + 1:]


def merge_keys(names: Iterable[str]) -> dict[str, str]:
    """Map every name to a canonical key; keys one letter apart ("stockholms stad",
    "stockholm stad") become one, the more frequent spelling first."""
    counts: dict[str, int] = {}
    for n in names:
        k = org_key(n)
        counts[k] = counts.get(k, 0) + 1
    canonical: dict[str, str] = {}
    for k in sorted(counts, key=lambda x: (-counts[x], x)):
        target = next((c for c in dict.fromkeys(canonical.values()) if same_body(k, c)), k)
        canonical[k] = target
    return canonical
