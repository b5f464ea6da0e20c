"""Schemathesis against /openapi.json: every operation, reads and (with the token) writes.

In-process over ASGI (no socket at all), bounded in examples per operation: no 5xx,
and every documented response matches its schema. Each operation gets valid inputs
(positive) and inputs that break the schema (negative). Hypothesis is driven directly
rather than through schemathesis' pytest plugin, so a pytest upgrade cannot silently
turn the fuzzing off. ``ERFA_FUZZ_EXAMPLES`` raises the count for a longer local run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from erfa.index import Encoder, ProjectIndex
from erfa.ingest import Record
from erfa.service.api import create_app
from erfa.service.settings import Settings
from tests._ops import AUTH, TOKEN
from tests.factories import CORPUS

EXAMPLES = int(os.environ.get("ERFA_FUZZ_EXAMPLES", "25"))  # per operation and mode
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, response_headers_conformance]


def _app(home: Path, encoder: Encoder, records: list[Record]) -> FastAPI:
    idx = ProjectIndex(home, encoder=encoder)
    idx.upsert(records)
    return create_app(Settings(home=home, demo=False, admin_token=TOKEN, rate_limit=0), index=idx, wait=True)


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> schemathesis.BaseSchema:
    """The app's schema over ASGI, built once for the module: the fuzz run may write to it, and
    nothing here depends on what another test wrote."""
    app = _app(tmp_path_factory.mktemp("fuzz-home"), encoder, CORPUS)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def empty_app_client(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Iterator[TestClient]:
    """One app over an empty index for all the hostile bodies: each body gets a submission of its
    own, and a body that is refused (as each must be) changes nothing another one sees."""
    with TestClient(_app(tmp_path_factory.mktemp("hostile-home"), encoder, []), raise_server_exceptions=False) as c:
        yield c


def test_schema_covers_reads_and_writes(schema: schemathesis.BaseSchema) -> None:
    raw = schema.raw_schema
    assert {
        "/search",
        "/projects/{project_id}",
        "/projects/{project_id}/similar",
        "/projects",
        "/ingest",
        "/submissions",
        "/submissions/{submission_id}/approve",
        "/submissions/{submission_id}/reject",
    } <= set(raw["paths"])
    assert "admin" in raw["components"]["securitySchemes"]


def test_fuzz_every_operation(schema: schemathesis.BaseSchema, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 10
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{op.method.upper()} {op.path} ({mode.value})"

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                response = case.call_and_validate(headers=AUTH, checks=CHECKS)
                cases[label] += 1  # noqa: B023  (run() is called at once, inside this iteration)
                statuses[response.status_code] += 1
                if os.environ.get("ERFA_FUZZ_DEBUG"):
                    print(label, response.status_code, case.headers, response.text[:200])  # noqa: B023

            try:
                run()
            except Unsatisfiable:  # no way to break the schema of an operation without inputs
                continue
            except Exception as exc:  # collect, so one report shows every operation that fails
                failures.append(f"{label}: {str(exc)[:1500]}")
    total = sum(cases.values())
    with capsys.disabled():
        print(
            f"\nfuzz: {total} cases over {len(operations)} operations (positive and negative), "
            f"statuses {dict(sorted(statuses.items()))}, {time.monotonic() - started:.0f} s"
        )
    assert not failures, "\n\n".join(failures)
    assert not any(code >= 500 for code in statuses)
    assert total >= len(operations) * 2


# Bodies the schema-driven generator does not produce (issue 14): lone surrogates in values and
# keys, control characters, deep nesting, a key list instead of an object. Each must get a 4xx
# with a JSON body that is valid UTF-8, from every JSON write.
HOSTILE_BODIES = [
    b'{"title": "\\ud800", "organisation": "Etat"}',
    b'{"title": "ok", "organisation": "\\udfff\\ud800"}',
    b'{"\\ud800": "x", "title": "t", "organisation": "o"}',
    b'[{"source": "t", "source_id": "\\ud83d", "title": "x"}]',
    b'{"title": "\\u0000\\u001b[31m", "organisation": "\\u0007"}',
    b'{"reason": "\\ud800"}',
    b"[" * 5000 + b"]" * 5000,
    b'{"title": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b', "organisation": "o"}',
    b'["title", "organisation"]',
]


@pytest.mark.parametrize("raw", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_json_bodies_get_a_4xx_never_a_5xx(empty_app_client: TestClient, raw: bytes) -> None:
    client = empty_app_client
    sid = client.post("/submissions", json={"title": "Forslag", "organisation": "Etat"}).json()["id"]
    for path in ("/submissions", "/projects", f"/submissions/{sid}/reject"):
        r = client.post(path, content=raw, headers={**AUTH, "content-type": "application/json"})
        assert r.status_code < 500, f"{path}: {r.status_code} {r.text[:300]}"
        r.content.decode("utf-8")
        assert r.status_code in (200, 201) or "detail" in r.json()


# -- issue 14, part B: what a record may hold, whatever the input (no model needed) ----------
_HOSTILE = "javascript:data:JaVaScRiPt:\t\n\r\x00\x01\x1b\x7f\x85\x9b\u2028\ud800 /.:%&<>\"'@#?=x1é"


@given(
    link=st.text(alphabet=_HOSTILE, max_size=40)
    | st.sampled_from(
        ["javascript:alert(1)", " data:text/html,x", "java\nscript:x", "\x00javascript:x", "https://a.no", "a.no/x"]
    ),
    title=st.text(alphabet=_HOSTILE, min_size=1, max_size=40),
)
@settings(max_examples=EXAMPLES * 20, deadline=None, derandomize=True, database=None)
def test_fuzz_records_hold_only_web_links_and_no_control_characters(link: str, title: str) -> None:
    from erfa.ingest.record import Record, RecordError

    try:
        record = Record.build("fuzz", "1", title=title, link=link, description=title, partners=[title])
    except RecordError:
        return  # refused with a reason: fine
    assert record.link is None or record.link.lower().startswith(("http://", "https://"))
    text = record.model_dump_json()
    text.encode("utf-8")  # no lone surrogate survives
    assert not any(ch in text for ch in "\x00\x01\x1b\x7f\x9b")


@given(body=st.text(alphabet='source,_idtle;"\n\r\x00ab1é', max_size=200))
@settings(
    max_examples=EXAMPLES * 20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_fuzz_csv_files_give_rows_or_reasons_never_a_traceback(
    tmp_path_factory: pytest.TempPathFactory, body: str
) -> None:
    from erfa.ingest import FormatError, read_file

    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_text("source,source_id,title\n" + body, encoding="utf-8")
    try:
        result = read_file(path, format="erfa-csv")
    except FormatError:
        return
    assert all(r.reason for r in result.rejected)
    assert all("\x00" not in r.title for r in result.records)
