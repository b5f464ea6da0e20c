"""BM25 keyword ranking, the half of hybrid search that knows exact words.

Dense vectors match meaning across languages but blur names: "NAV", "Ruter" or
"DIPS" mean nothing to the model. BM25 over stemmed words catches them. bm25s keeps
the index as a sparse matrix in memory; rebuilding it for 10k projects takes well
under a second, so it is rebuilt on load and after writes instead of persisted.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np

from erfa.index.text import query_stems, stems, word_variants


class KeywordIndex:
    def __init__(self, rowids: Sequence[int], texts: Sequence[str], languages: Sequence[str | None]) -> None:
        self.rowids = np.asarray(rowids, dtype=np.int64)
        self._bm25: bm25s.BM25 | None = None
        self._df: Counter[str] = Counter()
        if len(self.rowids):
            corpus = [stems(t, lang) or [""] for t, lang in zip(texts, languages)]
            self._df = Counter(w for doc in corpus for w in set(doc))
            self._bm25 = bm25s.BM25()
            self._bm25.index(corpus, show_progress=False)

    def rare(self, tokens: list[str], max_share: float) -> list[str]:
        """Tokens found in few projects: names, acronyms, specific nouns.

        Common words ("AI", "kommune", "data") are what the dense model already
        understands; counting them again as keywords only adds noise to hybrid ranking.
        """
        limit = max(3.0, max_share * len(self.rowids))
        return [t for t in tokens if 0 < self._df.get(t, 0) <= limit]

    def search(
        self, query: str, language: str | None, k: int, mask: np.ndarray | None = None, rare_share: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rowids) with a positive score; ``mask`` is a boolean filter over rowids order.

        With ``rare_share`` only query terms in at most that share of projects count.
        """
        if self._bm25 is None:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        tokens = query_stems(query, language)
        if rare_share is not None:
            tokens = self.rare(tokens, rare_share)
        if not tokens:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        scores = self._bm25.get_scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top].astype(np.float32), self.rowids[top]

    def coverage(self, query: str, language: str | None) -> np.ndarray:
        """Per project (rowids order), the share of the need's words it contains, any
        stemming counted. Several exact words in common is strong evidence; one shared
        word is not, however rare it is. Read straight from the index's posting lists:
        microseconds per word, whatever the corpus size."""
        variants = word_variants(query, language)
        hits = np.zeros(len(self.rowids), np.float32)
        if self._bm25 is None or not variants:
            return hits
        vocab, postings = self._bm25.vocab_dict, self._bm25.scores
        for forms in variants:
            ids = {vocab[v] for v in forms if v in vocab}
            docs = [postings["indices"][postings["indptr"][t]: postings["indptr"][t + 1]] for t in ids]
            if docs:
                hits[np.unique(np.concatenate(docs))] += 1
        return hits / len(variants)
