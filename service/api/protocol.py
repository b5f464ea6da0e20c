"""The HTTP protocol `erfa serve` runs: uvicorn's httptools parser, lenient about UTF-8 URLs,
strict about the size of a request's header block.

Why lenient: a need typed into a terminal is Nordic text, and `curl 'http://…/search?q=frågor
om bygglov'` sends the letters å, ä, ø as raw UTF-8 bytes instead of %-escapes. Browsers
escape them, nginx and Apache accept them, but uvicorn's parsers (httptools and h11)
answer "400 Invalid HTTP request", so the first thing a municipality tries would fail.
This protocol %-escapes the bytes >= 0x80 of each request's head (request line and
headers) before the parser sees them, which is exactly what a browser would have sent;
bodies are not touched, so uploads and their lengths stay byte-exact.

Why strict: neither httptools (llhttp) nor uvicorn limits the header block, so one client
could send megabytes of headers that uvicorn keeps in memory while the event loop parses
them, and every other client waits (issue 14). Like nginx and Apache, erfa answers
``431 Request Header Fields Too Large`` and closes the connection once a request's head
passes ``MAX_HEADER_BYTES``, counting every byte, ASCII or not. It then stops writing
(FIN) but reads and drops what the client still sends for a short, bounded while, as
nginx's lingering close does: closing with unread input would send a TCP reset, and the
client would lose the 431 and see only "connection reset". The work per received
chunk is linear: the head is cut at its blank line with one search and escaped in one
pass, never copied line by line.

httptools rather than h11 for speed: it is the parser the bench measured
(bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any
from urllib.parse import quote_from_bytes

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("erfa.service")

MAX_HEADER_BYTES = 64 * 1024  # request line + headers of one request; nginx allows 32 KiB by default
LINGER_SECONDS = 2.0  # after a 431: how long input is still read and dropped before the socket closes
LINGER_BYTES = 16 * 1024 * 1024  # ... and how much of it
_ASCII = bytes(range(0x80))  # left as they are, '%' included, so existing escapes stay escapes
_BLANK_LINE = re.compile(rb"\n\r?\n")  # the end of a head: an empty line after the last header


def escape_non_ascii(data: bytes) -> bytes:
    """%-escape every byte >= 0x80, leaving ASCII (and any existing escapes) as it is.

    The standard library's quoting: a cached table lookup per byte (about 0.07 s and 10 bytes
    of scratch memory per input byte, and a head is at most MAX_HEADER_BYTES), so even a
    head full of such bytes costs about what parsing it does.
    """
    if data.isascii():
        return data
    return quote_from_bytes(data, safe=_ASCII).encode("ascii")


def too_large_response(limit: int) -> bytes:
    """The whole 431 answer as bytes: the parser's state is unusable, so it goes out raw."""
    body = json.dumps({"detail": f"the request's headers are larger than the limit of {limit} bytes"}).encode()
    return b"".join(
        [
            STATUS_LINE[431],
            b"content-type: application/json\r\n",
            b"content-length: ",
            str(len(body)).encode("ascii"),
            b"\r\n",
            b"x-content-type-options: nosniff\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class Utf8UrlProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that escapes raw UTF-8 in request heads and caps their size.

    The parser's own callbacks say where a message stands: from its start until its headers
    are complete, bytes >= 0x80 can only be a raw URL (or an obs-text header, which erfa
    reads none of), so they are escaped; from there to the message's end they are body,
    passed on untouched. A head cannot end before a blank line, so each chunk is fed up to
    (and including) its first blank line, escaped in one piece; the callbacks then say
    whether what follows is body or the next pipelined request.
    """

    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before_body = True
        self._head_bytes = 0  # bytes of the current request's head received so far
        self._tail = b""  # the head's last two bytes: a blank line may straddle two packets
        self._discard: int | None = None  # after a 431: bytes still to drop before closing
        self._linger: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._discard is not None:
            self._discard -= len(data)
            if self._discard <= 0:
                self.transport.close()
            return
        pos, size = 0, len(data)
        while pos < size and self._before_body and not self.transport.is_closing():
            end = self._head_end(data, pos)
            if self._head_bytes + (end - pos) > self.max_header_bytes:
                self._refuse_head()
                return
            segment = data if (pos, end) == (0, size) else data[pos:end]
            self._head_bytes += end - pos
            self._tail = (self._tail + segment[-2:])[-2:]
            pos = end
            super().data_received(escape_non_ascii(segment))
        if pos < size and not self.transport.is_closing():
            super().data_received(data[pos:] if pos else data)

    def _head_end(self, data: bytes, pos: int) -> int:
        """Index just past the first blank line at or after ``pos`` (or ``len(data)``)."""
        if self._tail:
            probe = self._tail + data[pos : pos + 2]
            m = _BLANK_LINE.search(probe)
            if m and m.end() > len(self._tail):
                return pos + m.end() - len(self._tail)
        m = _BLANK_LINE.search(data, pos)
        return m.end() if m else len(data)

    def _refuse_head(self) -> None:
        """Answer 431, half-close, and drop further input for a bounded while (see the module docstring)."""
        log.warning("request headers too large", extra={"event": "headers_too_large", "limit": self.max_header_bytes})
        self.transport.write(too_large_response(self.max_header_bytes))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._discard = LINGER_BYTES
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._before_body = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._before_body = True  # keep-alive: the next request on this connection
        self._head_bytes = 0
        self._tail = b""
        super().on_message_complete()
