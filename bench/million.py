"""Index-only figures at a million vectors (50k in quick mode): IVF build time, search latency
without encoding, recall@10 against exact search for several nprobe, filtered search, and the
memory a serving process needs for the memory-mapped index.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from bench.measure import rss_mib, stats, timed
from erfa.index.search.vectors import EXACT_MAX, VectorIndex, default_nprobe, ivf_nlist


def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors on the data's own manifold: mixtures of two real vectors plus noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a = rng.uniform(0.3, 1.0, (m, 1)).astype(np.float32)
        v = a * base[rng.integers(0, len(base), m)] + (1 - a) * base[rng.integers(0, len(base), m)]
        v += rng.standard_normal(v.shape).astype(np.float32) * 0.02
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def bench_million(base: np.ndarray, queries: np.ndarray, n: int, work: Path) -> dict[str, object]:
    """Index-only figures at n synthetic vectors: build, search without encoding, recall, memory."""
    dim = base.shape[1]
    vecs = synthetic_vectors(base, n)
    ids = np.arange(n, dtype=np.int64) * 64
    res: dict[str, object] = {"vectors": n, "nlist": ivf_nlist(n), "default_nprobe": default_nprobe(ivf_nlist(n))}
    before = rss_mib()
    vi = VectorIndex(dim)
    t = time.perf_counter()
    vi.upsert(ids, vecs)
    res["build_s"] = time.perf_counter() - t
    res["index"] = vi.kind
    res["rss_after_build_mib"] = rss_mib() - before
    k = 10
    exact_lat, truth = [], []
    for q in queries:
        t = time.perf_counter()
        _, got = vi.search_exact(q, k)
        exact_lat.append((time.perf_counter() - t) * 1000)
        truth.append(set(got.tolist()))
    res["exact_ms"] = stats(exact_lat)
    sweep = {}
    for nprobe in sorted({8, 16, 32, 64, 128, 256, default_nprobe(ivf_nlist(n))}):
        vi.set_nprobe(nprobe)
        for q in queries[:5]:
            vi.search(q, k)
        lat, rec = [], []
        for q, tr in zip(queries, truth, strict=True):
            t = time.perf_counter()
            _, got = vi.search(q, k)
            lat.append((time.perf_counter() - t) * 1000)
            rec.append(len(tr & set(got.tolist())) / k)
        sweep[nprobe] = {"ms": stats(lat), "recall@10": float(np.mean(rec))}
    res["nprobe"] = sweep
    vi.set_nprobe(0)  # back to the default
    # filters: 1% and 0.01% of the ids allowed; pages full, ids allowed, recall vs exact-within-allowed
    filt = {}
    rng = np.random.default_rng(3)
    for share in (0.01, 0.0001):
        allowed = np.sort(rng.choice(ids, max(10, int(n * share)), replace=False))
        sub = vecs[allowed // 64]
        lat, rec, full, inside = [], [], [], []
        for q in queries[:50]:
            t = time.perf_counter()
            _, got = vi.search(q, k, allowed)
            lat.append((time.perf_counter() - t) * 1000)
            tr = set(allowed[np.argsort(-(sub @ q))[:k]].tolist())
            rec.append(len(tr & set(got.tolist())) / k)
            full.append(len(got) == k)
            inside.append(bool(np.isin(got, allowed).all()))
        filt[f"{share:.2%}"] = {
            "allowed": len(allowed),
            "ms": stats(lat),
            "recall@10": float(np.mean(rec)),
            "pages_full": float(np.mean(full)),
            "ids_allowed": float(np.mean(inside)),
        }
    res["filtered"] = filt
    # persistence and the memory a serving process needs for it (memory-mapped)
    path = work / "million" / "vectors.faiss"
    shutil.rmtree(path.parent, ignore_errors=True)
    from erfa.index.search.vectors import IndexMeta

    t = time.perf_counter()
    vi.save(path, IndexMeta(1, "bench", dim, len(vi)))
    res["save_s"] = time.perf_counter() - t
    res["file_mib"] = sum(p.stat().st_size for p in path.parent.iterdir()) / 2**20
    del vi, vecs
    np.save(work / "million" / "queries.npy", queries)
    script = textwrap.dedent(f"""
        import json, time, numpy as np
        from pathlib import Path
        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
        base = status("VmRSS:")
        from erfa.index.search.vectors import VectorIndex
        t = time.perf_counter()
        vi, meta = VectorIndex.load(Path({str(path)!r}))
        load = time.perf_counter() - t
        after_load = status("VmRSS:") - base
        qs = np.load({str(work / "million" / "queries.npy")!r})
        lat = []
        for q in qs:
            t = time.perf_counter(); vi.search(q, 10); lat.append((time.perf_counter() - t) * 1000)
        pss = 0
        for line in open("/proc/self/smaps_rollup"):
            if line.startswith("Pss_File:"):
                pss = int(line.split()[1]) / 1024
        print(json.dumps({{"load_s": load, "rss_after_load_mib": after_load,
                           "rss_after_queries_mib": status("VmRSS:") - base,
                           "file_backed_pss_mib": pss, "lat": lat}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    if out.returncode == 0:
        loaded = json.loads(out.stdout.strip().splitlines()[-1])
        loaded["mapped_search_ms"] = stats(loaded.pop("lat"))
        res["mapped"] = loaded
    else:
        res["mapped"] = {"error": out.stderr[-500:]}
    shutil.rmtree(path.parent, ignore_errors=True)
    # where exact search stops being fast: flat search time by size
    flat = {}
    for m in sorted({10_000, EXACT_MAX, 100_000} if n >= 100_000 else {min(10_000, n)}):
        fi = VectorIndex(dim, exact_max=10**12)
        fi.upsert(ids[:m], synthetic_vectors(base, m, seed=m))
        flat[m] = stats([timed(lambda q=q, fi=fi: fi.search(q, k)) for q in queries])
        del fi
    res["flat_ms_by_size"] = flat
    return res
