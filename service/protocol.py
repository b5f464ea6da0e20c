"""The HTTP protocol `erfa serve` runs: uvicorn's httptools parser, lenient about UTF-8 URLs.

Why: a need typed into a terminal is Nordic text, and `curl 'http://…/search?q=frågor om
bygglov'` sends the letters å, ä, ø as raw UTF-8 bytes instead of %-escapes. Browsers
escape them, nginx and Apache accept them, but uvicorn's parsers (httptools and h11)
answer "400 Invalid HTTP request", so the first thing a municipality tries would fail.
This protocol %-escapes the bytes >= 0x80 of each request line before the parser sees
them, which is exactly what a browser would have sent; nothing else in the stream (headers,
bodies) is touched, so uploads and their lengths stay byte-exact.

httptools rather than h11 for speed: it is the parser the bench measured
(bench/RESULTS.md).
"""
from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def escape_non_ascii(data: bytes) -> bytes:
    """%-escape every byte >= 0x80, leaving ASCII (and any existing escapes) as it is."""
    if data.isascii():
        return data
    return b"".join(b"%%%02X" % b if b >= 0x80 else bytes((b,)) for b in data)


class Utf8UrlProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that %-escapes raw UTF-8 before a request's body (see the module docstring).

    The parser's own callbacks say where a message stands: from its start until its headers
    are complete, bytes >= 0x80 can only be a raw URL (or an obs-text header, which erfa reads
    none of), so they are escaped; from there to the message's end they are body, passed on
    untouched. A chunk holding such bytes is fed line by line until its headers are complete,
    so the callbacks can move that boundary between lines; ASCII chunks (what browsers and
    HTTP libraries send) go through in one piece, as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before_body = True

    def data_received(self, data: bytes) -> None:
        while self._before_body and not data.isascii() and not self.transport.is_closing():
            end = data.find(b"\n")
            line, data = (data, b"") if end < 0 else (data[: end + 1], data[end + 1 :])
            super().data_received(escape_non_ascii(line))
        if data and not self.transport.is_closing():
            super().data_received(data)

    def on_headers_complete(self) -> None:
        self._before_body = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._before_body = True  # keep-alive: the next request on this connection
        super().on_message_complete()
