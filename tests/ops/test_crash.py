"""Crash safety: SIGKILL the ingest (and the server) at random points of a large ingest.

After every kill the data directory is opened again, as a restart would, and must be
consistent: every stored record has its vectors, no vector lacks a record, no id is
stored twice, nothing committed before is lost. Finally the same ingest is re-run and
must complete the work. Kill points are drawn from a seeded RNG (printed, and fixed
with ``ERFA_CRASH_SEED``); ``ERFA_CRASH_KILLS`` sets how many.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.index.moderation.sqlite import SqliteSubmissionQueue
from tests._ops import AUTH, check_consistent, erfa_cmd, erfa_env, prepare_home, start_server
from tests.factories import CORPUS, bulk_records, write_jsonl

KILLS = int(os.environ.get("ERFA_CRASH_KILLS", "5"))
SEED = int(os.environ.get("ERFA_CRASH_SEED", str(int(time.time()) % 100_000)))
FILES, PER_FILE = 4, 45
TOPIC_WORDS = ["byggesaker", "vannlekkasjer", "snømåking", "journalføring", "oversettelse", "skogsovervåking"]


def _counts(home: Path) -> tuple[int, int]:
    """(cached embeddings, store generation), read without disturbing the writer."""
    con = sqlite3.connect(f"file:{home / 'erfa.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        emb = con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        gen = int(con.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
        return int(emb), gen
    except sqlite3.OperationalError:  # not created yet
        return 0, 0
    finally:
        con.close()


def _reopen(home: Path, encoder: Encoder) -> tuple[set[str], dict[str, int]]:
    """What a restart sees: load (rebuilding a stale index) and check it."""
    idx = ProjectIndex(home, encoder=encoder).load()
    try:
        stats = check_consistent(idx)
        return {s.record.id for s in idx.store.all()}, stats
    finally:
        idx.close()


def test_sigkill_during_ingest_at_random_points_loses_nothing(
    tmp_path: Path, model_home: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    home = prepare_home(tmp_path / "home", model_home)
    seed = ProjectIndex(home, encoder=encoder)
    seed.upsert(CORPUS)
    seed.close()
    rows = bulk_records(FILES * PER_FILE, source="crash")
    files = [write_jsonl(tmp_path / f"part{i}.jsonl", rows[i * PER_FILE : (i + 1) * PER_FILE]) for i in range(FILES)]
    expected = {r.id for r in CORPUS} | {f"crash-p{i}" for i in range(FILES * PER_FILE)}
    cmd = erfa_cmd(home, "ingest", *map(str, files))
    points: list[str] = []
    committed: set[str] = {r.id for r in CORPUS}

    for k in range(KILLS):
        emb0, gen0 = _counts(home)
        remaining = FILES * PER_FILE + len(CORPUS) - emb0
        after_commit = rng.random() < 0.4 or remaining <= 2
        target = emb0 + rng.randint(1, max(1, remaining // 2))  # leave work for the next kills
        delay = rng.choice([0.0, rng.uniform(0, 0.02), rng.uniform(0, 0.3)])  # the first two hit the index save
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=erfa_env())
        try:
            deadline = time.monotonic() + 180
            while proc.poll() is None and time.monotonic() < deadline:
                emb, gen = _counts(home)
                if (after_commit and gen > gen0) or (not after_commit and emb >= target):
                    time.sleep(delay if after_commit else 0)
                    break
                time.sleep(0.01)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        emb, gen = _counts(home)
        point = (
            f"kill {k + 1}: {f'after a commit +{delay:.3f} s' if after_commit else f'at {emb - emb0} new vectors'} "
            f"(cache {emb}, generation {gen})"
        )
        present, stats = _reopen(home, encoder)
        assert present <= expected, f"unexpected ids after {point}"
        assert committed <= present, f"lost {sorted(committed - present)[:5]} after {point}"
        committed = present
        if proc.returncode == 0:  # it finished before the kill point: nothing was interrupted
            points.append(f"{point}: finished before the kill, not counted")
            break
        points.append(f"{point}: {stats['records']} records, {stats['vectors']} vectors, consistent")

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=erfa_env())
    assert done.returncode == 0, done.stderr[-3000:]
    present, stats = _reopen(home, encoder)
    lost = expected - present
    idx = ProjectIndex(home, encoder=encoder).load()
    try:
        for rid in sorted(expected):
            idx.similar(rid, limit=1)  # raises KeyError when the record has no vector
        sample = random.Random(SEED).sample(sorted(expected - {r.id for r in CORPUS}), 15)
        for rid in sample:
            title = idx.get(rid).title  # type: ignore[union-attr]
            assert rid in [h.record.id for h in idx.search(title, limit=10).hits], f"{rid} is not found by its title"
    finally:
        idx.close()
    with capsys.disabled():
        kills = sum("not counted" not in p for p in points)
        print(
            f"\ncrash (ingest, seed {SEED}): {kills} SIGKILLs at random points, {len(lost)} records lost, "
            f"{stats['records']} records / {stats['vectors']} vectors at the end"
        )
        for p in points:
            print("  " + p)
    assert not lost and stats["records"] == len(expected)
    assert kills >= min(3, KILLS)


def test_sigkill_of_the_server_keeps_submissions_and_finishes_the_ingest(
    tmp_path: Path, model_home: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED + 1)
    home = prepare_home(tmp_path / "home", model_home)
    seed = ProjectIndex(home, encoder=encoder)
    seed.upsert(CORPUS)
    seed.close()
    upload = write_jsonl(tmp_path / "upload.jsonl", bulk_records(80, source="upl")).read_bytes()

    server = start_server(home)
    try:
        sub_ids = []
        for i in range(3):
            r = httpx.post(
                server.url + "/submissions",
                json={"title": f"Forslag {i} om maskinlæring", "organisation": "Fjordby kommune"},
                timeout=30,
            )
            assert r.status_code == 201, r.text
            sub_ids.append(r.json()["id"])
        approved = httpx.post(f"{server.url}/submissions/{sub_ids[0]}/approve", headers=AUTH, timeout=60)
        assert approved.status_code == 200, approved.text

        def post_ingest() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it: that is the point
                httpx.post(server.url + "/ingest", files={"file": ("upload.jsonl", upload)}, headers=AUTH, timeout=300)

        emb0, _ = _counts(home)
        target = emb0 + rng.randint(1, 70)
        t = threading.Thread(target=post_ingest)
        t.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _counts(home)[0] < target:
            time.sleep(0.02)
        server.kill()
        t.join(timeout=60)
        point = f"server SIGKILL at {_counts(home)[0] - emb0} new vectors of 80 records"
    finally:
        server.kill()

    present, _ = _reopen(home, encoder)
    assert {r.id for r in CORPUS} | {f"submission-{sub_ids[0]}"} <= present

    server = start_server(home)
    try:
        pending = httpx.get(server.url + "/submissions", headers=AUTH, timeout=30).json()
        assert sorted(s["id"] for s in pending["submissions"]) == sorted(sub_ids[1:])
        r = httpx.post(server.url + "/ingest", files={"file": ("upload.jsonl", upload)}, headers=AUTH, timeout=300)
        assert r.status_code == 200, r.text
        assert r.json()["added"] + r.json()["unchanged"] == 80
        assert httpx.get(server.url + "/readyz", timeout=30).json()["projects"] == 4 + 1 + 80
    finally:
        server.stop()
    present, stats = _reopen(home, encoder)
    store = SqliteSubmissionQueue.in_home(home)
    assert store.count("pending") == 2
    store.close()
    lost = ({r.id for r in CORPUS} | {f"upl-p{i}" for i in range(80)} | {f"submission-{sub_ids[0]}"}) - present
    with capsys.disabled():
        print(
            f"\ncrash (server, seed {SEED + 1}): {point}; after restart {stats['records']} records, "
            f"{len(lost)} records lost, 2 of 2 pending submissions kept"
        )
    assert not lost


def test_sigkill_during_moderation_never_leaves_an_unapproved_project_searchable(
    tmp_path: Path, model_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14: approve and reject are all or nothing across the submission store and the index.
    The server is killed while a moderator approves and rejects in a row; after the restart every
    approved submission's project is listed and no other submission's project is."""
    rng = random.Random(SEED + 2)
    home = prepare_home(tmp_path / "home", model_home)
    server = start_server(home)
    decided: list[str] = []
    try:
        ids = []
        for i in range(12):
            r = httpx.post(
                server.url + "/submissions",
                headers=AUTH,
                timeout=30,
                json={
                    "title": f"Forslag {i}: maskinlæring for {TOPIC_WORDS[i % len(TOPIC_WORDS)]}",
                    "organisation": f"Kommune {i}",
                },
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])

        def moderate() -> None:
            try:
                for n, sid in enumerate(ids):
                    if n % 3 == 2:
                        httpx.post(
                            f"{server.url}/submissions/{sid}/reject", json={"reason": "no"}, headers=AUTH, timeout=60
                        )
                    else:
                        httpx.post(f"{server.url}/submissions/{sid}/approve", headers=AUTH, timeout=60)
                    decided.append(sid)
            except httpx.HTTPError:
                pass  # the server dies under it: that is the point

        t = threading.Thread(target=moderate)
        t.start()
        kill_after = rng.randint(1, len(ids) - 2)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(decided) < kill_after:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))  # somewhere inside the next decision
        server.kill()
        t.join(timeout=60)
    finally:
        server.kill()

    server = start_server(home)  # the start-up sweep runs before /readyz says ready
    try:
        subs = httpx.get(
            server.url + "/submissions", params={"status": "all", "limit": 500}, headers=AUTH, timeout=30
        ).json()["submissions"]
        listed = {
            s["id"]: httpx.get(f"{server.url}/projects/submission-{s['id']}", timeout=30).status_code == 200
            for s in subs
        }
    finally:
        server.stop()
    status = {s["id"]: s["status"] for s in subs}
    with capsys.disabled():
        print(
            f"\ncrash (moderation, seed {SEED + 2}): SIGKILL after {len(decided)} of {len(status)} decisions; "
            f"{sum(v == 'approved' for v in status.values())} approved, {sum(listed.values())} listed"
        )
    assert len(status) == 12
    for sid, st in status.items():
        assert listed[sid] == (st == "approved"), f"{sid} is {st} but {'listed' if listed[sid] else 'not listed'}"


