"""Local HTTP servers for tests that stand in for a public service (a registry, Wikidata,
Enhetsregisteret): on 127.0.0.1 and a free port, stopped when the block ends.

`serving()` is the registry `erfa sync` fetches from: it serves the files a test puts in
``Served.files``, records the request headers (so a test can prove a conditional request was
made) and can answer 500, cut a body short, drip bytes or redirect on demand."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def local_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` for the length of the block; yields the server's base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# A dripping response sends one byte this often, and gives up after DRIP_FOR seconds, so that
# even the code that had no wall-clock deadline finishes the test (and fails its timing).
DRIP_EVERY = 0.05
DRIP_FOR = 6.0


@dataclass
class Served:
    """What the test server serves, how, and what it was asked."""

    files: dict[str, bytes] = field(default_factory=dict)
    mode: dict[str, str] = field(default_factory=dict)  # path -> "ok" | "500" | "truncate" | "drip" | "drip-headers"
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 302
    etags: bool = True
    seen: list[dict[str, str]] = field(default_factory=list)
    base: str = ""
    stop: threading.Event = field(default_factory=threading.Event)  # ends drips when the test is over

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha256(self.files[path]).hexdigest()[:16] + '"'

    def headers_of_last(self, path: str) -> dict[str, str]:
        return [h for h in self.seen if h["path"] == path][-1]


def _registry_handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep pytest's output clean
            pass

        def do_GET(self) -> None:
            served.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if self.path in served.redirects:
                self.send_response(302)
                self.send_header("Location", served.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            mode = served.mode.get(self.path, "ok")
            body = served.files.get(self.path)
            if mode == "500" or body is None:
                self.send_response(500 if mode == "500" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = served.etag(self.path) if served.etags else None
            if etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            if mode in ("drip", "drip-headers"):
                self.drip(body, headers_too=mode == "drip-headers")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if etag:
                self.send_header("ETag", etag)
            if mode == "truncate":  # promise the whole body, send half, hang up
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def drip(self, body: bytes, *, headers_too: bool) -> None:
            """One byte every DRIP_EVERY s: each read is quick, the download never ends."""
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            if not headers_too:
                self.wfile.write(head)
                head = b""
            given_up = time.monotonic() + DRIP_FOR
            try:
                for byte in head + body:
                    if served.stop.is_set() or time.monotonic() > given_up:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(DRIP_EVERY)
            except OSError:  # the client hung up, as it should
                pass
            self.close_connection = True

    return Handler


@contextmanager
def serving() -> Iterator[Served]:
    """A server on 127.0.0.1 and a free port, for the length of the block."""
    state = Served()
    with local_server(_registry_handler(state)) as base:
        state.base = base
        try:
            yield state
        finally:
            state.stop.set()  # ends drips before the server waits for its handlers
