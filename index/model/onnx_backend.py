"""Run a sentence-transformers folder with ONNX Runtime alone (pieces.py finds the word pieces).

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
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from erfa.index.atomic import atomic_file, atomic_folder
from erfa.index.model import pieces

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
# The int8 query graph (issue 22): quantized from the fp32 export, kept only while it stays this
# close to it on the check texts. Bump the recipe when the quantization settings change.
QUANTIZED_FILE = "model.int8.onnx"
QUANTIZED_INFO = "erfa_int8.json"
QUANTIZE_RECIPE = 2
QUANTIZED_MIN_COSINE = 0.99


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
    if not is_exported(folder):
        with _export_lock(folder):
            if not is_exported(folder):
                _export(folder)
    return onnx_path(folder)


@contextmanager
def _export_lock(folder: Path) -> Iterator[None]:
    """One writer of the folder's onnx/ at a time: several workers starting together
    export (and quantize) once, and the others wait and then read what it wrote."""
    try:
        lock_file = open(folder / ".onnx-export.lock", "w")  # noqa: SIM115 - only opening becomes OnnxUnsupported; `with` closes it
    except OSError as exc:
        raise OnnxUnsupported(f"cannot write the ONNX export into {folder}: {exc}") from exc
    with lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def quantized_path(folder: Path) -> Path:
    return Path(folder) / ONNX_DIR / QUANTIZED_FILE


def _quantized_stamp(folder: Path) -> dict[str, object]:
    """What an int8 graph is made from: the recipe and the fp32 export's own record (a new
    export, or new weights under it, means a new int8 graph)."""
    return {"recipe": QUANTIZE_RECIPE, "export": _read_json(Path(folder) / ONNX_DIR / ONNX_INFO)}


def is_quantized(folder: Path) -> bool:
    info = Path(folder) / ONNX_DIR / QUANTIZED_INFO
    if not is_exported(folder) or not info.is_file() or not quantized_path(folder).is_file():
        return False
    try:
        data = _read_json(info)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {k: data.get(k) for k in ("recipe", "export")} == _quantized_stamp(folder)


def ensure_quantized(folder: Path) -> Path:
    """The folder's int8 query graph, made once from the fp32 export (no torch needed).

    Why: a need is encoded one at a time while someone waits, and there int8 weights
    (onnxruntime's dynamic quantization, per output channel) cost half the CPU of fp32
    on this CPU, every real need at cosine >= 0.998 to fp32 (bench/quantize.py, models.md).
    Asked for with ERFA_QUERY_PRECISION=int8: it moves the real-data splits by up to 0.03.
    Passages stay fp32: they are encoded once, in batches, and are what every later
    search is measured against.
    """
    folder = Path(folder)
    ensure_exported(folder)
    if not is_quantized(folder):
        with _export_lock(folder):
            if not is_quantized(folder):
                _quantize(folder)
    return quantized_path(folder)


def quantize_graph(source: Path, dest: Path) -> None:
    """int8 weights per output channel in 7 bits (``reduce_range``), activations quantized per
    run, except the feed-forward down-projections of the first half of the layers, which stay
    fp32: the settings bench/quantize.py measured closest to fp32 for their speed. Those
    projections read the GELU's outputs, whose few large values a per-run int8 scale crushes;
    keeping all twelve costs 1.2x the time for little more. Seven bits keep the integer
    products from saturating on CPUs without VNNI instructions; with VNNI they cost nothing."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise OnnxUnsupported(f"quantizing the query graph needs onnxruntime's quantization tools: {exc}") from exc
    graph = onnx.load(str(source), load_external_data=False)
    root = logging.getLogger()
    chatter = _FromModule("onnxruntime/quantization")
    root.addFilter(chatter)  # the tool logs a line per layer on the root logger: not for erfa's log
    try:
        quantize_dynamic(
            str(source),
            str(dest),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            nodes_to_exclude=_kept_in_fp32([n.name for n in graph.graph.node if n.op_type == "MatMul"]),
        )
    finally:
        root.removeFilter(chatter)


_DOWN_PROJECTION = re.compile(r"layer\.(\d+)/output/dense/MatMul")


def _kept_in_fp32(matmuls: list[str]) -> list[str]:
    """The first half of the layers' feed-forward down-projections, by their exported names
    (BERT and XLM-R name them ``.../layer.N/output/dense/MatMul``; a graph named otherwise
    is quantized whole and still has to pass the cosine check)."""
    layers = {name: int(m.group(1)) for name in matmuls if (m := _DOWN_PROJECTION.search(name))}
    half = (max(layers.values(), default=-1) + 1) // 2
    return [name for name, layer in layers.items() if layer < half]


class _FromModule(logging.Filter):
    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.pathname.replace(os.sep, "/")


def _quantize(folder: Path) -> None:
    """Quantize the fp32 export beside it, check the result against it, rename it in.

    The graph goes in first and its record last, so a crash between them leaves a record
    that does not match and the next start quantizes again."""
    import time

    started = time.perf_counter()
    out_dir = folder / ONNX_DIR
    (out_dir / QUANTIZED_INFO).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=out_dir) as tmp:
        graph = Path(tmp) / QUANTIZED_FILE
        quantize_graph(onnx_path(folder), graph)
        texts = list(EXPORT_CHECK_TEXTS)
        try:
            runner = OnnxRunner(folder, quantized=graph, threads=os.cpu_count() or 1)
            cos = float(min(_cosines(runner.run(texts, quantized=True), runner.run(texts))))
            del runner
        except Exception as exc:  # ONNX Runtime raises its own kinds for a graph it cannot load or run
            raise OnnxUnsupported(f"the int8 graph does not run: {exc}") from exc
        if not cos >= QUANTIZED_MIN_COSINE:
            raise OnnxUnsupported(f"the int8 graph disagrees with fp32 (cosine {cos:.5f} < {QUANTIZED_MIN_COSINE})")
        os.chmod(graph, onnx_path(folder).stat().st_mode & 0o777)  # readable by whoever reads the export
        with open(graph, "rb") as f:
            os.fsync(f.fileno())
        os.replace(graph, quantized_path(folder))
    info = {**_quantized_stamp(folder), "check_cosine": round(cos, 6)}
    atomic_file(out_dir / QUANTIZED_INFO, lambda p: p.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8"))
    log.info("int8 query graph made in %.1f s (cosine with fp32 %.5f)", time.perf_counter() - started, cos)


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
        id_rows, mask_rows = runner.pieces.encode(list(EXPORT_CHECK_TEXTS), runner.max_tokens)
        ids, am = torch.from_numpy(id_rows), torch.from_numpy(mask_rows)
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
        quantized: Path | None = None,
        embeddings: Path | None = None,
        threads: int = 1,
        spin: bool = False,
    ) -> None:
        import onnxruntime as ort

        folder = Path(folder)
        settings = folder_settings(folder)
        self.dim = settings["dim"]
        self.max_tokens = settings["max_tokens"]
        self.prompts: dict[str, str] = dict(settings["prompts"])
        self.pieces = pieces.load(
            folder / "tokenizer.json", pad_id=settings["pad_id"], pad_token=self._pad_token(folder)
        )
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
        # The int8 graph for queries (ensure_quantized), beside the fp32 one passages use;
        # one tokenizer and one embedding table serve both.
        self.quantized = (
            ort.InferenceSession(str(quantized), opts, providers=["CPUExecutionProvider"]) if quantized else None
        )
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

    def run(self, texts: Sequence[str], *, quantized: bool = False, max_tokens: int | None = None) -> np.ndarray:
        """Vectors for already-prompted texts, one batch padded to its longest text, each cut
        at ``max_tokens`` (default: the model's limit); ``quantized`` runs the int8 graph
        when one was loaded."""
        if not len(texts):
            return np.empty((0, self.dim), dtype=np.float32)
        ids, mask = self.pieces.encode(texts, min(max_tokens or self.max_tokens, self.max_tokens))
        embeds = np.ascontiguousarray(self.embeddings[ids], dtype=np.float32)
        session = self.quantized if quantized and self.quantized is not None else self.session
        (out,) = session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})
        return np.ascontiguousarray(out, dtype=np.float32)