def test_vectors_zeroed_on_disk_are_rebuilt_from_the_cache(tmp_path: Path, encoder: Encoder) -> None:
    """Issue 14: a FAISS file whose vectors were zeroed (header intact) was served, every cosine 0.

    The checksum in its meta no longer matches, so a restart rebuilds it from the
    cached vectors, without embedding anything again.
    """
    from tests.factories import CountingEncoder

    home = tmp_path / "home"
    idx = ProjectIndex(home, encoder=encoder)
    idx.upsert(CORPUS)
    vectors = idx._snapshot().vectors
    first = vectors.vector(int(vectors.ids()[0]))
    idx.close()
    path = home / "vectors.faiss"
    raw = bytearray(path.read_bytes())
    start = raw.find(first.tobytes())
    assert start > 0
    size = len(CORPUS) * first.nbytes
    raw[start : start + size] = bytes(size)
    path.write_bytes(bytes(raw))

    counting = CountingEncoder(encoder)
    after = ProjectIndex(home, encoder=counting)  # type: ignore[arg-type]
    top = after.search("chatbot som svarer på byggesøknader", limit=1).hits[0]
    assert top.record.id == "test-1" and top.similarity > 0.5, top
    assert counting.passages == 0, "rebuilt from the cache, nothing embedded again"
    assert check_consistent(after)["records"] == len(CORPUS)
    after.close()
