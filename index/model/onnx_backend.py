"""Run a sentence-transformers folder with ONNX Runtime and `tokenizers` alone.

Why: on a 2-core CPU the plain torch path spends ~25 ms per short query, mostly
per-call overhead, and most of a cold start importing torch, transformers and
sentence-transformers (~10 s). The same BERT graph under ONNX Runtime encodes a query
2-3.6x faster (batches equally fast: the matrix products dominate there), and the
serving path then imports neither torch nor transformers (measured in bench/RESULTS.md;
the choice is recorded in models.md).

The graph is exported once, with torch, next to the weights (``onnx/model.onnx``)
and includes mean pooling and L2 normalisation, so the runtime returns the final
vector. The word-embedding table (250k tokens x 384 = 366 MiB of e5-small's 450) is
kept out of the graph in a .npy file that is memory-mapped and looked up with numpy:
only the rows of tokens actually seen are ever paged in, the pages are shared by all
workers, and the session loads in a fraction of the time. The arithmetic is the
same; the export is checked against the full torch model before it is kept. It is
written to a temp folder and renamed into place (like the model build) under a file
lock, so several workers starting together export it once and nobody ever loads half a
file. A small JSON beside it names the weights it came from; a
changed ``model.safetensors`` means a new export.

Only folders whose pipeline is Transformer -> mean Pooling -> Normalize are
supported (e5, most multilingual MiniLM/mpnet models); anything else raises
`OnnxUnsupported` so the caller can fall back to torch.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from erfa.index.atomic import atomic_folder

log = logging.getLogger("erfa.index")

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
ONNX_INFO = "erfa_onnx.json"
EMBEDDINGS_FILE = "word_embeddings.npy"
# Bump when the exported graph changes (inputs, pooling, opset): old exports are redone.
EXPORT_RECIPE = 2
OPSET = 17
# The export is compared with the torch model it came from on these before it is kept.
EXPORT_CHECK_TEXTS = (
    "query: chattbot som svarar på frågor om bygglov",
    "passage: Kommunen bygger en løsning som automatisk sorterer innkommende post og søknader.",
    "passage: The agency uses machine learning to flag tax returns for manual review, with human oversight.",
)
EXPORT_MIN_COSINE = 0.999


class OnnxUnsupported(RuntimeError):
    """This model folder cannot be run (or exported) with the ONNX backend."""


def _read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def _json_object(path: Path) -> dict[str, Any]:
    """A config file that must hold one JSON object (``null`` reads as empty).

    Its values are JSON of any shape, hence ``Any``: each caller converts the keys it reads.
    """
    data = _read_json(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OnnxUnsupported(f"{path} holds {type(data).__name__}, not a JSON object")
    return data


class FolderSettings(TypedDict):
    """What the ONNX path needs from a sentence-transformers folder (see folder_settings)."""

    dim: int
    max_tokens: int
    prompts: dict[str, str]
    pad_id: int
    normalize: bool
    type_vocab_size: int


def folder_settings(folder: Path) -> FolderSettings:
    """Dimension, max tokens, prompts and pad id from the folder's own config files.

    Read directly rather than through sentence-transformers so the ONNX path never
    imports it; refuses pipelines it would not reproduce exactly.
    """
    folder = Path(folder)
    try:
        modules = _read_json(folder / "modules.json")
        config = _read_json(folder / "config.json")
    except (OSError, ValueError) as exc:
        raise OnnxUnsupported(f"{folder} is not a sentence-transformers folder: {exc}") from exc
    assert isinstance(modules, list) and isinstance(config, dict)
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k not in ("Normalize",) for k in kinds[2:]):
        raise OnnxUnsupported(f"pipeline {kinds} is not Transformer -> Pooling [-> Normalize]")
    pooling_dir = folder / str(modules[1].get("path") or "1_Pooling")
    pooling = _read_json(pooling_dir / "config.json")
    assert isinstance(pooling, dict)
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise OnnxUnsupported(f"pooling {modes} is not plain mean pooling")
    if config.get("model_type") not in ("bert", "xlm-roberta", "roberta", "mpnet", "distilbert"):
        raise OnnxUnsupported(f"model type {config.get('model_type')!r} is not exported by erfa")
    st_cfg = folder / "sentence_bert_config.json"
    max_len = int(_json_object(st_cfg).get("max_seq_length") or 512) if st_cfg.is_file() else 512
    max_len = min(max_len, int(config.get("max_position_embeddings") or 512))
    prompts: dict[str, str] = {}
    cst = folder / "config_sentence_transformers.json"
    if cst.is_file():
        prompts = {str(k): str(v) for k, v in dict(_json_object(cst).get("prompts") or {}).items()}
    return {
        "dim": int(pooling.get("word_embedding_dimension") or config["hidden_size"]),
        "max_tokens": max_len,
        "prompts": prompts,
        "pad_id": int(config.get("pad_token_id") or 0),
        "normalize": "Normalize" in kinds,
        "type_vocab_size": int(config.get("type_vocab_size") or 0),
    }


def _source_stamp(folder: Path) -> dict[str, object]:
    """What the export was made from: weight file names, sizes and mtimes (cheap to compare)."""
    files = sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())
    if not files:
        raise OnnxUnsupported(f"{folder} holds no weight file (model.safetensors)")
    return {p.name: [p.stat().st_size, int(p.stat().st_mtime)] for p in files}


def onnx_path(folder: Path) -> Path:
    return Path(folder) / ONNX_DIR / ONNX_FILE


def is_exported(folder: Path) -> bool:
    info = Path(folder) / ONNX_DIR / ONNX_INFO
    if (
        not info.is_file()
        or not onnx_path(folder).is_file()
        or not (Path(folder) / ONNX_DIR / EMBEDDINGS_FILE).is_file()
    ):
        return False
    try:
        data = _read_json(info)
    except (OSError, ValueError):
        return False
    assert isinstance(data, dict)
    try:
        stamp = _source_stamp(Path(folder))
    except OnnxUnsupported:
        return False
    return data.get("recipe") == EXPORT_RECIPE and data.get("source") == stamp


def ensure_exported(folder: Path) -> Path:
    """The folder's ONNX graph, exporting it once (with torch) if missing or stale."""
    folder = Path(folder)
    folder_settings(folder)  # refuse unsupported pipelines before taking any lock
    if is_exported(folder):
        return onnx_path(folder)
    try:
        lock_file = open(folder / ".onnx-export.lock", "w")  # noqa: SIM115 - only opening becomes OnnxUnsupported; `with` closes it
    except OSError as exc:
        raise OnnxUnsupported(f"cannot write the ONNX export into {folder}: {exc}") from exc
    with lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # another worker may be exporting right now
        try:
            if not is_exported(folder):
                _export(folder)
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
    return onnx_path(folder)


