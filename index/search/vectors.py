"""The FAISS side: an id-mapped inner-product index over normalised vectors.

Only this module imports faiss, so the index type can change without the rest of
erfa noticing. Ids are the store's slot ids, so a record keeps its vector slot across
updates (remove-then-add under the same id).

The index type follows the size (figures from bench/RESULTS.md, 2-core CPU, 384 dims):

- up to `EXACT_MAX` vectors: exact search (`IndexFlatIP`). It scans every vector,
  ~0.13 ms per 1,000, so it stays under ~4 ms up to ~30k vectors, and it is exact.
- beyond: `IndexIVFFlat` (inverted lists of full vectors, inner product). It scans
  `nprobe` (an eighth) of `nlist` ~ sqrt(n) lists. IVF rather than HNSW because erfa updates and
  deletes records in place: IVF removes ids natively, HNSW cannot remove at all.
  Vectors are kept unquantised, so scores stay exact cosines and only recall is
  traded (recall@10 ~0.95 at 1M synthetic vectors, measured).

Filters stay correct at every size: `allowed` is passed into FAISS as an id
selector; on IVF the probe count grows as the allowed share shrinks, and a search
that still finds fewer than k falls back to probing every list (exact within the
allowed set), so a filtered page is never short.

Several service workers share one copy in memory: `load` memory-maps the file
(the flat codes via IO_FLAG_MMAP_IFC; IVF lists live in an `.ivfdata` file beside
the index, mapped read-only), so the page cache holds the vectors once however many
processes serve them. A mapped index is read-only: any change first makes a private
in-memory copy (the engine already works on `copy()`s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from erfa.index.atomic import atomic_file

EXACT_MAX = 32_768  # vectors; above this, exact search costs more than ~4 ms per query
NPROBE = 0  # lists probed per query on IVF; 0 = by size: nlist / 8 (see default_nprobe)
NPROBE_SHARE = 8  # probe 1/8 of the lists: recall@10 ~0.95 on the bench's (hard) 1M set
TRAIN_PER_LIST = 64  # k-means sample: 64 points per centroid (faiss wants >= 39)
KMEANS_ITER = 10  # centroid quality plateaus early; 10 keeps a 1M build well under a minute
IVFDATA_SUFFIX = ".ivfdata"

log = logging.getLogger("erfa.index")

# One query at a time needs no OpenMP team: at 10k vectors the scan takes ~1 ms, and
# waking a second thread that another worker (or the encoder) is using cost 10+ ms per
# search on the 2-core bench machine. Builds (k-means, bulk adds) use every core.
# OpenMP keeps the thread count per thread, so setting it here covers only the importing
# thread: the service searches from its thread pool, where every search still woke a team
# of two (issue 22: a flat pass 0.9 -> 1.9 ms, several ms more beside the encoder's threads).
# `_one_thread` sets it in each thread that searches.
faiss.omp_set_num_threads(1)
_single = threading.local()


def _one_thread() -> None:
    if not getattr(_single, "done", False):
        faiss.omp_set_num_threads(1)
        _single.done = True


@contextmanager
def _all_cores() -> Iterator[None]:
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)
        _single.done = True


@dataclass(frozen=True)
class IndexMeta:
    """What the file was built from; a mismatch with the store means 'rebuild'.

    `checksum` covers the saved bytes (index file, then its IVF lists file): FAISS
    reads a file whose vectors were zeroed or overwritten without complaint and then
    serves wrong results, so `save` fills it in and `load` refuses a file that no
    longer matches. None (a meta written before checksums) also means 'rebuild'.
    """

    generation: int
    model_id: str
    dim: int
    count: int
    checksum: str | None = None


def ivf_nlist(n: int) -> int:
    """Inverted lists for n vectors: the power of two nearest sqrt(n), at least 64.

    sqrt(n) balances the two costs of a query (comparing with every centroid, then
    scanning the probed lists).
    """
    return max(64, 1 << round(math.log2(max(1.0, math.sqrt(n)))))  # 2**k as an int: k >= 0 here


def default_nprobe(nlist: int) -> int:
    """Lists to probe: an eighth of them, at least 16.

    Chosen by measurement (bench/RESULTS.md): on the bench's synthetic 1M set a fixed
    32 of 1024 lists found only ~84% of the true top 10; an eighth reaches ~0.95.
    """
    return min(nlist, max(16, nlist // NPROBE_SHARE))


class VectorIndex:
    """Exact or IVF inner-product search over int64 ids, chosen by size.

    ``exact_max`` is the size up to which search stays exact (tests lower it to
    exercise IVF on small data); ``nprobe`` the IVF probe count (0: `default_nprobe`).
    """

    def __init__(self, dim: int, *, exact_max: int = EXACT_MAX, nprobe: int = NPROBE) -> None:
        self.dim = dim
        self.exact_max = exact_max
        self.nprobe = nprobe
        self._index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._mapped = False  # True while the data is a read-only map of a file

    # -- what kind -----------------------------------------------------------
    @property
    def kind(self) -> str:
        """ "flat" (exact) or "ivf<nlist>" (approximate), for logs and the bench."""
        return f"ivf{self._index.nlist}" if self._is_ivf else "flat"

    @property
    def _is_ivf(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    # -- writes --------------------------------------------------------------
    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not len(self) and len(ids) > self.exact_max:  # a rebuild: straight to IVF, no flat detour
            self._index = self._build(ids, vectors, ivf_nlist(len(ids)))
            self._mapped = False
            return
        self._writable()
        self.remove(ids)
        self._index.add_with_ids(vectors, ids)
        self._retype()

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids) or not len(self):
            return 0
        self._writable()
        # IVF's id hashtable only removes through an explicit id array
        sel = faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)) if self._is_ivf else faiss.IDSelectorBatch(ids)
        n = int(self._index.remove_ids(sel))
        if n:
            self._retype()
        return n

    def copy(self) -> VectorIndex:
        """An independent, writable copy, so a writer can change it while readers search the old one."""
        other = VectorIndex.__new__(VectorIndex)
        other.dim, other.exact_max, other.nprobe = self.dim, self.exact_max, self.nprobe
        other._mapped = False
        other._index = self._owned_copy() if self._mapped else faiss.clone_index(self._index)
        if other._is_ivf:
            other._index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return other

    def _writable(self) -> None:
        if self._mapped:
            self._index = self._owned_copy()
            if self._is_ivf:
                self._index.set_direct_map_type(faiss.DirectMap.Hashtable)
            self._mapped = False

    def _owned_copy(self) -> faiss.Index:
        """Read a mapped index into private memory (faiss cannot clone a mapped one).

        IVF lists are copied list by list, so no vector is re-assigned to a centroid.
        """
        if not self._is_ivf:
            ids, vecs = self._all()
            return self._build(ids, vecs, 0)
        src = self._index
        quantizer = faiss.clone_index(src.quantizer)
        index = faiss.IndexIVFFlat(quantizer, self.dim, src.nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()
        index.is_trained = True
        index.nprobe = src.nprobe
        inv = faiss.downcast_InvertedLists(src.invlists)
        for lst in range(src.nlist):
            size = inv.list_size(lst)
            if size:
                index.invlists.add_entries(lst, size, inv.get_ids(lst), inv.get_codes(lst))
        index.ntotal = src.ntotal
        return index

    def _retype(self) -> None:
        """Switch between exact and IVF when the size crosses the thresholds.

        Hysteresis (IVF down to half of EXACT_MAX) keeps an index hovering around the
        threshold from being retrained on every write; IVF is retrained when the
        collection has outgrown its lists fourfold.
        """
        n = len(self)
        if not self._is_ivf and n > self.exact_max:
            target = ivf_nlist(n)
        elif self._is_ivf and n < self.exact_max // 2:
            target = 0
        elif self._is_ivf and ivf_nlist(n) >= 4 * self._index.nlist:
            target = ivf_nlist(n)
        else:
            return
        ids, vecs = self._all()
        self._index = self._build(ids, vecs, target)

    def _build(
        self, ids: np.ndarray, vecs: np.ndarray, nlist: int, quantizer: faiss.Index | None = None
    ) -> faiss.Index:
        """A new index over (ids, vecs): flat when nlist is 0, else IVF (trained unless a quantizer is given)."""
        if not nlist:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            if len(ids):
                index.add_with_ids(vecs, ids)
            return index
        trained = quantizer is not None
        quantizer = quantizer or faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()  # the IVF index frees it
        index.nprobe = min(self.nprobe or default_nprobe(nlist), nlist)
        if trained:
            index.is_trained = True
        else:
            sample = vecs
            if len(vecs) > TRAIN_PER_LIST * nlist:
                pick = np.random.default_rng(1234).choice(len(vecs), TRAIN_PER_LIST * nlist, replace=False)
                sample = vecs[np.sort(pick)]
            index.cp.niter = KMEANS_ITER
            index.cp.seed = 1234
            with _all_cores():
                index.train(np.ascontiguousarray(sample))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # vector(id) and remove_ids by id
        if len(ids):
            with _all_cores():
                index.add_with_ids(vecs, ids)
        return index

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) pair, in storage order."""
        n = len(self)
        if not self._is_ivf:
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            inner = faiss.downcast_index(self._index.index)
            vecs = inner.reconstruct_n(0, n) if n else np.empty((0, self.dim), np.float32)
            return ids, np.ascontiguousarray(vecs, dtype=np.float32)
        inv = faiss.downcast_InvertedLists(self._index.invlists)
        all_ids, all_vecs = [], []
        for lst in range(self._index.nlist):
            size = inv.list_size(lst)
            if not size:
                continue
            all_ids.append(faiss.rev_swig_ptr(inv.get_ids(lst), size).copy())
            codes = faiss.rev_swig_ptr(inv.get_codes(lst), size * self._index.code_size)
            all_vecs.append(np.frombuffer(codes, dtype=np.float32).reshape(size, self.dim).copy())
        if not all_ids:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        return np.concatenate(all_ids).astype(np.int64), np.concatenate(all_vecs)

    # -- reads ---------------------------------------------------------------
    def vector(self, id_: int) -> np.ndarray | None:
        try:
            vec: np.ndarray = self._index.reconstruct(int(id_))
            return vec
        except RuntimeError:  # faiss raises when the id is not present
            return None

    def vectors(self, ids: np.ndarray) -> np.ndarray | None:
        """The vectors of ``ids`` in one call (a search reads some hundred of them: one call
        each cost more than the dense search itself); None when any of them is not here."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return np.empty((0, self.dim), np.float32)
        try:
            found: np.ndarray = self._index.reconstruct_batch(ids)
            return found
        except RuntimeError:
            return None

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
        excluded_selector: faiss.IDSelector | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query vector; missing slots are dropped.

        ``allowed`` restricts the search to those ids inside FAISS, so a filter never
        leaves a page short the way filtering after the search would; ``excluded`` hides
        ids the same way (vectors a later write replaced, see `LayeredVectors`).
        """
        _one_thread()
        if allowed is not None and excluded is not None and len(excluded):
            allowed, excluded = allowed[~np.isin(allowed, excluded)], None
        n_allowed = len(self) if allowed is None else len(allowed)
        k = min(k, len(self), n_allowed)
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if allowed is not None:
            sel = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        elif excluded is not None and len(excluded):
            sel = excluded_selector or _not_in(excluded)
        else:
            sel = None
        if not self._is_ivf:
            params = None if sel is None else faiss.SearchParameters(sel=sel)
            scores, ids = self._index.search(q, k, params=params)
        else:
            nlist = self._index.nlist
            nprobe = min(nlist, self._index.nprobe)
            if allowed is not None:  # probe more lists when few vectors are allowed
                nprobe = min(nlist, math.ceil(nprobe * len(self) / max(1, n_allowed)))
            scores, ids = self._index.search(q, k, params=faiss.SearchParametersIVF(sel=sel, nprobe=nprobe))
            if int((ids[0] >= 0).sum()) < k and nprobe < nlist:  # short page: probe everything (exact)
                scores, ids = self._index.search(q, k, params=faiss.SearchParametersIVF(sel=sel, nprobe=nlist))
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def within(
        self,
        query: np.ndarray,
        radius: float,
        allowed: np.ndarray | None = None,
        excluded_selector: faiss.IDSelector | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every (score, id) scoring above ``radius``: how many projects match a need, not
        just the best k. Exact on flat indexes; on IVF, within the probed lists."""
        _one_thread()
        if not len(self) or (allowed is not None and not len(allowed)):
            return np.empty(0, np.float32), np.empty(0, np.int64)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        sel = (
            faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            if allowed is not None
            else excluded_selector
        )
        if self._is_ivf:
            params: faiss.SearchParameters = faiss.SearchParametersIVF(
                sel=sel, nprobe=min(self._index.nlist, self._index.nprobe)
            )
        else:
            params = faiss.SearchParameters(sel=sel) if sel is not None else None
        _, scores, ids = self._index.range_search(q, float(radius), params=params)
        return scores.astype(np.float32), ids.astype(np.int64)

    def search_exact(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k whatever the index type: the bench's and tests' ground truth."""
        _one_thread()
        if not self._is_ivf:
            return self.search(query, k)
        nlist = self._index.nlist
        scores, ids = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32),
            k,
            params=faiss.SearchParametersIVF(nprobe=nlist),
        )
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def set_nprobe(self, nprobe: int) -> None:
        """Change the IVF probe count (kept in the saved file)."""
        self.nprobe = nprobe
        if self._is_ivf:
            self._index.nprobe = min(nprobe or default_nprobe(self._index.nlist), self._index.nlist)

    def ids(self) -> np.ndarray:
        if not self._is_ivf:
            held: np.ndarray = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            return held
        return self._all()[0]

    # -- persistence ------------------------------------------------------------
    def save(self, path: Path, meta: IndexMeta) -> None:
        """Write index then meta, each via temp file + rename.

        The meta names the generation; it is written last, so a crash in between
        leaves a meta that no longer matches the store and forces a rebuild. An IVF
        index's lists go to a new uniquely named `.ivfdata` file first (the index
        file names it), so the previous file stays valid for readers that still map
        it; files no longer named are deleted afterwards (a reader that mapped one
        keeps its pages until it reloads).
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        data = None
        sums: list[str] = []
        if self._is_ivf:
            ivfdata = data = path.parent / f"{path.name}.{uuid.uuid4().hex[:12]}{IVFDATA_SUFFIX}"

            def write(tmp: Path) -> None:
                self._write_ivf(tmp, ivfdata)
                sums.append(file_checksum(tmp, ivfdata))
        else:

            def write(tmp: Path) -> None:
                faiss.write_index(self._index, str(tmp))
                sums.append(file_checksum(tmp))

        atomic_file(path, write)
        meta = dataclasses.replace(meta, checksum=sums[0])
        atomic_file(_meta_path(path), lambda tmp: tmp.write_text(json.dumps(meta.__dict__), encoding="utf-8"))
        for old in path.parent.glob(f"{path.name}.*{IVFDATA_SUFFIX}"):
            if old != data:
                old.unlink(missing_ok=True)

    def _write_ivf(self, tmp: Path, data: Path) -> None:
        """Write the lists into `data` (on-disk layout) and the index naming it into `tmp`."""
        index = self._index
        ondisk = faiss.OnDiskInvertedLists(index.nlist, index.code_size, str(data))
        lists = faiss.InvertedListsPtrVector()
        lists.push_back(index.invlists)
        try:
            with _quiet_stdio():
                ondisk.merge_from_multiple(lists.data(), lists.size(), False, False)
            with open(data, "rb") as f:
                os.fsync(f.fileno())
            original = index.invlists
            index.own_invlists = False  # replace_invlists would otherwise free the in-memory lists
            index.replace_invlists(ondisk, False)
            try:
                faiss.write_index(index, str(tmp))
            finally:
                index.replace_invlists(original, True)
        except BaseException:
            data.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, *, mmap: bool = True) -> tuple[VectorIndex, IndexMeta] | None:
        """The saved index and its meta, or None when absent or unreadable.

        With ``mmap`` (the default) the vectors are mapped from the file rather than
        read, so start-up is instant and processes share the pages.
        """
        mp = _meta_path(path)
        if not path.is_file() or not mp.is_file():
            return None
        try:
            meta = IndexMeta(**json.loads(mp.read_text(encoding="utf-8")))
            with open(path, "rb") as f:
                ivf = f.read(4) == b"IwFl"  # IndexIVFFlat's tag
            if ivf:  # the lists file is mapped by faiss itself, which prints while opening it
                with _quiet_stdio():
                    raw = faiss.read_index(str(path), faiss.IO_FLAG_ONDISK_SAME_DIR)
            else:
                raw = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            log.warning(
                "%s cannot be read (%s: %s): rebuilding it from the stored vectors",
                path,
                type(exc).__name__,
                str(exc).strip().splitlines()[-1] if str(exc).strip() else "",
            )
            return None
        if raw.d != meta.dim or raw.ntotal != meta.count:
            log.warning(
                "%s holds %d vectors of %d dimensions, its meta says %d of %d: rebuilding it from the stored vectors",
                path,
                raw.ntotal,
                raw.d,
                meta.count,
                meta.dim,
            )
            return None
        files = [path]
        if isinstance(raw, faiss.IndexIVF):
            lists = faiss.downcast_InvertedLists(raw.invlists)
            if isinstance(lists, faiss.OnDiskInvertedLists):
                files.append(Path(lists.filename))
                # FAISS starts `prefetch_nthread` (32) threads on every search to touch the probed lists'
                # pages ahead of the scan: meant for spinning disks, here it made a 100k search 5x slower
                # (3.5 -> 0.7 ms a pass, bench/ENGINE.md, issue 22). The map is read in place all the same.
                lists.prefetch_nthread = 0
        try:
            actual = file_checksum(*files)
        except OSError:
            return None
        if meta.checksum is None or actual != meta.checksum:
            log.warning(
                "%s does not match the checksum in its meta file (%s): rebuilding it from the stored vectors",
                path,
                "damaged on disk" if meta.checksum else "written before checksums",
            )
            return None
        self = cls(meta.dim)
        if isinstance(raw, faiss.IndexIDMap2):  # read_index already returns the concrete type
            self._index = raw
            self._mapped = mmap
        elif isinstance(raw, faiss.IndexIVFFlat) and raw.metric_type == faiss.METRIC_INNER_PRODUCT:
            self._index = raw
            self._mapped = True  # on-disk lists: always a read-only map
            if not mmap:
                self._writable()
            else:
                self._index.set_direct_map_type(faiss.DirectMap.Hashtable)
        else:
            return None
        return self, meta


def _not_in(ids: np.ndarray) -> faiss.IDSelector:
    hidden = np.ascontiguousarray(ids, dtype=np.int64)
    inner = faiss.IDSelectorBatch(hidden)
    sel = faiss.IDSelectorNot(inner)
    sel.keep_alive = (hidden, inner)  # FAISS holds raw pointers to both
    return sel


class LayeredVectors:
    """A saved base index plus the vectors written since, searched as one.

    Copying or re-saving a 100k-project base on every write costs seconds; a write
    instead builds a new small `delta` (flat, exact) and hides the base's now-stale
    slots. Readers of the old layers are never disturbed: the base is never changed,
    and each write makes new delta and hidden arrays. The engine folds the delta into
    a new base (a checkpoint) once it grows past a share of the base.
    """

    def __init__(
        self,
        base: VectorIndex,
        delta: VectorIndex | None = None,
        hidden: np.ndarray | None = None,
        hidden_in_base: int = 0,
    ) -> None:
        self.base = base
        self.delta = delta if delta is not None else VectorIndex(base.dim)
        self.hidden = hidden if hidden is not None else np.empty(0, np.int64)  # sorted ids the base must not show
        self._hidden_in_base = hidden_in_base  # how many of them the base holds (for len)
        self._selector: faiss.IDSelector | None = None

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def kind(self) -> str:
        return self.base.kind

    def __len__(self) -> int:
        return len(self.base) - self._hidden_in_base + len(self.delta)

    def changed(self, remove: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> LayeredVectors:
        """New layers: ``remove`` slots gone (from base and delta), then (ids, vectors) added."""
        delta = self.delta.copy()
        gone = np.unique(np.concatenate([np.asarray(remove, np.int64), np.asarray(ids, np.int64)]))
        delta.remove(gone)
        delta.upsert(ids, vectors)
        new = np.setdiff1d(gone, self.hidden)
        in_base = sum(self.base.vector(int(i)) is not None for i in new)
        return LayeredVectors(self.base, delta, np.union1d(self.hidden, gone), self._hidden_in_base + in_base)

    def _hidden_selector(self) -> faiss.IDSelector | None:
        """Built once per layers (a hash set of the hidden ids), not once per search."""
        if not len(self.hidden):
            return None
        if self._selector is None:
            self._selector = _not_in(self.hidden)
        return self._selector

    def vector(self, id_: int) -> np.ndarray | None:
        v = self.delta.vector(id_) if len(self.delta) else None
        if v is not None:
            return v
        if len(self.hidden) and self.hidden[min(int(np.searchsorted(self.hidden, id_)), len(self.hidden) - 1)] == id_:
            return None
        return self.base.vector(id_)

    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, found) for ``ids``: one batched read when every id is in the base and
        none is hidden (the usual case), else one read per id; rows not found are zero."""
        ids = np.asarray(ids, np.int64)
        if not len(self.delta) and not len(self.hidden):
            batch = self.base.vectors(ids)
            if batch is not None:
                return batch, np.ones(len(ids), bool)
        out = np.zeros((len(ids), self.dim), np.float32)
        found = np.zeros(len(ids), bool)
        for i, id_ in enumerate(ids.tolist()):
            v = self.vector(id_)
            if v is not None:
                out[i], found[i] = v, True
        return out, found

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.base.search(query, k, allowed, self.hidden, self._hidden_selector())
        if not len(self.delta):
            return scores, ids
        d_scores, d_ids = self.delta.search(query, k, allowed)
        scores, ids = np.concatenate([scores, d_scores]), np.concatenate([ids, d_ids])
        top = np.argsort(-scores, kind="stable")[:k]
        return scores[top], ids[top]

    def within(
        self, query: np.ndarray, radius: float, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        if allowed is not None and len(self.hidden):
            base_allowed = allowed[~np.isin(allowed, self.hidden)]
            scores, ids = self.base.within(query, radius, base_allowed)
        else:
            scores, ids = self.base.within(query, radius, allowed, self._hidden_selector())
        if not len(self.delta):
            return scores, ids
        d_scores, d_ids = self.delta.within(query, radius, allowed)
        return np.concatenate([scores, d_scores]), np.concatenate([ids, d_ids])

    def ids(self) -> np.ndarray:
        base = self.base.ids()
        return np.concatenate([base[~np.isin(base, self.hidden)], self.delta.ids()])


def file_checksum(*files: Path) -> str:
    """CRC-32 of the files' bytes in order, read in 1 MiB chunks.

    CRC rather than a cryptographic hash: it guards against damage, not an attacker
    (who could rewrite the meta file too), and at ~1.7 GB/s it adds under a second
    to opening even a million vectors.
    """
    crc = 0
    for file in files:
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
    return f"crc32:{crc:08x}"


def _meta_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".meta.json")


class _quiet_stdio:
    """Silence faiss' on-disk list messages ("resizing ...", "updating ondisk filename"),
    which it prints to the process's stdout/stderr and would clutter service logs."""

    def __enter__(self) -> None:
        import sys

        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError):  # a closed or replaced stream has nothing to flush
                stream.flush()
        self._saved = []
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            return
        for fd in (1, 2):
            try:
                self._saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
            except OSError:
                pass
        os.close(devnull)

    def __exit__(self, *exc: object) -> None:
        for fd, saved in self._saved:
            os.dup2(saved, fd)
            os.close(saved)
