"""The two real-data corpora erfa's ranking is judged on, built reproducibly from the
public datasets in ``../shared/data`` (tests/relevance/real/README.md states the rules).

*Nordic*: Norway's overview of public-sector AI projects (all rows), and the cases of
the EU Public Sector Tech Watch export, the JRC's AI Watch T6 list and the IPS-X
explorer whose country is Norway, Sweden, Denmark, Finland or Iceland (IPS-X: AI cases
only). This is what a Nordic deployment of erfa holds.

*European*: the Norwegian overview plus the whole PSTW export (1,964 cases, mostly in
English): the case where the language barrier hides most of the answers.

*Full*: all four registries whole, exactly as ../shared/data/README.md loads them (the
overview, PSTW, AI Watch T6 and IPS-X's AI cases: 2,972 records). It is what a user who
loads everything holds, and the only corpus where PSTW, IPS-X and AI Watch copy each
other's cases from every country, so it is the one "one project, one row" is judged on
(tests/relevance/real/full_twins.json).

Only the files are read here; which records are relevant to which need lives in
tests/relevance/real/*.jsonl, written by people reading the texts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeGuard

from erfa.ingest import Record, read_file

NORDIC_COUNTRIES = frozenset({"NO", "SE", "DK", "FI", "IS"})

DIGDIR = "digdir_ai_projects_norwegian_state_Oversatt_v1.csv"
PSTW = "pstw/pstw_dataset_from_Marchant01_ai_eu_project__sheet_PSTW_DB.csv"
AIWATCH = "aiwatch_t6x/9-services-ai-watch-t6-jrc120399.csv"
IPSX = "ips_explorer/cases.csv"


def _records(shared: Path, name: str, keep: Callable[[Record], bool] = lambda r: True) -> list[Record]:
    return [r for r in read_file(shared / name).records if keep(r)]


def _nordic(r: Record) -> bool:
    return r.country in NORDIC_COUNTRIES


def nordic_corpus(shared: Path) -> list[Record]:
    return (
        _records(shared, DIGDIR)
        + _records(shared, PSTW, _nordic)
        + _records(shared, AIWATCH, _nordic)
        + _records(shared, IPSX, _nordic)
    )


def european_corpus(shared: Path) -> list[Record]:
    return _records(shared, DIGDIR) + _records(shared, PSTW)


def full_corpus(shared: Path) -> list[Record]:
    return _records(shared, DIGDIR) + _records(shared, PSTW) + _records(shared, AIWATCH) + _records(shared, IPSX)


CORPORA: dict[str, Callable[[Path], list[Record]]] = {
    "nordic": nordic_corpus,
    "european": european_corpus,
    "full": full_corpus,
}


def available(shared: Path | None) -> TypeGuard[Path]:
    """True when every file the corpora need is there (a user's clone has no ../shared); True also tells mypy
    ``shared`` is a Path."""
    return shared is not None and all((shared / f).is_file() for f in (DIGDIR, PSTW, AIWATCH, IPSX))