def _export(folder: Path) -> None:
    """Trace the torch model (with pooling and normalisation) to ONNX, check it, rename it in.

    Uses the TorchScript exporter (``dynamo=False``): it needs no extra package and
    gives a graph ONNX Runtime fuses well (attention, GELU, LayerNorm).
    """
    import time
    import warnings

    started = time.perf_counter()
    log.info("exporting %s to ONNX (once; about 10-20 s)", folder)
    settings = folder_settings(folder)
    try:
        import torch
        from transformers import AutoModel

        from erfa.index.model.quiet import quiet_transformers

        quiet_transformers()
    except ImportError as exc:
        raise OnnxUnsupported(f"exporting to ONNX needs torch and transformers: {exc}") from exc

    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    use_types = settings["type_vocab_size"] > 0

    class Pooled(torch.nn.Module):
        """The sentence-transformers pipeline after the word-embedding lookup, in one graph."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            kwargs = {"token_type_ids": torch.zeros_like(attention_mask)} if use_types else {}
            hidden = self.inner(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            # Always normalised: erfa's Encoder promises unit vectors (inner product = cosine),
            # as the torch path does with normalize_embeddings=True.
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    wrapped = Pooled(model).eval()
    table = model.get_input_embeddings().weight.detach().numpy().astype(np.float32)
    dummy = (torch.zeros(2, 8, table.shape[1], dtype=torch.float32), torch.ones(2, 8, dtype=torch.long))
    out_dir = folder / ONNX_DIR
    with atomic_folder(out_dir, ".onnx-") as tmp:
        np.save(tmp / EMBEDDINGS_FILE, table)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                dummy,
                str(tmp / ONNX_FILE),
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["sentence_embedding"],
                dynamic_axes={
                    "inputs_embeds": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        # Check the export against the whole torch model (lookup included) at padded lengths.
        runner = OnnxRunner(
            folder, graph=tmp / ONNX_FILE, embeddings=tmp / EMBEDDINGS_FILE, threads=os.cpu_count() or 1
        )
        got = runner.run(list(EXPORT_CHECK_TEXTS))
        enc = runner.tokenizer.encode_batch(list(EXPORT_CHECK_TEXTS))
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        am = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
        with torch.no_grad():
            kwargs = {"token_type_ids": torch.zeros_like(ids)} if use_types else {}
            hidden = model(input_ids=ids, attention_mask=am, **kwargs).last_hidden_state
            m = am.unsqueeze(-1).to(hidden.dtype)
            ref = ((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)).numpy()
        del runner
        cos = float(min(_cosines(got, ref)))
        if not cos >= EXPORT_MIN_COSINE:
            raise OnnxUnsupported(f"the ONNX export disagrees with torch (cosine {cos:.5f} < {EXPORT_MIN_COSINE})")
        info = {"recipe": EXPORT_RECIPE, "opset": OPSET, "source": _source_stamp(folder), "check_cosine": round(cos, 6)}
        (tmp / ONNX_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    log.info("ONNX export done in %.1f s (cosine with torch %.6f)", time.perf_counter() - started, cos)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cosines: np.ndarray = (a * b).sum(1)  # numpy's stubs type a reduction as Any
    return cosines


class OnnxRunner:
    """Tokenise with `tokenizers` and run the exported graph with ONNX Runtime.

    ``threads`` is ONNX Runtime's intra-op pool size. Several service workers on two
    cores each get ``cores // workers`` threads (Settings.encoder_options), and the
    pool does not busy-wait between runs, so the request thread (ranking, JSON) and the
    other workers keep their cores.
    """

    def __init__(
        self,
        folder: Path,
        *,
        graph: Path | None = None,
        embeddings: Path | None = None,
        threads: int = 1,
        spin: bool = False,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        settings = folder_settings(folder)
        self.dim = settings["dim"]
        self.max_tokens = settings["max_tokens"]
        self.prompts: dict[str, str] = dict(settings["prompts"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding(pad_id=settings["pad_id"], pad_token=self._pad_token(folder))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Full graph optimisation at load (~1 s) measured faster than loading a graph
        # pre-optimised at export time; the fused kernels are chosen for this CPU.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # off unless asked for (ERFA_ORT_SPIN): measured the same p50 and a lower p99 (bench/RESULTS.md)
        if not spin:  # idle pool threads busy-waiting would steal the cores the request thread needs
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(graph or onnx_path(folder)), opts, providers=["CPUExecutionProvider"])
        self.threads = opts.intra_op_num_threads
        # Read-only map: rows are paged in on first use and shared with every other worker.
        self.embeddings = np.load(embeddings or folder / ONNX_DIR / EMBEDDINGS_FILE, mmap_mode="r")

    @staticmethod
    def _pad_token(folder: Path) -> str:
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            p = folder / name
            if p.is_file():
                pad = _json_object(p).get("pad_token")
                if isinstance(pad, dict):
                    pad = pad.get("content")
                if pad:
                    return str(pad)
        return "[PAD]"

    def run(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for already-prompted texts, one batch padded to its longest text."""
        if not len(texts):
            return np.empty((0, self.dim), dtype=np.float32)
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        embeds = np.ascontiguousarray(self.embeddings[ids], dtype=np.float32)
        (out,) = self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})
        return np.ascontiguousarray(out, dtype=np.float32)
