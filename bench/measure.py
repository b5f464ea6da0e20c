"""Figures the bench reports, and the machine they were measured on.

Every latency is summarised the same way (median with spread: p95, p99, IQR) so the
sections of RESULTS.md can be compared; `machine()` records what ran them, with the load
average, because other work on a shared machine shows up as spread.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def stats(values: Sequence[float]) -> dict[str, float]:
    """Median and spread of a sample (milliseconds or any unit)."""
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return {"n": 0}
    q = np.percentile(a, [25, 50, 75, 95, 99])
    return {
        "n": len(a),
        "p50": float(q[1]),
        "p95": float(q[3]),
        "p99": float(q[4]),
        "iqr": float(q[2] - q[0]),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def fmt(s: dict[str, float], unit: str = "ms", digits: int = 1) -> str:
    if not s.get("n"):
        return "n/a"
    f = f"{{:.{digits}f}}"
    return (
        f"p50 {f.format(s['p50'])} {unit} (p95 {f.format(s['p95'])}, p99 {f.format(s['p99'])}, "
        f"IQR {f.format(s['iqr'])}; n={s['n']})"
    )


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine() -> dict[str, object]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    versions = {}
    from importlib import metadata

    for dist in (
        "torch",
        "onnxruntime",
        "faiss-cpu",
        "tokenizers",
        "sentence-transformers",
        "transformers",
        "numpy",
        "txtai",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # not installed: say so in the table
            versions[dist] = "-"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "load_before": os.getloadavg(),
    }
