"""Helpers for the operating tests (issue 6): an in-process app with a token, a real
`erfa serve` on loopback, and a store/index consistency check.

Servers here bind 127.0.0.1 on a free port, reuse the session's built model (a
symlink, never a rebuild) and are always killed by the fixture that started them.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from erfa.index import ProjectIndex
from erfa.index.model.encoder import default_model_dir
from erfa.ingest import Record
from erfa.service import testing as harness
from erfa.service.testing import Server, erfa_cmd  # noqa: F401  (erfa_cmd: for the tests)

if TYPE_CHECKING:
    import pytest

TOKEN = "test-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

TOPICS = [
    ("Chatbot for byggesaker", "Innbyggerne får svar på spørsmål om byggesøknader fra en chatbot."),
    ("Taligenkänning i vården", "Läkare dikterar journalanteckningar som automatiskt blir text."),
    ("Prognose for snømåking", "Vi varsler når veiene må brøytes ut fra værdata."),
    ("Skovovervågning med satellitbilleder", "Vi finder stormfald og barkbiller i statsskovene."),
    ("Automatic translation of public letters", "Letters to citizens are translated into plain language."),
    ("Dokumentklassifisering i arkivet", "Innkommende dokumenter blir klassifisert og journalført automatisk."),
]


def bulk_records(n: int, source: str = "bulk", start: int = 0) -> list[dict[str, object]]:
    """n distinct projects in erfa's own format (varied text, so each needs its own vector)."""
    out = []
    for i in range(start, start + n):
        title, desc = TOPICS[i % len(TOPICS)]
        out.append(
            {
                "source": source,
                "source_id": f"p{i}",
                "title": f"{title} {i}",
                "description": f"{desc} Prosjekt nummer {i} i kommune {i % 37}.",
                "organisation": f"Kommune {i % 23}",
                "country": ["NO", "SE", "DK"][i % 3],
            }
        )
    return out


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def prepare_home(home: Path, model_home: Path, seed_from: Path | None = None) -> Path:
    """A data directory that reuses the built model; optionally a copy of another index."""
    (home / "models").mkdir(parents=True, exist_ok=True)
    link = default_model_dir(home)
    if not link.exists():
        os.symlink(default_model_dir(model_home), link)
    if seed_from is not None:
        src = sqlite3.connect(seed_from / "erfa.sqlite")
        dst = sqlite3.connect(home / "erfa.sqlite")
        src.backup(dst)  # consistent copy even while WAL holds recent pages
        src.close()
        dst.close()
        for name in ("vectors.faiss", "vectors.faiss.meta.json"):
            if (seed_from / name).exists():
                shutil.copy2(seed_from / name, home / name)
    return home


def erfa_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "ERFA_DEMO": "0",
        "ERFA_ADMIN_TOKEN": TOKEN,
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.update(extra)
    return env


def start_server(home: Path, *, timeout: float = 120, **env: str) -> Server:
    """`erfa serve` on 127.0.0.1:<free port> with the test environment plus ``env``; returns once ready."""
    return harness.start_server(home, env=erfa_env(**env), timeout=timeout)


def running_server(home: Path, **env: str) -> AbstractContextManager[Server]:
    """start_server for the length of a with-block."""
    return harness.running_server(home, env=erfa_env(**env))


def check_consistent(idx: ProjectIndex) -> dict[str, int]:
    """Store and index agree: ids unique, every record has its vectors, no orphan vector."""
    report = idx.check()
    assert report["duplicate_ids"] == [], "duplicate record ids in the store"
    assert report["duplicate_vectors"] == 0, "duplicate vector ids"
    assert report["orphan_vectors"] == [] and report["unindexed"] == [], report
    return {"records": int(report["records"]), "vectors": int(report["vectors"])}  # type: ignore[call-overload]


def wait_for(pred: Callable[[], bool], timeout: float = 30, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def record(source_id: str, title: str, description: str, **kw: object) -> Record:
    return Record.build("test", source_id, title=title, description=description, **kw)


class _SameCutOff(dict):
    """A calibration table (ranking.CLOSE_MATCH) that gives every model one cut-off."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def get(self, key: object, default: object = None) -> float:
        return self.value


def set_close_match(monkeypatch: pytest.MonkeyPatch, standout: float) -> None:
    """Make ``standout`` the close-match cut-off for whatever model the test uses
    (99: nothing stands out; -99: everything does): the fitted marker (index/search/marker.py) is
    set aside, so results are marked by that standout alone, as for an uncalibrated model."""
    from erfa.index.search import marker, ranking

    monkeypatch.setattr(ranking, "CLOSE_MATCH", _SameCutOff(standout))
    monkeypatch.setattr(marker, "for_model", lambda model_id: None)
