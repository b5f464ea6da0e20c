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
