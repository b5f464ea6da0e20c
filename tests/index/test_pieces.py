"""Word pieces (index/model/pieces.py): sentencepiece built from tokenizer.json gives the ids
`tokenizers` gives, for every kind of text, cut where `tokenizers` cuts; files it cannot
reproduce go to `tokenizers`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from erfa.index import Encoder
from erfa.index.model import pieces
from tests._shared import shared_data_dir

ODD_TEXTS = [
    "query: chattbot som svarar på frågor om bygglov",
    "passage: Kommunen vår nyttar maskinlæring til å sortere byggjesøknader før sakshandsaminga.",
    "Sagsbehandlingen af ansøgninger om førtidspension understøttes af en model",
    "",
    " ",
    "   flere   mellomrom \t og\ttabulator\nog linjeskift\r\n",
    "ＦＵＬＬＷＩＤＴＨ １２３ and ligatures ﬁnance ﬂow",
    "zero\u200bwidth\u200djoiner\ufeffbom\u00a0nbsp\u2028line\u2029para",
    "\x01control\x02chars\x7f and \x9f",
    "Κυβέρνηση: ψηφιακή υπηρεσία για πολίτες",
    "Цифровая платформа для муниципалитетов",
    "市政府使用人工智能 日本語のテキスト 한국어",
    "emoji 🙂🚀 and a private-use character \ue000\ue001 (unknown)",
    "typed special tokens <s> <mask></s><pad> <unk>",
    "<mask>",
    "e-post: post@kommune.no, https://www.example.org/sak?id=42&x=1",
    "word" * 200,
    " ".join(["Et langt prosjekt om dokumentanalyse og saksbehandling."] * 80),
]


@pytest.fixture(scope="module")
def tokenizer_json(encoder: Encoder) -> Path:
    return Path(encoder.path) / "tokenizer.json"


def reference(path: Path, texts: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_tokens)
    tok.enable_padding(pad_id=1, pad_token="<pad>")
    enc = tok.encode_batch(texts)
    return np.asarray([e.ids for e in enc]), np.asarray([e.attention_mask for e in enc])


def test_e5_vocabulary_goes_through_sentencepiece(tokenizer_json: Path) -> None:
    assert isinstance(pieces.load(tokenizer_json, pad_id=1, pad_token="<pad>"), pieces.SentencePieces)


@pytest.mark.parametrize("max_tokens", [512, 64, 8])
def test_same_ids_and_masks_as_tokenizers(tokenizer_json: Path, max_tokens: int) -> None:
    ours = pieces.load(tokenizer_json, pad_id=1, pad_token="<pad>")
    ids, mask = ours.encode(ODD_TEXTS, max_tokens)
    ref_ids, ref_mask = reference(tokenizer_json, ODD_TEXTS, max_tokens)
    assert ids.shape == ref_ids.shape and ids.dtype == np.int64
    for text, a, b in zip(ODD_TEXTS, ids, ref_ids, strict=True):
        assert a.tolist() == b.tolist(), text[:60]
    assert np.array_equal(mask, ref_mask)
    one_by_one = [ours.encode([t], max_tokens)[0][0].tolist() for t in ODD_TEXTS]
    assert one_by_one == [row[m == 1].tolist() for row, m in zip(ref_ids, ref_mask, strict=True)]


def test_same_ids_on_every_text_of_the_shared_datasets(tokenizer_json: Path) -> None:
    data = shared_data_dir()
    csv.field_size_limit(1 << 30)
    texts: list[str] = []
    for f in sorted(data.rglob("*.csv")):
        with open(f, encoding="utf-8", errors="replace", newline="") as fh:
            texts += [cell for row in csv.reader(fh) for cell in row if len(cell) > 3]
    for f in sorted(data.rglob("*.jsonl")):
        rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts += [v for row in rows for v in row.values() if isinstance(v, str)]
    texts = list(dict.fromkeys(texts))
    assert len(texts) > 10_000
    ours = pieces.load(tokenizer_json, pad_id=1, pad_token="<pad>")
    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.enable_truncation(512)
    differ = [
        t[:80]
        for t, ref in zip(texts, tok.encode_batch(texts), strict=True)
        if ours.encode([t], 512)[0][0].tolist() != ref.ids
    ]
    assert differ == []


def test_files_sentencepiece_would_not_reproduce_go_to_tokenizers(tokenizer_json: Path, tmp_path: Path) -> None:
    config = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    changes = {
        "first-only word mark": lambda c: c["pre_tokenizer"].update(prepend_scheme="first"),
        "byte fallback": lambda c: c["model"].update(byte_fallback=True),
        "no post-processor": lambda c: c.update(post_processor=None),
        "a piece across words": lambda c: c["model"]["vocab"].append(["a\u2581b", -20.0]),
    }
    for name, change in changes.items():
        edited = json.loads(json.dumps(config))
        change(edited)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(edited), encoding="utf-8")
        loaded = pieces.load(path, pad_id=1, pad_token="<pad>")
        assert isinstance(loaded, pieces.HfPieces), name
        ids, _ = loaded.encode(["chattbot om bygglov"], 64)
        assert ids.shape[0] == 1 and ids.shape[1] > 2, name
