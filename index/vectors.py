"""The FAISS side: an id-mapped inner-product index over normalised vectors.

Only this module imports faiss, so the index type can change (IVF, HNSW at scale)
without the rest of erfa noticing. Ids are the store's rowids, so a record keeps its
vector slot across updates (remove-then-add under the same id).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np


@dataclass(frozen=True)
class IndexMeta:
    """What the file was built from; a mismatch with the store means 'rebuild'."""

    generation: int
    model_id: str
    dim: int
    count: int


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return
        self.remove(ids)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))

    def vector(self, id_: int) -> np.ndarray | None:
        try:
            return self._index.reconstruct(int(id_))
        except RuntimeError:  # faiss raises when the id is not present
            return None

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query vector; missing slots are dropped."""
        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    # -- persistence ------------------------------------------------------------
    def save(self, path: Path, meta: IndexMeta) -> None:
        """Write index then meta, each via temp file + rename.

        The meta names the generation; it is written last, so a crash in between
        leaves a meta that no longer matches the store and forces a rebuild.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic(path, lambda tmp: faiss.write_index(self._index, str(tmp)))
        _atomic(_meta_path(path), lambda tmp: tmp.write_text(json.dumps(meta.__dict__), encoding="utf-8"))

    @classmethod
    def load(cls, path: Path) -> tuple["VectorIndex", IndexMeta] | None:
        """The saved index and its meta, or None when absent or unreadable."""
        mp = _meta_path(path)
        if not path.is_file() or not mp.is_file():
            return None
        try:
            meta = IndexMeta(**json.loads(mp.read_text(encoding="utf-8")))
            raw = faiss.read_index(str(path))
        except (OSError, ValueError, TypeError, RuntimeError):
            return None
        if raw.d != meta.dim or raw.ntotal != meta.count:
            return None
        self = cls.__new__(cls)
        self.dim = meta.dim
        if not isinstance(raw, faiss.IndexIDMap2):  # read_index already returns the concrete type
            return None
        self._index = raw
        return self, meta


def _meta_path(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".meta.json")


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
