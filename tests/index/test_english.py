"""The English wording a Nordic need is offered when nothing is close (index/search/english.py, issue 21)."""

from __future__ import annotations

import pytest

from erfa.index.search.english import GLOSSARY, STOPWORDS, english_term, english_wording, proposable


@pytest.mark.parametrize(
    ("word", "english"),
    [
        ("byggesøknader", "building permit application"),  # stem + ending
        ("bygglov", "building permit"),
        ("chattboten", "chatbot"),
        ("avfallshantering", "waste management"),  # modifier + linking s + head
        ("skogbrann", "forests fire"),
        ("innbyggerchatbot", "citizens chatbot"),
        ("hemtjänsten", "home care"),
        ("lovbrudd", None),  # unknown stays unknown: nothing is guessed
    ],
)
def test_words_are_read_by_stem_and_by_compound(word: str, english: str | None) -> None:
    assert english_term(word) == english


def test_a_wording_keeps_the_needs_order_drops_function_words_and_keeps_unknown_words() -> None:
    w = english_wording("Chattbot som svarar på frågor om bygglov i Altinn")
    assert w.text == "chatbot answers questions building permit altinn"
    assert (w.known, w.words) == (4, 5) and proposable(w)


def test_a_need_the_glossary_barely_knows_gets_no_wording() -> None:
    w = english_wording("vurdere om innsatte begår nye lovbrudd etter løslatelse")
    assert not proposable(w)  # one word of five: a half-translated need would mislead
    assert not proposable(english_wording("polisen"))  # one known word is not enough


def test_the_glossary_is_lower_case_and_never_maps_a_function_word() -> None:
    assert all(k == k.casefold() and v == v.strip() and v for k, v in GLOSSARY.items())
    assert not STOPWORDS & set(GLOSSARY)
