"""Apertium needs-into-Bokmål (index/search/translate.py): real pairs where installed (make test
installs them as root, as on CI), and a translator that degrades to "untranslated"."""

from __future__ import annotations

import shutil
import time

import pytest

from erfa.index.search import translate
from erfa.index.search.text import informative

installed = all(
    (translate.MODES_DIR / f"{d}.mode").is_file() for d in ("swe-nob", "dan-nob", "nno-nob")
) and shutil.which("lt-proc")
needs_apertium = pytest.mark.skipif(
    not installed, reason="Debian's apertium pairs are not installed (as root: make apertium)"
)


@pytest.fixture()
def translator() -> translate.Translator:
    t = translate.Translator()
    yield t
    t.close()


@needs_apertium
def test_swedish_danish_and_nynorsk_needs_read_as_bokmal(translator: translate.Translator) -> None:
    assert "tekst" in (translator.translate("tal till text för dokumentation i hemtjänsten", "sv") or "")
    assert "røntgenbilder" in (translator.translate("finde knoglebrud på røntgenbilleder", "da") or "")
    assert "hvordan" in (translator.translate("korleis kan vi bruke KI i heimetenesta", "nn") or "")
    assert translator.translate("speech to text", "en") is None  # no pair: searched as written


@needs_apertium
def test_a_need_costs_milliseconds_once_the_pipeline_runs(translator: translate.Translator) -> None:
    translator.translate("automatiskt svar på frågor", "sv")  # starts the pipeline
    started = time.perf_counter()
    for i in range(20):
        assert translator.translate(f"chattbot som svarar på frågor om bygglov {i}", "sv")
    assert (time.perf_counter() - started) / 20 < 0.2  # a process per need would be ~0.4 s each


@needs_apertium
def test_apertium_syntax_in_a_need_survives(translator: translate.Translator) -> None:
    out = translator.translate("x [a] ^b$ c/d <e> *f @g {h}", "sv") or ""
    for piece in ("[a]", "^b$", "c/d", "<e>", "{h}"):
        assert piece in out, out


def test_a_missing_or_broken_pair_means_untranslated(monkeypatch: pytest.MonkeyPatch) -> None:
    t = translate.Translator(pairs={"sv": "no-such-pair"})
    assert t.translate("tal till text", "sv") is None
    # a pipeline that dies at once: the need is searched untranslated, and asked again later
    monkeypatch.setattr(translate, "_commands", lambda direction: [["false"]])
    t = translate.Translator(pairs={"sv": "swe-nob"}, timeout=0.5)
    assert t.translate("tal till text", "sv") is None
    assert t._cache == {}
    t.close()


def test_generic_ai_words_leave_the_need() -> None:
    assert informative("AI i äldreomsorgen") == "i äldreomsorgen"
    assert informative("kunstig intelligens i skole og barnehage") == "i skole og barnehage"
    assert informative("bruk av KI-verktøy i saksbehandling") == "bruk av verktøy i saksbehandling"
    assert informative("maskinlæring for å oppdage svindel") == "for å oppdage svindel"
    assert informative("machine learning for traffic lights") == "for traffic lights"
    assert informative("AI") == "AI"  # nothing else left: the need as typed
    assert informative("Kiosk og kirurgi") == "Kiosk og kirurgi"  # words that merely start with ki/ai stay


@needs_apertium
def test_asked_ahead_on_a_guess_the_answer_is_translates_right_or_wrong(translator: translate.Translator) -> None:
    need = "finde knoglebrud på røntgenbilleder"
    expected = translator.translate(need, "da")
    translator._cache.clear()
    with translator.ahead(need, "da") as reading:  # the right guess: the answer was on its way
        assert reading("da") == expected
    other = "tal till text för dokumentation i hemtjänsten"
    with translator.ahead(other, "no") as reading:  # a wrong guess: read, kept, and the right pair asked
        got = reading("sv")
    assert got == translator.translate(other, "sv") and got and "tekst" in got
    with translator.ahead("speech to text", None) as reading:  # no guess: nothing sent
        assert reading("en") is None
    # nothing left unread: each pipeline answers the next need with that need's own reading
    assert translator.translate("korleis kan vi bruke KI i heimetenesta", "nn") == translator.translate(
        "korleis kan vi bruke KI i heimetenesta", "nb"
    )


@needs_apertium
def test_crossed_guesses_on_many_threads_neither_deadlock_nor_mix_answers(translator: translate.Translator) -> None:
    """Each thread holds at most one pipeline at a time (a wrong guess is settled before the
    right pair is asked), so two threads guessing each other's language cannot wait on each other."""
    from concurrent.futures import ThreadPoolExecutor

    needs = [(f"chattbot som svarar på frågor om bygglov {i}", "sv", "da") for i in range(12)]
    needs += [(f"chatbot der svarer på spørgsmål om byggetilladelser {i}", "da", "sv") for i in range(12)]

    def one(item: tuple[str, str, str]) -> str | None:
        need, lang, wrong = item
        with translator.ahead(need, wrong) as reading:
            return reading(lang)

    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(one, needs, timeout=60))
    # each answer is its own need's Bokmål reading (Apertium may word one need two ways, "som"/"der"
    # svarer, depending on what a pipeline read before, so the words are checked, not one exact string)
    for (need, _, _), answer in zip(needs, got, strict=True):
        assert answer and "spørsmål" in answer and answer.split()[-1] == need.split()[-1], (need, answer)


def test_a_guess_sent_to_a_broken_pipeline_still_answers_and_frees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translate, "_commands", lambda direction: [["false"]])
    t = translate.Translator(pairs={"sv": "swe-nob"}, timeout=0.5)
    for _ in range(2):  # the second time finds no lock left held
        with t.ahead("tal till text", "sv") as reading:
            assert reading("sv") is None
    t.close()


@needs_apertium
def test_started_pipelines_serve_the_first_need_of_each_language(translator: translate.Translator) -> None:
    """`start` (run by ProjectIndex.load in a thread) spawns every pair's programs up front, so the
    first Swedish, Danish or Norwegian need after a restart does not wait for them to load."""
    translator.start()
    started = dict(translator._pipes)
    assert set(started) == {"swe-nob", "dan-nob", "nno-nob"} and all(started.values())
    assert translator.translate("tal till text för dokumentation i hemtjänsten", "sv")
    assert translator._pipes == started  # the need used the pipeline already running, not a new one
