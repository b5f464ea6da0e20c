"""The language-neutral space (index/search/space.py) on synthetic vectors: what it removes, how
it behaves on small, one-language and lopsided corpora, when it refits, and whether its
close-match statistic is independent of corpus size."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from erfa.index.search.space import LanguageSpace, SpaceParams

DIM = 64
rng = np.random.default_rng(7)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def corpus(
    n_topics: int = 200, languages: tuple[str, ...] = ("en", "nb"), offset: float = 1.2
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Each topic written once per language: topic + a strong language direction, as in e5's space."""
    topics = rng.normal(size=(n_topics, DIM))
    lang_dirs = {lang: rng.normal(size=DIM) * offset for lang in languages}
    vecs, langs = [], []
    for lang in languages:
        vecs.append(unit(topics + lang_dirs[lang] + 0.3 * rng.normal(size=(n_topics, DIM))))
        langs += [lang] * n_topics
    return np.vstack(vecs).astype(np.float32), langs, topics


def test_centring_lets_a_text_find_its_other_language_twin() -> None:
    vecs, langs, _ = corpus(offset=2.0)
    n = len(vecs) // 2

    def twin_found(m: np.ndarray) -> float:
        """Share of English texts whose nearest other text (either language) is their Norwegian twin."""
        sims = m[:n] @ m.T
        sims[np.arange(n), np.arange(n)] = -9
        return float(np.mean(np.argmax(sims, axis=1) == np.arange(n) + n))

    space = LanguageSpace.fit(vecs, langs, SpaceParams(prior=5, centre_prior=0, components=1))
    docs = space.documents(vecs, langs)
    assert twin_found(docs) > 0.9 > twin_found(vecs) + 0.3, (twin_found(vecs), twin_found(docs))
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    for lang in ("en", "nb"):  # no language keeps a mean of its own
        rows = docs[np.array(langs) == lang]
        assert np.linalg.norm(rows.mean(axis=0)) < 0.1


def test_a_handful_of_texts_is_searched_almost_as_the_model_made_it() -> None:
    vecs, langs, _ = corpus(n_topics=3)
    space = LanguageSpace.fit(vecs, langs, SpaceParams(centre_prior=100))
    docs = space.documents(vecs, langs)
    # the mean of six texts is their topics, not their language: barely subtracted
    assert float(np.min(np.sum(docs * vecs, axis=1))) > 0.9
    assert len(space.components) == 0  # no PCA on a handful


def test_a_language_with_few_texts_borrows_the_corpus_mean() -> None:
    vecs, langs, _ = corpus(n_topics=100)
    vecs = np.vstack([vecs, vecs[:1]])
    langs = [*langs, "nn"]  # one lone Nynorsk text
    space = LanguageSpace.fit(vecs, langs, SpaceParams(prior=5))
    lone = space.means[space.languages.index("nn")]
    # shrunk most of the way toward the corpus mean, not equal to the lone text itself
    assert np.linalg.norm(lone - space.global_mean) < np.linalg.norm(vecs[-1] - space.global_mean) / 2


def test_one_language_corpus_and_query_language_fallbacks() -> None:
    vecs, langs, _ = corpus(languages=("nb",))
    space = LanguageSpace.fit(vecs, langs)
    nb = space.means[space.languages.index("nb")]
    assert np.allclose(space.nearest_mean("nb"), nb)
    assert np.allclose(space.nearest_mean("sv"), nb)  # a Scandinavian sibling stands in
    assert np.allclose(space.nearest_mean("fi"), space.global_mean)  # no sibling: the corpus mean
    assert np.allclose(space.nearest_mean(None), space.global_mean)
    q = space.query(vecs[0], "sv")
    assert abs(float(np.linalg.norm(q)) - 1.0) < 1e-5


def test_empty_corpus_is_the_identity() -> None:
    space = LanguageSpace.fit(np.zeros((0, DIM), np.float32), [])
    v = unit(rng.normal(size=DIM)).astype(np.float32)
    assert np.allclose(space.query(v), v, atol=1e-6)


def test_refit_follows_drift_not_every_write() -> None:
    vecs, langs, _ = corpus(n_topics=1500)  # 3,000 passages: above the always-refit size
    space = LanguageSpace.fit(vecs, langs)
    counts = Counter(langs)
    assert not space.stale(counts, drift=0.05)
    assert not space.stale(counts + Counter({"en": 10}), drift=0.05)  # one ingest of a few records
    assert space.stale(counts + Counter({"sv": 400}), drift=0.05)  # a new language arrives in bulk
    small = LanguageSpace.fit(vecs[:20], langs[:20])
    assert small.stale(Counter(langs[:21]), drift=0.05)  # small corpora refit on every change (cheap)


def test_saved_space_loads_with_its_generation_and_params(tmp_path: Path) -> None:
    vecs, langs, _ = corpus(n_topics=50)
    params = SpaceParams(prior=7, centre_prior=30, components=2, query_centring=0.4)
    space = LanguageSpace.fit(vecs, langs, params)
    space.save(tmp_path / "space.npz", generation=12)
    loaded, gen = LanguageSpace.load(tmp_path / "space.npz")  # type: ignore[misc]
    assert gen == 12 and loaded.params == params and loaded.languages == space.languages
    assert np.allclose(loaded.query(vecs[3], "nb"), space.query(vecs[3], "nb"))
    (tmp_path / "broken.npz").write_bytes(b"not a space")
    assert LanguageSpace.load(tmp_path / "broken.npz") is None
    assert LanguageSpace.load(tmp_path / "missing.npz") is None


@pytest.mark.parametrize("n_topics", [500, 5000])
def test_standout_of_chance_matches_does_not_grow_with_the_corpus(n_topics: int) -> None:
    """A need with no match gets a best score that grows with corpus size; its standout must not."""
    vecs, langs, _ = corpus(n_topics=n_topics)
    space = LanguageSpace.fit(vecs, langs)
    docs = space.documents(vecs, langs)
    values = []
    for _ in range(20):
        q = space.query(unit(rng.normal(size=DIM)).astype(np.float32), "en")
        values.append(space.standout(q, float((docs @ q).max()), len(docs)))
    assert 0.7 < float(np.median(values)) < 1.15, values
    planted = space.query(vecs[0], "en")
    assert space.standout(planted, float(docs[0] @ planted), len(docs)) > 1.5
