"""`erfa sync`: keep the official registries current from the URLs they publish.

An operator should not have to download Norway's overview or the PSTW export by hand
and re-run `erfa ingest` after each release. A timer runs `erfa sync` instead; it asks
each source "changed since this ETag / Last-Modified?", and only a changed body is
read, upserted (the index itself skips unchanged records and cached texts) and pruned
(records the source no longer lists are deleted).

What a scheduled job must never do is damage the index because the network had a bad
day. So a source's change is applied only when its download is whole (the bytes
Content-Length promised, within the size cap and one wall-clock deadline for the whole
download) and every row of the file reads: a 5xx, a refused connection, a redirect off
the configured host, a cut-off body, a file that ends in the middle of a row, a rejected
row or an unreadable file reports a failure for that source, changes nothing, keeps the
stored validators (so the next run downloads again), and the other sources still run.
A file that would shrink a sizeable source to less than half of what erfa holds of it,
or of the largest size it had in its recent history, is held back too: a registry
rarely halves, an export that broke half-way (or a little more each run) looks exactly
like that. `--force` applies such a shrink, and the valid rows of a file with rejected
rows, but it never removes records on a file that had rejected rows and never applies
a file cut mid-row: records must not be deleted on the word of a damaged file.

The per-source state (ETag, Last-Modified, sha256 of the last body applied, times, and
the sizes of the last HISTORY_LEN files applied) is `sync.json` in the data directory,
replaced atomically. The sources themselves are a TOML file (`sources.toml` beside this
module is the default); its `schedule` is a note for the operator's timer (systemd
OnCalendar syntax, see docs/sync.md): erfa does not schedule anything itself.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import functools
import hashlib
import http.client
import io
import json
import os
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from erfa.index import ProjectIndex
from erfa.index.atomic import atomic_file
from erfa.index.bodies import directory as bodies_directory
from erfa.index.bodies.directory import CONFIDENCE, BodiesDirectory, Body, Entry, match_enhet, match_wikidata
from erfa.index.bodies.organisations import Directory
from erfa.index.summary import WriteSummary
from erfa.ingest import FORMATS, FormatError, read_file
from erfa.ingest.decode import read_text
from erfa.ingest.limits import MAX_XLSX_BYTES
from erfa.ingest.rows import json_loads, sniff_delimiter
from erfa.service.settings import Settings
from erfa.service.writes import refuse_unindexable, upsert_and_prune

DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")
STATE_FILE = "sync.json"
# The PSTW workbook is 3.5 MB and Digdir's CSV 84 KB; 64 MiB only stops a runaway or
# hostile response before it fills the disk. `max_mb` in the sources file overrides.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# One wall-clock deadline for a source's whole download (connect, TLS, headers, every
# redirect and every read): a server that drips bytes cannot hold a timer run, and
# sync.lock, for ever. `timeout` in the sources file overrides.
DEFAULT_TIMEOUT = 120.0
# Refuse (without --force) a file that would delete more than this share of the records
# erfa holds of a source, or that lists fewer than this share of the largest size the
# source had in its last HISTORY_LEN applied files, once that size is at least SHRINK_MIN:
# a truncated export looks exactly like that, and one that loses a little more each run
# must not get past a guard that only looks at the run before.
SHRINK_SHARE = 0.5
SHRINK_MIN = 10
HISTORY_LEN = 10
# The CSV formats, whose last row cut_row checks against the header's width.
_CSV_FORMATS = frozenset({"erfa-csv", "digdir-csv", "pstw-csv", "aiwatch-csv"})
USER_AGENT = "erfa-sync/0.1 (public-sector AI project search; conditional GET)"
_CHUNK = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Directory sources (`kind = "wikidata"` / `"enhetsregisteret"`) make one request per batch of
# names or per organisation number; a run stops short of more than this (`max_requests`), so a
# large index cannot turn a timer run into a flood of requests to a public service.
DIRECTORY_KINDS = ("wikidata", "enhetsregisteret")
DEFAULT_MAX_REQUESTS = 200
WIKIDATA_BATCH = 25  # names per SPARQL query: with 3-5 language tags each, the GET stays well under 8 KB


class SourcesError(ValueError):
    """The sources file is unusable; the message names the file and the entry."""


class SyncBusy(RuntimeError):
    """Another `erfa sync` holds the data directory's sync lock."""


@dataclass(frozen=True)
class Source:
    """One entry of the sources file."""

    name: str
    url: str
    format: str
    source: str | None = None  # the records' source; required to match what the file yields
    schedule: str | None = None  # for the operator's timer (OnCalendar); not used by erfa
    enabled: bool = True
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT  # seconds for the whole download, redirects included
    # Hosts ("host" or "host:port", lower case) a redirect may lead to besides the URL's own.
    allow_hosts: tuple[str, ...] = ()
    # "records" (a registry's file of projects) or a directory of bodies' web sites: "wikidata"
    # (a SPARQL endpoint) or "enhetsregisteret" (Norway's register of legal entities), see _sync_directory
    kind: str = "records"
    countries: tuple[str, ...] = ()  # directory kinds: the bodies of these countries (ISO codes); () = all
    max_requests: int = DEFAULT_MAX_REQUESTS  # directory kinds: requests one run may make


