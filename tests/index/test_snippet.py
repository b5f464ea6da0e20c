"""Snippets (index/search/snippet.py): the sentence that shares most words with the need, its
words marked. The word places are worked out once per text; the marks must be exactly those
a scan of the shown text finds, cut sentences included."""

from __future__ import annotations

import random
import re

from erfa.index.search.snippet import STOPWORDS, snippet

WORD = re.compile(r"\w+")


def scanned_marks(query: str, shown: str) -> list[tuple[int, int]]:
    """The marks by a plain scan of the shown text: every word that counts whose stem the need has."""
    stems = {w.casefold()[:5] for w in WORD.findall(query) if len(w) > 2 and w.casefold() not in STOPWORDS}
    return [
        (m.start(), m.end())
        for m in WORD.finditer(shown)
        if len(m.group()) > 2 and m.group().casefold() not in STOPWORDS and m.group().casefold()[:5] in stems
    ]


def test_the_best_sentence_is_shown_with_the_needs_words_marked() -> None:
    text = "Kommunen har en chatbot. Den svarer på spørsmål om byggesøknader og bygglov! Ellers ingenting."
    shown, marks = snippet("byggesøknad om bygglov", text)
    assert shown == "Den svarer på spørsmål om byggesøknader og bygglov!"
    assert [shown[a:b] for a, b in marks] == ["byggesøknader", "bygglov"]
    shown, marks = snippet("tax returns", text)  # nothing shared (another language): the opening, no marks
    assert (shown, marks) == ("Kommunen har en chatbot.", [])
    assert snippet("bygglov", None) == ("", []) and snippet("bygglov", "  ") == ("", [])


def test_a_long_sentence_is_cut_at_a_space_and_marked_within_the_cut() -> None:
    text = "Saksbehandling " * 30 + "bygglov avslutter setningen."
    shown, marks = snippet("saksbehandling bygglov", text, max_chars=100)
    assert shown.endswith(" …") and len(shown) <= 102 and "bygglov" not in shown
    assert marks == scanned_marks("saksbehandling bygglov", shown) and len(marks) == 6


def test_marks_equal_a_scan_of_the_shown_text_for_any_text() -> None:
    rng = random.Random(7)
    words = ["bygglov", "byggesøknader", "chatbot", "og", "the", "AI", "saksbehandling", "x", "Søknad", "søknadene"]
    for _ in range(400):
        sentence_count = rng.randint(1, 4)
        sentences = []
        for _ in range(sentence_count):
            n = rng.randint(1, 70)
            glue = "" if rng.random() < 0.1 else " "  # sometimes one unbroken run of letters, cut inside a word
            sentences.append(glue.join(rng.choice(words) for _ in range(n)) + rng.choice([".", "!", "?", ""]))
        text = " ".join(sentences)
        query = " ".join(rng.sample(words, rng.randint(1, 4)))
        shown, marks = snippet(query, text, max_chars=rng.choice([40, 120, 240]))
        visible = shown.removesuffix(" …")
        assert marks == scanned_marks(query, visible), (query, text, shown)
