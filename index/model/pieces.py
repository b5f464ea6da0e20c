"""Word pieces for the ONNX runner: the model's own tokenizer.json, in less memory.

Why: `tokenizers` keeps a Unigram vocabulary in a trie of hash maps, 281 MiB per process
for XLM-R's 250,002 pieces (e5-small, e5-large): a quarter of what the service holds at
100k projects, paid again by every worker. sentencepiece, the library those vocabularies
were trained with, holds the same pieces in a double-array trie. tokenizer.json stays the
source of truth: its normaliser and pre-tokenizer run in `tokenizers` (loaded without the
vocabulary), and its pieces, scores and ids become a sentencepiece model built in memory.
Measured on the 35,419 distinct texts of ../shared/data (every registry, NorQuAD, SweFAQ)
plus odd input (control characters, zero-width spaces, CJK, Greek, Cyrillic, emoji, the
special tokens typed as text): the same ids for every one (tests/index/test_pieces.py
checks the same on its own texts), 66 MiB instead of 281, and faster.

A tokenizer.json this does not reproduce by construction (another model type, byte
fallback, another pre-tokenizer or post-processor, a piece with the word mark inside) is
read by `tokenizers` as before, and so is everything when sentencepiece is missing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger("erfa.index")

WORD_MARK = "\u2581"  # "▁": Metaspace's mark for the space before a word


class Pieces(Protocol):
    """Texts to padded id and attention-mask matrices, cut at ``max_tokens`` (specials included)."""

    def encode(self, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]: ...


def load(tokenizer_json: Path, *, pad_id: int, pad_token: str) -> Pieces:
    """sentencepiece where it reproduces the file exactly, else `tokenizers` itself."""
    config = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    reason = _not_sentencepiece(config)
    if reason is None:
        try:
            return SentencePieces(config, pad_id=pad_id)
        except ImportError:
            reason = "sentencepiece is not installed"
    log.debug("word pieces through tokenizers (%s)", reason)
    return HfPieces(tokenizer_json, pad_id=pad_id, pad_token=pad_token)


def _not_sentencepiece(config: dict[str, Any]) -> str | None:
    """Why a tokenizer.json cannot go through SentencePieces, or None when it can."""
    model = config.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        return "not a plain Unigram model"
    pre = config.get("pre_tokenizer") or {}
    if pre.get("type") != "Metaspace" or pre.get("replacement") != WORD_MARK or pre.get("split") is False:
        return "not split at spaces by Metaspace"
    if pre.get("prepend_scheme", "always" if pre.get("add_prefix_space", True) else "never") != "always":
        return "a word mark only before some texts"  # "first" marks only what precedes a special token
    if _template(config) is None:
        return "a post-processor other than <s> text </s>"
    if any(WORD_MARK in piece[1:] for piece, _ in model.get("vocab") or []):
        return "a piece spans words"
    return None


def _template(config: dict[str, Any]) -> tuple[list[int], list[int]] | None:
    """The ids a single text is wrapped in (before, after), for the two post-processors
    XLM-R style files use; None for any other shape."""
    post = config.get("post_processor") or {}
    if post.get("type") == "RobertaProcessing":
        return [int(post["cls"][1])], [int(post["sep"][1])]
    if post.get("type") != "TemplateProcessing":
        return None
    specials = post.get("special_tokens") or {}
    before: list[int] = []
    after: list[int] = []
    seen_text = False
    for item in post.get("single") or []:
        if "Sequence" in item:
            if item["Sequence"].get("id") != "A" or seen_text:
                return None
            seen_text = True
        elif "SpecialToken" in item:
            ids = (specials.get(item["SpecialToken"].get("id")) or {}).get("ids") or []
            (after if seen_text else before).extend(int(i) for i in ids)
        else:
            return None
    return (before, after) if seen_text else None


class SentencePieces:
    """Normalise and split words with the file's own `tokenizers` steps, then find pieces
    with sentencepiece over the words joined: no piece holds a word mark after its first
    character (checked in `_not_sentencepiece`), so no piece can span two words and one
    Viterbi search over the line equals one per word, as `tokenizers` runs it."""

    def __init__(self, config: dict[str, Any], *, pad_id: int) -> None:
        import sentencepiece
        from sentencepiece import sentencepiece_model_pb2 as pb
        from tokenizers import Tokenizer

        model = config["model"]
        unk_id = int(model["unk_id"]) if model.get("unk_id") is not None else -1
        added = [t for t in config.get("added_tokens") or [] if t.get("content")]
        control = {int(t["id"]) for t in added}
        proto = pb.ModelProto()
        proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
        proto.trainer_spec.unk_id = unk_id
        proto.trainer_spec.bos_id = proto.trainer_spec.eos_id = proto.trainer_spec.pad_id = -1
        # The file's normaliser has already run (below): sentencepiece must not change the text.
        proto.normalizer_spec.name = "identity"
        proto.normalizer_spec.add_dummy_prefix = False
        proto.normalizer_spec.remove_extra_whitespaces = False
        proto.normalizer_spec.escape_whitespaces = False
        kind = pb.ModelProto.SentencePiece
        for i, (piece, score) in enumerate(model["vocab"]):
            p = proto.pieces.add()
            p.piece, p.score = piece, float(score)
            p.type = kind.UNKNOWN if i == unk_id else kind.CONTROL if i in control else kind.NORMAL
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=proto.SerializeToString())
        # The same file with a one-piece vocabulary: its normaliser and pre-tokenizer, nothing big.
        light = {**config, "added_tokens": [], "model": {**model, "vocab": [["<unk>", 0.0]], "unk_id": 0}}
        light.pop("truncation", None)
        light.pop("padding", None)
        self._steps = Tokenizer.from_str(json.dumps(light))
        template = _template(config)
        assert template is not None  # load() asked _not_sentencepiece first
        self._before, self._after = template
        # Special tokens typed in a text are their own ids, as `tokenizers` splits them out first.
        self._added = {t["content"]: int(t["id"]) for t in added}
        contents = sorted(self._added, key=len, reverse=True)
        self._split = re.compile("(" + "|".join(map(re.escape, contents)) + ")") if contents else None
        self._pad_id = pad_id

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = []
        parts = self._split.split(text) if self._split is not None else [text]
        for i, part in enumerate(parts):
            if i % 2:  # the split keeps its separators at odd places: a special token
                ids.append(self._added[part])
            elif part:
                normal = self._steps.normalizer.normalize_str(part) if self._steps.normalizer else part
                words = self._steps.pre_tokenizer.pre_tokenize_str(normal)
                line = "".join(word for word, _ in words)
                if line:
                    ids.extend(self._sp.encode(line))
        return ids

    def encode(self, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        room = max(0, max_tokens - len(self._before) - len(self._after))
        rows = [self._before + self._ids(t)[:room] + self._after for t in texts]
        width = max((len(r) for r in rows), default=0)
        ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask


class HfPieces:
    """`tokenizers` itself: any tokenizer.json it reads."""

    def __init__(self, tokenizer_json: Path, *, pad_id: int, pad_token: str) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.enable_padding(pad_id=pad_id, pad_token=pad_token)

    def encode(self, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        self._tok.enable_truncation(max_tokens)
        enc = self._tok.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        return ids, mask
