"""Where the real, shared datasets live, for tests marked `shared`.

They sit next to the repository (../shared/data), not in it, because their licences
and sizes do not belong in erfa's history. On a machine without them the tests skip
instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def shared_data_dir() -> Path:
    """The shared data folder, or skip the calling test when it is absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared datasets not found at {path}")
    return path


def tiny_model(folder: Path, model_home: Path, *, pooling: str = "pooling_mode_mean_tokens") -> Path:
    """A small random BERT folder with e5's tokenizer, standing in for a user's own model."""
    import torch
    from transformers import BertConfig, BertModel

    from erfa.index.model.encoder import default_model_dir

    built = default_model_dir(model_home)
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=250037,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).write_bytes((built / name).read_bytes())
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, pooling: True}))
    return folder