@dataclass
class Report(WriteSummary):
    """What happened to one source (its record counts are a `WriteSummary`); `line()` is what
    the operator reads in the journal."""

    name: str
    outcome: str  # "changed", "unchanged", "partial", "failed", "skipped", "dry-run"
    http: int | None = None
    detail: str = ""
    records: int = 0
    removed: int = 0
    rejected: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # rejected rows and notes, one line each

    @property
    def ok(self) -> bool:
        """False for a failure, and for a forced partial apply: that source is still not in sync."""
        return self.outcome not in ("failed", "partial")

    def line(self) -> str:
        status = f"HTTP {self.http}" if self.http else "no response"
        took = f"({self.seconds:.1f} s)"
        if self.outcome == "skipped":
            return f"{self.name}: skipped: {self.detail}"
        if self.outcome == "failed":
            return f"{self.name}: FAILED ({status}): {self.detail}; nothing changed {took}"
        if self.outcome == "unchanged":
            return f"{self.name}: {status}, unchanged: {self.detail} {took}"
        if self.outcome == "directory":
            return f"{self.name}: {status}, {self.detail} {took}"
        if self.outcome == "partial":
            rows = "row" if self.rejected == 1 else "rows"
            return (
                f"{self.name}: PARTIAL ({status}): {self.records} valid records applied: {self.added} added, "
                f"{self.updated} updated, {self.unchanged} unchanged; {self.rejected} rejected {rows} skipped, "
                f"nothing removed; fix the source, the next run downloads it again {took}"
            )
        verb = "would be " if self.outcome == "dry-run" else ""
        return (
            f"{self.name}: {status}, {self.records} records: {self.added} {verb}added, {self.updated} "
            f"{verb}updated, {self.unchanged} unchanged, {self.removed} {verb}removed, "
            f"{self.rejected} rejected {took}"
        )


# -- the sources file ----------------------------------------------------------------------


