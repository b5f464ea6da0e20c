"""Abuse and privacy: headers, size and rate limits, clear errors, quiet logs, metrics."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.responses import HTMLResponse

from erfa.service.api.ratelimit import RateLimiter
from erfa.service.logs import JsonFormatter
from tests._ops import AUTH, prepare_home, running_server
from tests.factories import CORPUS, Make

SECRET_NEED = "hemmelig barnevernssak om familien Nordmann"


@pytest.fixture
def app_for(app_for: Callable[..., TestClient], make_index: Make) -> Callable[..., TestClient]:
    """Apps over one shared index, each with a route that fails and a bare HTML page."""
    idx = make_index()
    idx.upsert(CORPUS)

    def make(**overrides: Any) -> TestClient:
        client = app_for(index=idx, **overrides)

        @client.app.get("/boom", include_in_schema=False)
        def boom() -> None:
            raise RuntimeError("secret internals: /etc/erfa/db password=hunter2")

        @client.app.get("/test-embed-page", include_in_schema=False)
        def page() -> HTMLResponse:
            return HTMLResponse("<p>hi</p>")

        return client

    return make


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=chatbot",
        "/projects/test-1",
        "/projects/nope",
        "/search?q=",
        "/nowhere",
        "/healthz",
        "/openapi.json",
        "/boom",
    ],
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Frame-Options"] == "DENY"
    csp = r.headers.get_list("Content-Security-Policy")
    assert len(csp) == 1 and "frame-ancestors 'none'" in csp[0]
    assert r.headers["X-Request-Id"]


def test_a_need_in_the_url_is_not_cached(client: TestClient) -> None:
    assert client.get("/search", params={"q": "chatbot"}).headers["Cache-Control"] == "no-store"


def test_docs_get_a_csp_that_lets_swagger_load_and_pages_a_strict_one(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    csp = docs.headers.get_list("Content-Security-Policy")
    assert len(csp) == 1
    directives = dict([*d.split(" ", 1), ""][:2] for d in csp[0].split("; "))
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in directives["script-src"]
    assert not re.search(r"https?:", csp[0]), f"the docs CSP names another host: {csp[0]}"
    # every script and style the page loads is erfa's own, and each inline script is allowed by its hash
    assert not re.search(r"(src|href)=\"(https?:)?//", docs.text), docs.text
    for url in re.findall(r"(?:src|href)=\"(/[^\"]+)\"", docs.text):
        assert client.get(url).status_code == 200, url
    inline = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert inline and all(
        f"'sha256-{base64.b64encode(hashlib.sha256(js.encode()).digest()).decode()}'" in directives["script-src"]
        for js in inline
    )
    assert client.get("/redoc").status_code == 404  # it would need a CDN; /docs documents the same API
    page = client.get("/test-embed-page").headers["Content-Security-Policy"]
    assert "default-src 'self'" in page and "script-src 'self'" in page and "unsafe-inline" not in page


def test_embed_may_be_framed_by_the_configured_origins_only(app_for: Callable[..., TestClient]) -> None:
    c = app_for(frame_ancestors=["'self'", "https://www.fjordby.kommune.no", "https://intranett.example.no"])
    r = c.get("/embed")
    csp = r.headers.get_list("Content-Security-Policy")
    assert len(csp) == 1
    assert "frame-ancestors 'self' https://www.fjordby.kommune.no https://intranett.example.no" in csp[0]
    assert "X-Frame-Options" not in r.headers
    assert "frame-ancestors 'none'" in c.get("/search", params={"q": "x"}).headers["Content-Security-Policy"]


def test_errors_are_json_without_stack_traces(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="erfa.service"):
        r = client.get("/boom")
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"detail", "request_id"} and body["request_id"] == r.headers["X-Request-Id"]
    assert "hunter2" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    assert any(getattr(rec, "request_id", None) == body["request_id"] and rec.exc_info for rec in caplog.records)


@pytest.mark.parametrize(
    "params, field, allowed",
    [
        ({"q": "x", "limit": 101}, "limit", "100"),
        ({"q": "x", "limit": 0}, "limit", "1"),
        ({"q": "x", "offset": -1}, "offset", "0"),
        ({"q": "x", "offset": 5000}, "offset", "1000"),
        ({"q": "x" * 1001}, "q", "1000"),
        ({"q": "x", "limit": "ten"}, "limit", "integer"),
        ({"q": "x", "year_from": 1800}, "year_from", "1900"),
    ],
)
def test_validation_errors_name_the_field_and_what_is_allowed(
    client: TestClient, params: dict[str, Any], field: str, allowed: str
) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["loc"] == ["query", field]
    assert field in d["msg"] and allowed in d["msg"], d
    assert len(r.text) < 2000  # a 1000-character query is not echoed back whole


def test_unknown_filter_values_and_ids_are_clear(client: TestClient) -> None:
    r = client.get("/search", params={"q": "x", "status": "maybe"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "status"]
    assert "implemented" in r.json()["detail"][0]["msg"]  # what is allowed
    r = client.get("/projects/nope-1/similar")
    assert r.status_code == 404 and "nope-1" in r.json()["detail"]
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


def test_malformed_json_gets_a_clear_422(client: TestClient) -> None:
    r = client.post("/submissions", content=b'{"title": "x",', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"][0]["msg"]
    r = client.post("/projects", content=b"\xff\xfe\x00garbage", headers={**AUTH, "content-type": "application/json"})
    assert r.status_code in (400, 422) and "Traceback" not in r.text


def test_bodies_over_the_limit_get_413_declared_or_streamed(app_for: Callable[..., TestClient]) -> None:
    c = app_for(max_body_bytes=1000)
    big = {"title": "x" * 2000, "organisation": "y"}
    r = c.post("/submissions", json=big)
    assert r.status_code == 413 and "1000" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"title": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'", "organisation": "y"}'

    r = c.post("/submissions", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert c.post("/submissions", json={"title": "ok", "organisation": "y"}).status_code == 201
    r = c.post("/submissions", content=b"{}", headers={"content-type": "application/json", "content-length": "abc"})
    assert r.status_code == 400


def test_clients_are_rate_limited_with_429_and_retry_after(app_for: Callable[..., TestClient]) -> None:
    c = app_for(rate_limit=60, rate_burst=3)
    codes = [c.get("/projects/test-1").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = c.get("/projects/test-1")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "per minute" in r.json()["detail"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200  # probes are exempt
    assert c.get("/projects/test-1", headers=AUTH).status_code == 200  # so is the operator
    assert c.get("/projects/test-1", headers={"Authorization": "Bearer wrong"}).status_code == 429


def test_rate_limiter_refills_and_keeps_clients_apart() -> None:
    now = [0.0]
    rl = RateLimiter(clock=lambda: now[0], max_clients=2)
    assert [rl.take("all", "a", 1.0, 2) for _ in range(3)] == [0, 0, 1.0]
    assert rl.take("all", "b", 1.0, 2) == 0
    now[0] += 1.0
    assert rl.take("all", "a", 1.0, 2) == 0
    rl.take("all", "c", 1.0, 2)  # evicts the least recently used, never grows without bound
    assert len(rl._buckets) == 2


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """What the server logged (the test client's own httpx logger is not the server's)."""
    fmt = JsonFormatter()
    return "\n".join(fmt.format(r) for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))


def test_query_texts_are_not_logged_by_default(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert client.get("/search", params={"q": SECRET_NEED}).status_code == 200
        client.get("/partners", params={"q": SECRET_NEED})
        client.get("/search", params={"q": SECRET_NEED, "limit": 1000})  # also not in a 422
    text = _logged(caplog)
    assert "Nordmann" not in text and "barnevern" not in text
    access = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "erfa.access"]
    assert access and access[0]["route"] == "/search" and access[0]["status"] == 200
    assert "client" not in access[0] and "query" not in access[0]


def test_query_texts_are_logged_when_the_operator_turns_it_on(
    app_for: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    c = app_for(log_queries=True)
    with caplog.at_level(logging.INFO, logger="erfa.access"):
        c.get("/search", params={"q": SECRET_NEED})
    assert "Nordmann" in _logged(caplog)


def test_logs_are_one_json_object_per_line() -> None:
    rec = logging.LogRecord("erfa.access", logging.INFO, __file__, 1, "GET %s %s", ("/search", 200), None)
    rec.event, rec.status = "request", 200
    line = JsonFormatter().format(rec)
    obj = json.loads(line)
    assert "\n" not in line
    assert obj["msg"] == "GET /search 200" and obj["event"] == "request" and obj["level"] == "info" and obj["ts"]


def test_metrics_in_prometheus_format(client: TestClient) -> None:
    client.get("/search", params={"q": "chatbot"})
    client.get("/projects/nope")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'erfa_http_requests_total{method="GET",route="/search",status="200"} 1.0' in text
    assert 'erfa_http_requests_total{method="GET",route="/projects/{project_id}",status="404"} 1.0' in text
    assert 'erfa_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/search"}' in text
    assert "erfa_index_projects 4.0" in text and "erfa_ready 1.0" in text
    assert "erfa_submissions_pending 0.0" in text
    assert "chatbot" not in text  # labels are route templates, never the URL


# -- forwarded-for (issue 14, item 4) ---------------------------------------------------------
def _codes(url: str, forwarded: Callable[[int], str], n: int = 20) -> list[int]:
    """Status codes of n requests from 127.0.0.1, the i-th claiming X-Forwarded-For: forwarded(i)."""
    with httpx.Client(base_url=url, timeout=30) as c:
        return [c.get("/projects/nope", headers={"X-Forwarded-For": forwarded(i)}).status_code for i in range(n)]


@pytest.mark.model
def test_x_forwarded_for_is_believed_only_from_listed_proxies(tmp_path: Path, model_home: Path) -> None:
    limits = {"ERFA_RATE_LIMIT": "60", "ERFA_RATE_BURST": "5"}
    rotating: Callable[[int], str] = lambda i: f"203.0.113.{i + 1}"  # noqa: E731
    home = prepare_home(tmp_path / "a", model_home)
    with running_server(home, **limits) as server:  # no proxy listed: the socket's peer is the client
        codes = _codes(server.url, rotating)
        assert codes[:5] == [404] * 5 and codes.count(429) >= 14, codes
    home = prepare_home(tmp_path / "b", model_home)
    with running_server(home, ERFA_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8", **limits) as server:
        assert _codes(server.url, rotating) == [404] * 20  # each user behind the proxy has a budget of their own
        same = _codes(server.url, lambda i: "198.51.100.7")
        assert same[:5] == [404] * 5 and same.count(429) >= 14, same  # ...and it is the user's, not the proxy's


def test_trusted_proxies_are_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    from erfa.service.cli import proxy_options
    from erfa.service.settings import Settings

    monkeypatch.delenv("ERFA_TRUSTED_PROXIES", raising=False)
    assert proxy_options(Settings()) == {"proxy_headers": False, "forwarded_allow_ips": []}
    monkeypatch.setenv("ERFA_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16 ::1")
    assert proxy_options(Settings()) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.5", "10.1.0.0/16", "::1"],
    }
    for bad in ("*", "proxy.example", "10.0.0.0/33"):
        monkeypatch.setenv("ERFA_TRUSTED_PROXIES", bad)
        with pytest.raises(SystemExit, match="ERFA_TRUSTED_PROXIES"):
            Settings()
