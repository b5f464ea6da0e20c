"""The language-neutral vector space erfa searches in.

Why: in multilingual-e5-small's space the language a text is written in is the
strongest single direction. On the real registries the first principal component of
the project vectors separates English from Norwegian texts, so a Swedish need lands
nearest to whatever shares its language or its generic words ("kunstig intelligens"),
not to the project that does what it asks. Removing language identity is the fix the
literature measures (Libovický et al. 2020: subtract each language's mean; Xie et al.
2022: remove the low-rank language subspace), and erfa's real-data evaluation set
confirms it (models.md).

The transform, fitted on the corpus's own passage vectors:

1. subtract the mean of the passage's language. A language with few texts borrows
   from the corpus mean: its mean is shrunk toward the global mean with a prior worth
   ``prior`` texts, so a lone Nynorsk record in a Bokmål corpus is centred much like
   the rest, and a one-language corpus simply becomes centred. The global mean is
   itself shrunk toward zero (``centre_prior``): in a corpus of a dozen projects the
   mean is their topics, not their language, and such a corpus is searched almost in
   the model's own space;
2. project out the top ``components`` principal directions of the centred passages
   (what still separates languages, and the generic "this is an AI project"
   direction every record shares);
3. normalise, so inner products are cosines again.

A query is centred by half the mean of the corpus language nearest its own (its own
language if the corpus has texts in it, else a Scandinavian sibling for a Nordic need,
else the corpus mean) and gets the same projection. Half, because a query is embedded
with the model's "query: " prompt and passages with "passage: ": the language offset is
shared, the prompt offset is not (both measured on the real dev splits, models.md).

The space also keeps the mean and covariance of the transformed passages, so the
spread of a query's scores over the whole corpus is known without scoring every
passage: `close_match` asks whether the best score stands out from that spread by more
than chance would explain in a corpus of this size.

Stored and cached vectors stay raw (the model's output); only the search index holds
transformed vectors, so a change of transform re-derives the index from the cache and
never re-embeds.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields, replace
from pathlib import Path

import numpy as np

from erfa.index.atomic import atomic_file

log = logging.getLogger("erfa.index")
UNKNOWN = "?"  # records with no detected language form their own group
# Written languages close enough that one's mean stands in for another's.
FAMILIES: tuple[frozenset[str], ...] = (frozenset({"nb", "nn", "no", "da", "sv"}),)


@dataclass(frozen=True)
class SpaceParams:
    """How the space is fitted; defaults are chosen on the real dev splits (index/search/ranking.py)."""

    prior: float = 5.0  # texts' worth of global mean blended into each language mean
    centre_prior: float = 100.0  # texts' worth of "no centring" blended into the global mean
    components: int = 1  # principal directions removed after centring
    min_for_components: int = 50  # fewer passages than this: centre only (PCA on a handful is noise)
    query_centring: float = 0.5  # share of the nearest language's mean taken off a query


@dataclass(frozen=True)
class LanguageSpace:
    """A fitted transform; immutable, so a snapshot and its searches always agree on it."""

    global_mean: np.ndarray  # (dim,)
    languages: tuple[str, ...]
    means: np.ndarray  # (len(languages), dim), already shrunk toward global_mean
    components: np.ndarray  # (k, dim), orthonormal rows; k may be 0
    counts: tuple[int, ...]  # passages per language when fitted (decides when to refit)
    score_mean: np.ndarray  # (dim,) mean of the transformed passages
    score_cov: np.ndarray  # (dim, dim) their covariance: var(q . x) = q' C q
    params: SpaceParams = SpaceParams()  # what it was fitted with: other params mean "refit"

    @property
    def query_centring(self) -> float:
        return self.params.query_centring

    # -- fitting -----------------------------------------------------------------
    @classmethod
    def identity(cls, dim: int) -> LanguageSpace:
        """No transform: an empty corpus, or a model we were told not to neutralise."""
        zero = np.zeros((0, dim), np.float32)
        return cls(
            np.zeros(dim, np.float32), (), zero, zero, (), np.zeros(dim, np.float32), np.zeros((dim, dim), np.float32)
        )

    @classmethod
    def fit(
        cls, vectors: np.ndarray, languages: Sequence[str | None], params: SpaceParams = SpaceParams()
    ) -> LanguageSpace:
        vectors = np.asarray(vectors, dtype=np.float32)
        if not len(vectors):
            return cls.identity(vectors.shape[1] if vectors.ndim == 2 else 0)
        langs = np.array([lang or UNKNOWN for lang in languages])
        # A mean of a handful of texts is mostly their topics, not their language: shrink it
        # toward zero (the model's own space) until the corpus is large enough to estimate it.
        glob = vectors.sum(axis=0) / (len(vectors) + params.centre_prior)
        names = tuple(sorted(set(langs.tolist())))
        means, counts = [], []
        for name in names:
            rows = vectors[langs == name]
            n = len(rows)
            means.append((rows.sum(axis=0) + params.prior * glob) / (n + params.prior))
            counts.append(n)
        means_arr = np.stack(means).astype(np.float32)
        k = params.components if len(vectors) >= params.min_for_components else 0
        comps = np.zeros((0, vectors.shape[1]), np.float32)
        if k:
            centred = vectors - means_arr[np.searchsorted(names, langs)]
            centred -= centred.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            comps = np.ascontiguousarray(vt[:k], dtype=np.float32)
        dim = vectors.shape[1]
        space = cls(
            glob.astype(np.float32),
            names,
            means_arr,
            comps,
            tuple(counts),
            np.zeros(dim, np.float32),
            np.zeros((dim, dim), np.float32),
            params,
        )
        docs = space.documents(vectors, langs.tolist())  # the moments are those of the transformed passages
        cov = np.cov(docs, rowvar=False) if len(docs) > 1 else np.zeros((dim, dim))
        return replace(
            space, score_mean=docs.mean(axis=0).astype(np.float32), score_cov=np.asarray(cov, dtype=np.float32)
        )

    def stale(self, languages: Counter[str], drift: float, always_below: int = 2000) -> bool:
        """True when the corpus has moved enough since fitting that the space should be refitted.

        Below ``always_below`` passages refitting costs milliseconds, so any change refits.
        Above, a write keeps the old fit until the per-language passage counts have moved by
        more than ``drift`` of the corpus in total: one write then transforms only its own
        vectors instead of re-deriving every one.
        """
        fitted = Counter(dict(zip(self.languages, self.counts, strict=True)))
        if fitted == languages:
            return False
        total = sum(languages.values())
        if total < always_below:
            return True
        moved = sum(abs(languages[k] - fitted[k]) for k in set(fitted) | set(languages))
        return moved > drift * total

    # -- transforming ------------------------------------------------------------
    def _project(self, x: np.ndarray) -> np.ndarray:
        if len(self.components):
            x = x - (x @ self.components.T) @ self.components
        norms = np.linalg.norm(x, axis=-1, keepdims=True)
        return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def _mean_of(self, language: str | None) -> np.ndarray:
        name = language or UNKNOWN
        mean: np.ndarray = self.means[self.languages.index(name)] if name in self.languages else self.global_mean
        return mean  # a language the corpus had none of when fitted

    def documents(self, vectors: np.ndarray, languages: Sequence[str | None]) -> np.ndarray:
        """Transform passage vectors, each centred by the mean of its record's language."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not len(vectors):
            return vectors
        means = np.stack([self._mean_of(lang) for lang in languages])
        return self._project(vectors - means)

    def nearest_mean(self, language: str | None) -> np.ndarray:
        """The mean of the corpus language nearest to ``language``: itself, else the sibling
        with most passages (a Swedish need in a Norwegian corpus), else the corpus mean."""
        if language in self.languages:
            return self._mean_of(language)
        for family in FAMILIES:
            if language in family:
                siblings = [(n, c) for n, c in zip(self.languages, self.counts, strict=True) if n in family]
                if siblings:
                    return self._mean_of(max(siblings, key=lambda nc: nc[1])[0])
        return self.global_mean

    def query(self, vector: np.ndarray, language: str | None = None) -> np.ndarray:
        """A need's vector in the space (see the module docstring for why half a mean)."""
        centred = np.asarray(vector, dtype=np.float32) - self.query_centring * self.nearest_mean(language)
        return self._project(centred)

    def share(self, languages: set[str]) -> float:
        """Share of the corpus's passages (when fitted) written in one of ``languages``."""
        total = sum(self.counts)
        return (
            sum(c for n, c in zip(self.languages, self.counts, strict=True) if n in languages) / total if total else 0.0
        )

    def spread(self, query: np.ndarray) -> float:
        """The standard deviation of the query's scores over the corpus's passages."""
        return float(np.sqrt(max(float(query @ self.score_cov @ query), 1e-12)))

    def standout(self, query: np.ndarray, top: float, n: int) -> float:
        """How far ``top`` stands above the query's scores over the corpus, in units of the
        largest deviation chance alone would give among ``n`` passages: (top - mean) / sd /
        sqrt(2 ln n). About 1 or less: the best match is what any need would find; well
        above 1: it stands out. Independent of corpus size and transform by construction."""
        return (top - float(query @ self.score_mean)) / self.spread(query) / float(np.sqrt(2 * np.log(max(n, 2))))

    def cut_off(self, query: np.ndarray, standout: float, n: int) -> float:
        """The score a passage needs to reach ``standout`` (the inverse of `standout`): how
        many projects match a need is then one range search."""
        return float(query @ self.score_mean) + standout * self.spread(query) * float(np.sqrt(2 * np.log(max(n, 2))))

    # -- persistence -------------------------------------------------------------
    def save(self, path: Path, generation: int) -> None:
        """Written beside the vector file with the store generation it belongs to (atomic)."""

        def write(tmp: Path) -> None:
            buf = io.BytesIO()
            np.savez(
                buf,
                generation=np.int64(generation),
                global_mean=self.global_mean,
                languages=np.array(self.languages, dtype=str),
                means=self.means,
                components=self.components,
                counts=np.array(self.counts, dtype=np.int64),
                score_mean=self.score_mean,
                score_cov=self.score_cov,
                params=np.array(astuple(self.params), dtype=np.float64),
            )
            tmp.write_bytes(buf.getvalue())

        atomic_file(path, write)

    @classmethod
    def load(cls, path: Path) -> tuple[LanguageSpace, int] | None:
        """(space, generation), or None when the file is absent or unreadable."""
        try:
            with np.load(path, allow_pickle=False) as z:
                space = cls(
                    z["global_mean"],
                    tuple(str(s) for s in z["languages"]),
                    z["means"],
                    z["components"],
                    tuple(int(c) for c in z["counts"]),
                    z["score_mean"],
                    z["score_cov"],
                    _params(z["params"]),
                )
                return space, int(z["generation"])
        except Exception as exc:
            if path.exists():
                log.warning(
                    "%s cannot be read (%s: %s): rebuilding the index from the store", path, type(exc).__name__, exc
                )
            return None


def _params(values: np.ndarray) -> SpaceParams:
    """SpaceParams back from the float array `save` wrote, each field in its own type."""
    return SpaceParams(
        *(type(getattr(SpaceParams(), f.name))(v) for f, v in zip(fields(SpaceParams), values, strict=True))
    )