def load_sources(path: Path) -> list[Source]:
    """Read and check a sources file: every mistake is reported before anything is fetched."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path}: not valid TOML: {exc}") from None
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path}: no [[source]] entries")
    known = {
        "name",
        "url",
        "format",
        "source",
        "schedule",
        "enabled",
        "max_mb",
        "timeout",
        "allow_hosts",
        "kind",
        "countries",
        "max_requests",
    }
    sources: list[Source] = []
    for n, entry in enumerate(entries, 1):
        where = f"{path}: [[source]] #{n}"
        if not isinstance(entry, dict):
            raise SourcesError(f"{where}: not a table")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SourcesError(f"{where}: 'name' must be letters, digits, '-', '_' or '.' (got {name!r})")
        where = f"{path}: source {name!r}"
        unknown = sorted(set(entry) - known)
        if unknown:
            raise SourcesError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        if any(s.name == name for s in sources):
            raise SourcesError(f"{where}: the name is used twice")
        enabled = entry.get("enabled", True)
        url = entry.get("url", "")
        fmt = entry.get("format")
        if not isinstance(enabled, bool):
            raise SourcesError(f"{where}: 'enabled' must be true or false")
        if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
            raise SourcesError(f"{where}: 'url' must be an http(s) URL (got {url!r})")
        if enabled and not url:
            raise SourcesError(f"{where}: no 'url'; set it, or 'enabled = false'")
        kind = entry.get("kind", "records")
        if kind not in ("records", *DIRECTORY_KINDS):
            raise SourcesError(
                f"{where}: 'kind' must be \"records\" (the default), "
                f"{' or '.join(repr(k) for k in DIRECTORY_KINDS)} (got {kind!r})"
            )
        if kind != "records":
            if fmt is not None or entry.get("source") is not None:
                raise SourcesError(
                    f"{where}: a {kind} source fills the directory of web sites, not records: "
                    "it takes no 'format' or 'source'"
                )
            fmt = "directory-json"
        elif fmt not in FORMATS:
            raise SourcesError(f"{where}: 'format' must be one of {', '.join(FORMATS)} (got {fmt!r})")
        countries = entry.get("countries", [])
        if (
            (kind == "records" and "countries" in entry)
            or not isinstance(countries, list)
            or not all(isinstance(c, str) and re.fullmatch(r"[A-Za-z]{2}", c) for c in countries)
        ):
            raise SourcesError(
                f'{where}: \'countries\' is for directory sources, a list of ISO codes such as ["NO", "SE"]'
            )
        max_requests = entry.get("max_requests", DEFAULT_MAX_REQUESTS)
        if (
            (kind == "records" and "max_requests" in entry)
            or isinstance(max_requests, bool)
            or not isinstance(max_requests, int)
            or max_requests <= 0
        ):
            raise SourcesError(f"{where}: 'max_requests' is for directory sources, a positive whole number")
        source, schedule = entry.get("source"), entry.get("schedule")
        if source is not None and (not isinstance(source, str) or not source.strip()):
            raise SourcesError(f"{where}: 'source' must be a non-empty string")
        if schedule is not None and not isinstance(schedule, str):
            raise SourcesError(f"{where}: 'schedule' must be a string such as \"daily\"")
        max_mb, timeout = entry.get("max_mb", DEFAULT_MAX_BYTES / 2**20), entry.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or max_mb <= 0:
            raise SourcesError(f"{where}: 'max_mb' must be a positive number of MiB")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise SourcesError(f"{where}: 'timeout' must be a positive number of seconds")
        allow_hosts = entry.get("allow_hosts", [])
        if not isinstance(allow_hosts, list):
            raise SourcesError(f"{where}: 'allow_hosts' must be a list such as [\"cdn.example.org\"]")
        for host in allow_hosts:
            if not isinstance(host, str) or _host_key(host) is None:
                raise SourcesError(
                    f"{where}: 'allow_hosts' entries must be a host or host:port, "
                    f'such as "cdn.example.org" or "cdn.example.org:8443" (got {host!r})'
                )
        sources.append(
            Source(
                name,
                url,
                fmt,
                source,
                schedule,
                enabled,
                int(max_mb * 2**20),
                float(timeout),
                tuple(h.strip().lower() for h in allow_hosts),
                kind,
                tuple(c.upper() for c in countries),
                max_requests,
            )
        )
    return sources


def _host_key(host: str) -> tuple[str, int | None] | None:
    """An allow_hosts entry as (host, port); None when it is not a bare host[:port]."""
    try:
        parts = urllib.parse.urlsplit("//" + host.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username or parts.password or parts.path or parts.query or parts.fragment:
        return None
    return parts.hostname.lower(), port


# -- per-source state ----------------------------------------------------------------------


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    """The stored validators; a missing or damaged file means "download everything again",
    which is safe (an unchanged body upserts nothing), so it is not an error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        print(f"erfa: {path} is unreadable; every source is downloaded again", file=sys.stderr)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def save_state(path: Path, state: dict[str, dict[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    atomic_file(path, write)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def remembered(history: object, records: int, *, forced: bool) -> list[dict[str, Any]]:
    """The size history after a file of ``records`` records was applied: the last HISTORY_LEN sizes.

    A forced apply is the operator saying "the registry really is this size now", so it
    starts the history afresh; otherwise the shrink guard would refuse every later run
    against the size the operator has just overruled. Entries that are not a
    ``{"records": int}`` (a hand-edited or older sync.json) are dropped.
    """
    kept = [] if forced else _sizes(history)
    kept.append({"at": _now(), "records": records})
    return kept[-HISTORY_LEN:]


def _sizes(history: object) -> list[dict[str, Any]]:
    if not isinstance(history, list):
        return []
    return [
        h
        for h in history
        if isinstance(h, dict) and isinstance(h.get("records"), int) and not isinstance(h.get("records"), bool)
    ]


def _largest_recent(stored: dict[str, Any]) -> dict[str, Any] | None:
    """The history entry with the most records (a sync.json from before the history: its last size)."""
    sizes = _sizes(stored.get("history"))
    if not sizes and isinstance(stored.get("records"), int):
        sizes = [{"at": stored.get("changed_at"), "records": stored["records"]}]
    return max(sizes, key=lambda h: h["records"], default=None)


# -- fetching ------------------------------------------------------------------------------


class FetchError(Exception):
    """The download failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Fetched:
    status: int
    path: Path | None = None  # the body, in a temporary file the caller removes; None on 304
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None


class _Deadline:
    """One wall-clock budget for a whole download, enforced even against a server that drips.

    A socket timeout bounds each read, not the download: a server sending one byte a
    second never trips it. So every socket the download opens (redirects included) is
    registered here, connects with at most the time left, and a timer thread shuts them
    all down when the budget is spent; the read that was waiting then returns, and the
    download fails as "took longer than". Name resolution is left to the resolver's own
    timeout, since a lookup cannot be interrupted from another thread.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._done = False
        self._guard = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._guard:
            self._done = True
        self._timer.cancel()

    @property
    def message(self) -> str:
        return f"the download took longer than {self.seconds:g} s (timeout)"

    def connect(
        self, address: tuple[str, int], timeout: object = None, source_address: tuple[str, int] | None = None
    ) -> socket.socket:
        """socket.create_connection for http.client, bounded by the time left and registered."""
        left = self.end - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError(self.message)
        per_read = timeout if isinstance(timeout, (int, float)) else left
        sock = socket.create_connection(address, min(float(per_read), left), source_address)
        with self._guard:
            if not self.expired:
                self._sockets.append(sock)
                return sock
        sock.close()
        raise TimeoutError(self.message)

    def _expire(self) -> None:
        with self._guard:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in the fetching thread


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = deadline.connect


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = deadline.connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_HTTPConnection, deadline=self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self.deadline = deadline
        self.tls = ssl.create_default_context()

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            functools.partial(_HTTPSConnection, deadline=self.deadline),
            req,
            context=self.tls,
        )


def redirect_problem(src: Source, url: str) -> str | None:
    """Why a redirect of ``src``'s download to ``url`` is refused, or None when it may be followed.

    Only http(s), never from https down to http, and only to the host and port of the
    configured URL or one listed in ``allow_hosts``: a registry's file should not quietly
    come from somewhere else, and a redirect must not make erfa probe other ports or
    services. A default port counts as no port, so http://host -> https://host is allowed.
    """
    try:
        new, own = urllib.parse.urlsplit(url), urllib.parse.urlsplit(src.url)
        key, own_key = _origin(new), _origin(own)
    except ValueError:
        return "not a valid URL"
    if new.scheme not in ("http", "https"):
        return "only http and https are followed"
    if own.scheme == "https" and new.scheme == "http":
        return "it goes from https to http"
    allowed = {own_key} | {_host_key(h) for h in src.allow_hosts}
    if key in allowed:
        return None
    host = f"[{key[0]}]" if ":" in key[0] else key[0]
    where = f"{host}:{key[1]}" if key[1] is not None else host
    return f"{where} is not the host of the configured URL (list it in the source's allow_hosts to allow it)"


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, int | None]:
    port = parts.port  # ValueError for a port out of range
    if port == {"http": 80, "https": 443}.get(parts.scheme):
        port = None
    return (parts.hostname or "").lower(), port


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only where redirect_problem allows; any other is the source's failure."""

    def __init__(self, src: Source) -> None:
        super().__init__()
        self.src = src

    def http_error_302(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: http.client.HTTPMessage
    ) -> Any:
        location = headers.get("Location") or headers.get("URI")
        if location:
            target = urllib.parse.urljoin(req.full_url, location)
            problem = redirect_problem(self.src, target)
            if problem:
                fp.close()
                raise FetchError(f"refused a redirect to {target}: {problem}", code)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(src: Source, deadline: _Deadline) -> urllib.request.OpenerDirector:
    """http(s) only: no ftp, file or data handler is installed, whatever a server answers."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        _HTTPHandler(deadline),
        _HTTPSHandler(deadline),
        urllib.request.HTTPDefaultErrorHandler(),
        _Redirects(src),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def fetch(src: Source, previous: dict[str, Any], into: Path) -> Fetched:
    """GET ``src.url``, conditional on ``previous``'s validators, into a temporary file in ``into``.

    The whole download, redirects included, has ``src.timeout`` seconds of wall-clock time.
    Raises FetchError for anything but a whole 200 body or a 304 to a conditional request.
    """
    with _Deadline(src.timeout) as deadline:
        try:
            return _download(src, previous, into, deadline)
        except FetchError as exc:
            if deadline.expired:
                raise FetchError(deadline.message, exc.status) from None
            raise


def _download(src: Source, previous: dict[str, Any], into: Path, deadline: _Deadline) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if previous.get("etag"):
        headers["If-None-Match"] = previous["etag"]
    if previous.get("last_modified"):
        headers["If-Modified-Since"] = previous["last_modified"]
    request = urllib.request.Request(src.url, headers=headers)
    try:
        response = _opener(src, deadline).open(request, timeout=src.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304 and ("If-None-Match" in headers or "If-Modified-Since" in headers):
            return Fetched(
                304,
                etag=exc.headers.get("ETag") or previous.get("etag"),
                last_modified=exc.headers.get("Last-Modified") or previous.get("last_modified"),
            )
        raise FetchError(f"the server answered {exc.code} {exc.reason}", exc.code) from None
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot reach {src.url}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, malformed responses
        raise FetchError(f"cannot reach {src.url}: {exc}") from None
    with response:
        status = response.status
        if status != 200:
            raise FetchError(f"expected 200, the server answered {status} {response.reason}", status)
        length = _content_length(response.headers.get("Content-Length"))
        if length is not None and length > src.max_bytes:
            raise FetchError(f"the file is {length:,} bytes, over the {src.max_bytes:,}-byte cap (max_mb)", status)
        # openpyxl opens a workbook only under an Excel file name, so the suffix follows the format.
        fd, name = tempfile.mkstemp(prefix=f".sync-{src.name}.", suffix=".part" + _suffix(src.format), dir=into)
        tmp = Path(name)
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > src.max_bytes:
                        raise FetchError(f"the download passed the {src.max_bytes:,}-byte cap (max_mb)", status)
                    if deadline.expired:
                        raise FetchError(deadline.message, status)
                    digest.update(chunk)
                    out.write(chunk)
            # A body read to the connection's end looks whole when the deadline closed it.
            if deadline.expired:
                raise FetchError(deadline.message, status)
            if length is not None and size != length:
                raise FetchError(f"the download was cut short: {size:,} of {length:,} bytes", status)
        except (OSError, http.client.HTTPException) as exc:  # IncompleteRead of a chunked body, resets
            tmp.unlink(missing_ok=True)
            raise FetchError(f"the download was cut short: {exc!r}", status) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Fetched(
            200, tmp, response.headers.get("ETag"), response.headers.get("Last-Modified"), digest.hexdigest()
        )


def _suffix(fmt: str) -> str:
    return "." + fmt.rsplit("-", 1)[-1]  # digdir-csv -> .csv, pstw-xlsx -> .xlsx, erfa-jsonl -> .jsonl


def _content_length(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


# -- applying ------------------------------------------------------------------------------


def sync(
    sources: Sequence[Source],
    home: Path,
    open_index: Callable[[], ProjectIndex],
    *,
    only: Sequence[str] = (),
    dry_run: bool = False,
    force: bool = False,
    max_xlsx_bytes: int = MAX_XLSX_BYTES,
) -> list[Report]:
    """Sync each source in turn and report on each; one source's failure never stops the others.

    ``open_index`` is called only when some file changed, so a run where everything
    answers 304 never loads the index. ``only`` picks sources by name, including
    disabled ones (an operator asking for one by name means it). ``force`` ignores the
    stored validators and hash, applies even a large removal, and applies the valid rows
    of a file with rejected rows without removing anything (never a file cut mid-row;
    see _apply). ``max_xlsx_bytes`` is
    the reader's unpacked-workbook cap (Settings.max_xlsx_bytes), as for `erfa ingest`.
    """
    home.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in sources if (s.name in only if only else True)]
    state_path = home / STATE_FILE
    index: list[ProjectIndex] = []

    def get_index() -> ProjectIndex:
        if not index:
            index.append(open_index())
        return index[0]

    reports: list[Report] = []
    with _lock(home):
        state = load_state(state_path)
        for src in chosen:
            if not src.enabled and not only:
                reports.append(Report(src.name, "skipped", detail="enabled = false in the sources file"))
                continue
            if not src.url:
                reports.append(Report(src.name, "skipped", detail="no url in the sources file"))
                continue
            started = time.perf_counter()
            report = _sync_one(src, state, home, get_index, dry_run=dry_run, force=force, max_xlsx_bytes=max_xlsx_bytes)
            report.seconds = time.perf_counter() - started
            reports.append(report)
            if not dry_run and report.ok:
                save_state(state_path, state)  # after each source, so a later crash keeps earlier work
    return reports


def _sync_one(
    src: Source,
    state: dict[str, dict[str, Any]],
    home: Path,
    get_index: Callable[[], ProjectIndex],
    *,
    dry_run: bool,
    force: bool,
    max_xlsx_bytes: int,
) -> Report:
    """One source; updates ``state[src.name]`` only when the index holds what the URL serves."""
    if src.kind in DIRECTORY_KINDS:
        return _sync_directory(src, state, home, get_index, dry_run=dry_run)
    stored = state.get(src.name, {})
    # Validators and hash belong to one URL: after an edit of the sources file, download afresh.
    previous = stored if (stored.get("url") == src.url and not force) else {}
    try:
        got = fetch(src, previous, home)
    except FetchError as exc:
        return Report(src.name, "failed", exc.status, str(exc))
    checked = {"url": src.url, "checked_at": _now(), "etag": got.etag, "last_modified": got.last_modified}
    if got.status == 304:
        state[src.name] = {**previous, **checked}
        return Report(src.name, "unchanged", 304, "not modified since the last sync")
    assert got.path is not None
    try:
        if got.sha256 == previous.get("sha256"):
            state[src.name] = {**previous, **checked}
            return Report(src.name, "unchanged", 200, "same content as the last sync")
        return _apply(src, got, state, checked, get_index, dry_run=dry_run, force=force, max_xlsx_bytes=max_xlsx_bytes)
    finally:
        got.path.unlink(missing_ok=True)


def _apply(
    src: Source,
    got: Fetched,
    state: dict[str, dict[str, Any]],
    checked: dict[str, Any],
    get_index: Callable[[], ProjectIndex],
    *,
    dry_run: bool,
    force: bool,
    max_xlsx_bytes: int,
) -> Report:
    """Read the downloaded file and apply it, unless it is damaged or shrinks the source too far.

    Records are deleted only on the word of a file in which every row read: a rejected
    row may be a row the registry still lists, and a file cut mid-row lacks every row
    after the cut. ``force`` applies the valid rows of a file with rejected rows (no
    removal, no stored hash, so the source stays reported as not in sync) and a large
    shrink, but never a file that ends mid-row: that is a broken download or export,
    and its last row is damaged whatever else is right with it.
    """
    assert got.path is not None
    try:
        result = read_file(got.path, format=src.format, default_source=src.source, max_xlsx_bytes=max_xlsx_bytes)
        cut = None if src.format == "pstw-xlsx" else cut_row(read_text(got.path)[0], src.format)
    except FormatError as exc:  # a cut-off XLSX or JSON lands here; its temp name means nothing to anyone
        fix = f" ({exc.fix})" if exc.fix else ""
        return Report(src.name, "failed", got.status, f"the file could not be read as {src.format}: {exc.problem}{fix}")
    except OSError as exc:
        return Report(src.name, "failed", got.status, f"the file could not be read: {exc.strerror or exc}")
    if cut is None:  # a row the index cannot take in is a rejected row like any other: nothing is removed on it
        refuse_unindexable(get_index(), result)
    problems = [f"{src.name}:{bad.row}: rejected: {bad.reason}" for bad in result.rejected]
    problems += [f"{src.name}:{note.row}: warning: {note.text}" for note in result.notes]
    records = result.records
    rejected = len(result.rejected)
    fail = Report(src.name, "failed", got.status, rejected=rejected, problems=problems)
    if cut is not None:
        row = "line" if src.format == "erfa-jsonl" else "row"
        fail.detail = (
            f"the file ends in the middle of {row} {cut}: it was cut off (in transit or when the source "
            f"exported it), so the {row}s after it are missing; nothing is applied, not even with --force. "
            "The next run downloads it again; if the source serves it so, tell its publisher"
        )
        return fail
    if rejected and not force:
        rows = "1 row of the file was" if rejected == 1 else f"{rejected:,} rows of the file were"
        fail.detail = (
            f"{rows} rejected (listed above); a sync applies a file only when every row reads, since a "
            "rejected row's record would otherwise be removed. Fix the source and the next run applies "
            "it, or run with --force to add and update the valid rows without removing anything"
        )
        return fail
    if not records:
        fail.detail = "no record could be read from the file (sync never empties a source)"
        return fail
    found = sorted({r.source for r in records})
    if src.source and found != [src.source]:
        fail.detail = f"the file holds records of source(s) {', '.join(found)}, the sources file says {src.source!r}"
        return fail
    partial = rejected > 0  # only reached with --force
    idx = get_index()
    keep = {r.id for r in records}
    removing = {s: idx.store.ids_of_source(s) for s in found}
    gone = 0 if partial else sum(len(ids - keep) for ids in removing.values())
    held = sum(len(ids) for ids in removing.values())
    if not force:
        shrink = _shrinks(len(records), gone, held, _largest_recent(state.get(src.name, {})))
        if shrink:
            fail.detail = shrink
            return fail
    if dry_run:
        plan = idx.store.plan(records)
        return Report(
            src.name,
            "dry-run",
            got.status,
            records=len(records),
            added=len(plan.added),
            updated=len(plan.updated),
            unchanged=len(plan.unchanged),
            removed=gone,
            rejected=rejected,
            problems=problems,
        )
    summary = upsert_and_prune(idx, records, prune=not partial, progress=False)
    if partial:  # the index does not hold what the URL serves: keep the old state, so the next run retries
        return Report(
            src.name,
            "partial",
            got.status,
            records=len(records),
            **summary.counts(),
            rejected=rejected,
            problems=problems,
        )
    history = remembered(state.get(src.name, {}).get("history"), len(records), forced=force)
    state[src.name] = {
        **checked,
        "sha256": got.sha256,
        "changed_at": _now(),
        "records": len(records),
        "history": history,
    }
    return Report(
        src.name,
        "changed",
        got.status,
        records=len(records),
        **summary.counts(),
        removed=summary.deleted,
        rejected=rejected,
        problems=problems,
    )


# -- the directory of bodies' web sites -----------------------------------------------------------


def _bodies(idx: ProjectIndex, countries: Sequence[str]) -> list[Body]:
    """The bodies the index holds (as partners are keyed: organisations.Directory over every
    record), each with every spelling seen and the registry numbers its records carry."""
    records = [r for r in idx.records() if r.organisation and r.country and (not countries or r.country in countries)]
    orgs = Directory()
    for r in records:
        orgs.add(r.organisation or "", r.country or "", r.organisation_number, r.language)
    numbers: dict[tuple[str, str], set[str]] = {}
    for r in records:
        key = orgs.key(r.organisation or "", r.country or "")
        if key:
            numbers.setdefault((r.country or "", key), set()).update(
                [r.organisation_number] if r.organisation_number else []
            )
    return [
        Body(country, tuple(sorted(orgs.names_of(key, country))), tuple(sorted(nums)))
        for (country, key), nums in sorted(numbers.items())
        if orgs.names_of(key, country)
    ]


def _get_json(src: Source, url: str, home: Path) -> Any:
    """GET ``url`` under ``src``'s rules (size cap, one deadline, redirects only to its host): the same
    `fetch` as a registry's file, so a directory source is held to what every source is."""
    got = fetch(replace(src, url=url), {}, home)
    assert got.path is not None
    try:
        return json.loads(got.path.read_bytes())
    except ValueError as exc:
        raise FetchError(f"the answer to {url} is not JSON: {exc}", got.status) from None
    finally:
        got.path.unlink(missing_ok=True)


def _sync_directory(
    src: Source, state: dict[str, dict[str, Any]], home: Path, get_index: Callable[[], ProjectIndex], *, dry_run: bool
) -> Report:
    """Ask a public register for the web sites of the index's bodies and file what it answers
    (index/bodies/directory.py): matched by name and country or by registry number, with the
    match's confidence; nothing below bodies_directory.MIN_CONFIDENCE, nothing ambiguous. Any
    failed request fails the source and changes nothing: one run is the register's whole answer,
    replacing what it said before."""
    bodies = _bodies(get_index(), src.countries)
    old = BodiesDirectory.load(home)
    checked = bodies_directory.now()
    try:
        if src.kind == "wikidata":
            entries, detail, requests = _ask_wikidata(src, bodies, home, checked)
        else:
            entries, detail, requests = _ask_enhetsregisteret(src, bodies, old, home, checked)
    except FetchError as exc:
        return Report(src.name, "failed", exc.status, str(exc))
    except _TooMany as exc:
        return Report(src.name, "failed", None, str(exc))
    if not dry_run:
        old.replaced(src.kind, entries).save(home)
        state[src.name] = {"url": src.url, "checked_at": checked, "entries": len(entries), "requests": requests}
    verb = "would be filed" if dry_run else "filed"
    return Report(
        src.name,
        "directory",
        200 if requests else None,
        f"{detail}; {len(entries)} {verb} ({sum(1 for e in entries if e.website)} with a web site)",
        records=len(entries),
    )


class _TooMany(Exception):
    """A directory run would make more requests than the source's max_requests."""


def _ask_wikidata(src: Source, bodies: Sequence[Body], home: Path, checked: str) -> tuple[list[Entry], str, int]:
    batches: list[tuple[str, list[Body]]] = []
    for country in sorted({b.country for b in bodies}):
        batch: list[Body] = []
        for body in (b for b in bodies if b.country == country):
            if batch and sum(len(b.names) for b in batch) + len(body.names) > WIKIDATA_BATCH:
                batches.append((country, batch))
                batch = []
            batch.append(body)
        if batch:
            batches.append((country, batch))
    if len(batches) > src.max_requests:
        raise _TooMany(
            f"{len(bodies):,} bodies need {len(batches):,} SPARQL requests, over max_requests = "
            f"{src.max_requests}: raise it, or narrow 'countries'"
        )
    answers = []
    for country, batch in batches:
        query = bodies_directory.sparql_query(country, [n for b in batch for n in b.names])
        answers.append(
            _get_json(
                src,
                src.url + ("&" if "?" in src.url else "?") + urllib.parse.urlencode({"query": query, "format": "json"}),
                home,
            )
        )
    outcome = match_wikidata(bodies, answers, checked)
    by_kind = Counter(e.match for e in outcome.entries)
    detail = (
        f"{outcome.asked:,} bodies asked in {len(batches)} requests: {len(outcome.entries):,} matched "
        f"({by_kind['number']} by registry number, {by_kind['exact']} by name, {by_kind['alias']} by another "
        f"name they go by), {len(outcome.ambiguous)} ambiguous and {len(outcome.contradicted)} with a "
        f"contradicting registry number left out, {outcome.without_site} without a web site or number"
    )
    return outcome.entries, detail, len(batches)


def _ask_enhetsregisteret(
    src: Source, bodies: Sequence[Body], directory: BodiesDirectory, home: Path, checked: str
) -> tuple[list[Entry], str, int]:
    """Norway's bodies by organisation number: the numbers their records carry (a sure match),
    and those Wikidata gave a matched body (as sure as that match)."""
    wanted: dict[str, tuple[str, float, str]] = {}  # number -> (body name, confidence, match)
    for body in bodies:
        if body.country == "NO":
            for number in body.numbers:
                if re.fullmatch(r"\d{9}", number):
                    wanted[number] = (body.names[0], CONFIDENCE["number"], "number")
    for e in directory.all():
        if e.source == "wikidata" and e.country == "NO" and e.registry_id and re.fullmatch(r"\d{9}", e.registry_id):
            wanted.setdefault(e.registry_id, (e.name, e.confidence, e.match))
    if len(wanted) > src.max_requests:
        raise _TooMany(
            f"{len(wanted):,} organisation numbers to look up, over max_requests = {src.max_requests}: raise it"
        )
    entries: list[Entry] = []
    missing = 0
    for number, (name, confidence, match) in sorted(wanted.items()):
        url = f"{src.url.rstrip('/')}/{number}"
        try:
            enhet = _get_json(src, url, home)
        except FetchError as exc:
            if exc.status in (404, 410):  # not (or no longer) in the register: nothing to file
                missing += 1
                continue
            raise
        entry = match_enhet(name, number, enhet if isinstance(enhet, dict) else {}, confidence, match, url, checked)
        if entry is not None:
            entries.append(entry)
    detail = (
        f"{len(wanted):,} organisation numbers looked up ({missing} not in the register), "
        f"{len(entries)} with a web site"
    )
    return entries, detail, len(wanted)


def _shrinks(records: int, gone: int, held: int, largest: dict[str, Any] | None) -> str | None:
    """Why applying a file of ``records`` records would shrink its source too far, or None.

    Two witnesses: what erfa holds of the source (``held``, of which ``gone`` would be
    removed), and the largest size in the source's recent history, so that an export
    losing a little more each run is caught once it is below half of what it was.
    """
    advice = "that looks like a broken export (run with --force if the registry really shrank)"
    if held >= SHRINK_MIN and gone > SHRINK_SHARE * held:
        return f"the file would remove {gone:,} of the {held:,} records of this source; {advice}"
    if largest is not None and largest["records"] >= SHRINK_MIN and records < SHRINK_SHARE * largest["records"]:
        when = f" ({largest['at']})" if isinstance(largest.get("at"), str) else ""
        listed = "1 record" if records == 1 else f"{records:,} records"
        return (
            f"the file lists {listed}; this source had {largest['records']:,} in a recent sync{when}, "
            f"and a source is not shrunk below {SHRINK_SHARE:.0%} of that without --force; {advice}"
        )
    return None


def cut_row(text: str, fmt: str) -> int | None:
    """The row (CSV) or line (JSON Lines) at which ``text`` ends mid-row, or None.

    A whole CSV or JSON Lines file ends with a line break after its last row. One that
    does not, and whose last row is short of the header's columns (a CSV cut inside a
    cell, quoted or not) or is not a JSON value (a JSON Lines file cut inside a line), was
    cut off: the reader may well accept what is left of that row, and the rows after it
    are missing. A CSV cut inside its last row's last cell leaves a row that looks whole;
    then only the shrink guard is left to notice. Row numbers count as the reader's do.
    """
    if not text or text.endswith(("\n", "\r")):
        return None
    if fmt == "erfa-jsonl":
        lines = text.splitlines()  # as jsonl_rows numbers them
        if not lines[-1].strip():
            return None
        try:
            json_loads(lines[-1])
        except ValueError:
            return len(lines)
        return None
    if fmt not in _CSV_FORMATS:
        return None
    header: int | None = None
    last: tuple[int, int] | None = None  # (row number, cells)
    try:
        # Not strict: a quote left open by the cut ends the last row instead of raising.
        lines = io.StringIO(text, newline="").readlines()  # as csv_rows splits them
        for number, cells in enumerate(csv.reader(lines, delimiter=sniff_delimiter(text)), 1):
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = len(cells)
            else:
                last = (number, len(cells))
    except csv.Error:  # a runaway cell: the reader has already rejected the row
        return None
    if header is not None and last is not None and last[1] < header:
        return last[0]
    return None


@contextmanager
def _lock(home: Path) -> Iterator[None]:
    """One `erfa sync` per data directory: two would race on sync.json (the index guards itself)."""
    with open(home / "sync.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(f"another `erfa sync` is running on {home}") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the command ---------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `erfa sync` to the CLI's subcommands (kept here so cli.py needs two lines)."""
    s = subparsers.add_parser("sync", help="fetch the official registries from their URLs and apply what changed")
    s.add_argument(
        "--sources", help=f"TOML file listing the sources (default: {DEFAULT_SOURCES.name} shipped with erfa)"
    )
    s.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="sync only this source (repeatable; also runs a source with enabled = false)",
    )
    s.add_argument("--dry-run", action="store_true", help="download and read, report what would change, write nothing")
    s.add_argument(
        "--force",
        action="store_true",
        help="download even when ETag or hash say unchanged, apply even a file that shrinks a source by "
        "more than half, and add/update the valid rows of a file with rejected rows (removing nothing)",
    )
    s.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings, *, index: ProjectIndex | None = None) -> int:
    """`erfa sync`: one line per source on stdout (failures on stderr); 0 only if every source is in sync.

    ``index`` lets tests share a loaded model; the CLI opens the index from ``settings``.
    """
    path = Path(args.sources) if getattr(args, "sources", None) else DEFAULT_SOURCES
    try:
        sources = load_sources(path)
    except SourcesError as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 2
    only = list(getattr(args, "only", None) or [])
    unknown = [n for n in only if n not in {s.name for s in sources}]
    if unknown:
        print(
            f"erfa: {path}: no source named {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(s.name for s in sources)}",
            file=sys.stderr,
        )
        return 2

    def open_index() -> ProjectIndex:
        if index is not None:
            return index
        return ProjectIndex(
            settings.home,
            model=settings.model,
            query_prompt=settings.query_prompt,
            passage_prompt=settings.passage_prompt,
            close_match=settings.close_match,
            encoder_options=settings.encoder_options,
        )

    try:
        reports = sync(
            sources,
            settings.home,
            open_index,
            only=only,
            dry_run=bool(getattr(args, "dry_run", False)),
            force=bool(getattr(args, "force", False)),
            max_xlsx_bytes=settings.max_xlsx_bytes,
        )
    except SyncBusy as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 1
    for report in reports:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print(report.line(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if all(r.ok for r in reports) else 1


__all__ = [
    "DEFAULT_SOURCES",
    "HISTORY_LEN",
    "FetchError",
    "Report",
    "Source",
    "SourcesError",
    "SyncBusy",
    "cut_row",
    "fetch",
    "load_sources",
    "redirect_problem",
    "register",
    "remembered",
    "run",
    "sync",
]
