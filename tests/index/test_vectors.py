"""The vector index: exact while small, IVF beyond, filters correct at every size,
files memory-mapped and shared, and every change atomic. No model needed: clustered
random vectors stand in for embeddings."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import numpy as np
import pytest

from erfa.index.search.vectors import IVFDATA_SUFFIX, IndexMeta, VectorIndex, ivf_nlist

DIM = 32


def corpus(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n unit vectors around 40 centres (like topics), with sparse ids like the engine's slots."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM)).astype(np.float32)
    vecs = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return np.arange(n, dtype=np.int64) * 64 + 3, vecs.astype(np.float32)


def exact(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    mask = np.ones(len(ids), bool) if allowed is None else np.isin(ids, allowed)
    scores = vecs[mask] @ q
    return ids[mask][np.argsort(-scores, kind="stable")[:k]].tolist()


def small_ivf(n: int = 3000) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    ids, vecs = corpus(n)
    vi = VectorIndex(DIM, exact_max=1000, nprobe=8)
    vi.upsert(ids, vecs)
    return vi, ids, vecs


def test_small_index_is_exact() -> None:
    ids, vecs = corpus(500)
    vi = VectorIndex(DIM)
    vi.upsert(ids, vecs)
    assert vi.kind == "flat"
    for q in vecs[:20]:
        assert vi.search(q, 10)[1].tolist() == exact(vecs, ids, q, 10)


def test_index_turns_ivf_above_the_threshold_and_back() -> None:
    vi, ids, _ = small_ivf()
    assert vi.kind == f"ivf{ivf_nlist(3000)}"
    assert len(vi) == 3000
    vi.remove(ids[:2600])
    assert vi.kind == "flat", "below half the threshold the index is exact again"
    assert sorted(vi.ids().tolist()) == ids[2600:].tolist()


def test_ivf_recall_and_exact_scores() -> None:
    vi, ids, vecs = small_ivf()
    rng = np.random.default_rng(5)
    hits = 0
    for i in rng.choice(len(ids), 50, replace=False):
        q = vecs[i]
        scores, got = vi.search(q, 10)
        truth = exact(vecs, ids, q, 10)
        hits += len(set(got.tolist()) & set(truth))
        # scores are true cosines, not approximations
        np.testing.assert_allclose(scores, vecs[np.searchsorted(ids, got)] @ q, atol=1e-5)
    assert hits / 500 >= 0.9


@pytest.mark.parametrize("share", [1.0, 0.3, 0.01, 0.001])
def test_ivf_filters_are_correct_and_never_short(share: float) -> None:
    vi, ids, vecs = small_ivf()
    rng = np.random.default_rng(7)
    allowed = np.sort(rng.choice(ids, max(1, int(len(ids) * share)), replace=False))
    for q in vecs[:10]:
        _, got = vi.search(q, 10, allowed)
        assert len(got) == min(10, len(allowed)), "a filtered page is never short"
        assert set(got.tolist()) <= set(allowed.tolist())
        truth = exact(vecs, ids, q, 10, allowed)
        assert len(set(got.tolist()) & set(truth)) >= 0.8 * len(truth)
    # an allowed set entirely in lists the query would not probe still fills the page
    far = ids[np.argsort(vecs @ vecs[0])[:5]]
    assert sorted(vi.search(vecs[0], 10, far)[1].tolist()) == sorted(far.tolist())


def test_upsert_replaces_and_vector_reads_back_on_ivf() -> None:
    vi, ids, vecs = small_ivf()
    new = np.roll(vecs[:5], 1, axis=1)
    vi.upsert(ids[:5], new)
    assert len(vi) == 3000
    np.testing.assert_allclose(vi.vector(int(ids[0])), new[0], atol=1e-6)
    assert vi.vector(999_999_999) is None
    assert vi.search(new[3], 1)[1].tolist() == [ids[3]]


@pytest.mark.parametrize("n", [400, 3000])
def test_save_load_is_mapped_and_copy_is_writable(tmp_path: Path, n: int) -> None:
    ids, vecs = corpus(n)
    vi = VectorIndex(DIM, exact_max=1000, nprobe=8)
    vi.upsert(ids, vecs)
    path = tmp_path / "vectors.faiss"
    meta = IndexMeta(3, "m", DIM, len(vi))
    vi.save(path, meta)
    loaded = VectorIndex.load(path)
    assert loaded is not None
    again, got_meta = loaded
    assert (
        got_meta == dataclasses.replace(meta, checksum=got_meta.checksum) and again.kind == vi.kind and len(again) == n
    )
    assert got_meta.checksum and got_meta.checksum.startswith("crc32:")
    for q in vecs[:5]:
        assert again.search(q, 10)[1].tolist() == vi.search(q, 10)[1].tolist()
    assert again._mapped
    if n > 1000:  # the mapped IVF lists are read in place, without FAISS's per-search prefetch threads (issue 22)
        assert faiss.downcast_InvertedLists(again._index.invlists).prefetch_nthread == 0
    again.exact_max = 1000  # a loaded index uses the production threshold; keep the test's
    copy = again.copy()
    copy.remove(ids[:10])
    assert len(copy) == n - 10 and len(again) == n, "the copy is independent of the mapped original"
    again.upsert(ids[:1], vecs[1:2])  # a mapped index becomes private before it changes
    np.testing.assert_allclose(again.vector(int(ids[0])), vecs[1], atol=1e-6)
    # saving again replaces the lists file and removes the old one
    copy.save(path, IndexMeta(4, "m", DIM, len(copy)))
    assert len(list(tmp_path.glob(f"*{IVFDATA_SUFFIX}"))) == (1 if n > 1000 else 0)
    reread = VectorIndex.load(path)
    assert reread is not None and len(reread[0]) == n - 10
    # the old mapped index still answers after its file was replaced
    assert len(again.search(vecs[0], 3)[1]) == 3


def test_load_rejects_mismatch_and_garbage(tmp_path: Path) -> None:
    ids, vecs = corpus(50)
    vi = VectorIndex(DIM)
    vi.upsert(ids, vecs)
    path = tmp_path / "v.faiss"
    vi.save(path, IndexMeta(1, "m", DIM, 49))
    assert VectorIndex.load(path) is None, "count mismatch means rebuild"
    path.write_bytes(b"garbage")
    assert VectorIndex.load(path) is None


@pytest.mark.parametrize("n", [400, 3000])
def test_vectors_zeroed_on_disk_are_refused_by_their_checksum(tmp_path: Path, n: int) -> None:
    """Issue 14: zeroed vectors with the header intact used to load and serve wrong results."""
    ids, vecs = corpus(n)
    vi = VectorIndex(DIM, exact_max=1000, nprobe=8)
    vi.upsert(ids, vecs)
    path = tmp_path / "vectors.faiss"
    vi.save(path, IndexMeta(1, "m", DIM, n))
    data = next(tmp_path.glob(f"*{IVFDATA_SUFFIX}"), path)  # IVF keeps its vectors in the lists file
    raw = bytearray(data.read_bytes())
    start = raw.find(vecs[0].tobytes()) if data == path else 0
    assert start >= 0
    size = (len(raw) - start) // 2 if data != path else n * DIM * 4
    raw[start : start + size] = bytes(size)  # the vectors go, the header and ids stay
    data.write_bytes(bytes(raw))
    assert VectorIndex.load(path) is None, "a damaged file means rebuild"


def test_meta_without_checksum_means_rebuild(tmp_path: Path) -> None:
    ids, vecs = corpus(50)
    vi = VectorIndex(DIM)
    vi.upsert(ids, vecs)
    path = tmp_path / "v.faiss"
    vi.save(path, IndexMeta(1, "m", DIM, 50))
    assert VectorIndex.load(path) is not None
    meta_file = path.with_suffix(".faiss.meta.json")
    old = {k: v for k, v in json.loads(meta_file.read_text()).items() if k != "checksum"}
    meta_file.write_text(json.dumps(old))  # as written by an erfa before checksums
    assert VectorIndex.load(path) is None


def test_processes_share_the_mapped_vectors(tmp_path: Path) -> None:
    """Two readers of one IVF file: the lists are file pages (shared), not private copies."""
    ids, vecs = corpus(20_000)
    vi = VectorIndex(DIM, exact_max=1000)
    vi.upsert(ids, vecs)
    path = tmp_path / "v.faiss"
    vi.save(path, IndexMeta(1, "m", DIM, len(vi)))
    script = textwrap.dedent(f"""
        import numpy as np
        from pathlib import Path
        from erfa.index.search.vectors import VectorIndex
        vi, _ = VectorIndex.load(Path({str(path)!r}))
        for q in np.random.default_rng(0).standard_normal((200, {DIM})).astype(np.float32):
            vi.search(q, 10)
        maps = open("/proc/self/smaps").read().split("\\n")
        shared = 0
        inside = False
        for line in maps:
            if line and not line[0].isupper():
                inside = "{IVFDATA_SUFFIX}" in line
            elif inside and line.startswith("Rss:"):
                shared += int(line.split()[1])
        print(shared)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) > 0, "the IVF lists are read through a file mapping"


def test_a_search_from_any_thread_runs_without_an_openmp_team() -> None:
    """OpenMP's thread count is per thread: set once at import it held only for the importing
    thread, and the service's pool threads searched with a team of every core (issue 22)."""
    import threading

    ids, vecs = corpus(400)
    vi = VectorIndex(DIM)
    vi.upsert(ids, vecs)
    seen: list[int] = []

    def search() -> None:
        before = faiss.omp_get_max_threads()
        vi.search(vecs[0], 5)
        seen.extend([before, faiss.omp_get_max_threads()])

    th = threading.Thread(target=search)
    th.start()
    th.join()
    assert seen[1] == 1, seen
    if (os.cpu_count() or 1) > 1:
        assert seen[0] > 1, "a new thread starts with every core: the test would not show the difference"
