"""`erfa sync`: keep the official registries current from the URLs they publish.

An operator should not have to download Norway's overview or the PSTW export by hand
and re-run `erfa ingest` after each release. A timer runs `erfa sync` instead; it asks
each source "changed since this ETag / Last-Modified?", and only a changed body is
read, upserted (the index itself skips unchanged records and cached texts) and pruned
(records the source no longer lists are deleted).

What a scheduled job must never do is damage the index because the network had a bad
day. So a source's change is applied only when its download is whole (the bytes
Content-Length promised, within the size cap and the time limit) and the file parses
into at least one record; a 5xx, a refused connection, a cut-off body or an unreadable
file reports a failure for that source, changes nothing, keeps the stored validators
(so the next run downloads again), and the other sources still run. A file that would
remove more than half of a sizeable source is held back too, as that is far more often
a broken export than a registry that really shrank (`--force` applies it).

The per-source state (ETag, Last-Modified, sha256 of the last body applied, times) is
`sync.json` in the data directory, replaced atomically. The sources themselves are a
TOML file (`sources.toml` beside this module is the default); its `schedule` is a note
for the operator's timer (systemd OnCalendar syntax, see docs/sync.md): erfa does not
schedule anything itself.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import http.client
import json
import os
import re
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from erfa.index import ProjectIndex
from erfa.index.atomic import atomic_file
from erfa.ingest import FORMATS, FormatError, read_file
from erfa.ingest.limits import MAX_XLSX_BYTES
from erfa.service.settings import Settings
from erfa.service.writes import upsert_and_prune

DEFAULT_SOURCES = Path(__file__).with_name("sources.toml")
STATE_FILE = "sync.json"
# The PSTW workbook is 3.5 MB and Digdir's CSV 84 KB; 64 MiB only stops a runaway or
# hostile response before it fills the disk. `max_mb` in the sources file overrides.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Per socket operation and for the whole download: a server that drips bytes cannot hold
# a timer run for ever. `timeout` in the sources file overrides.
DEFAULT_TIMEOUT = 120.0
# Refuse (without --force) a file that would delete more than this share of a source that
# holds at least SHRINK_MIN records: a truncated export looks exactly like that.
SHRINK_SHARE = 0.5
SHRINK_MIN = 10
USER_AGENT = "erfa-sync/0.1 (public-sector AI project search; conditional GET)"
_CHUNK = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
    timeout: float = DEFAULT_TIMEOUT


@dataclass
class Report:
    """What happened to one source; `line()` is what the operator reads in the journal."""

    name: str
    outcome: str  # "changed", "unchanged", "failed", "skipped", "dry-run"
    http: int | None = None
    detail: str = ""
    records: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    rejected: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # rejected rows and notes, one line each

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    def line(self) -> str:
        status = f"HTTP {self.http}" if self.http else "no response"
        took = f"({self.seconds:.1f} s)"
        if self.outcome == "skipped":
            return f"{self.name}: skipped: {self.detail}"
        if self.outcome == "failed":
            return f"{self.name}: FAILED ({status}): {self.detail}; nothing changed {took}"
        if self.outcome == "unchanged":
            return f"{self.name}: {status}, unchanged: {self.detail} {took}"
        verb = "would be " if self.outcome == "dry-run" else ""
        return (f"{self.name}: {status}, {self.records} records: {self.added} {verb}added, {self.updated} "
                f"{verb}updated, {self.unchanged} unchanged, {self.removed} {verb}removed, "
                f"{self.rejected} rejected {took}")


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
    known = {"name", "url", "format", "source", "schedule", "enabled", "max_mb", "timeout"}
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
        if fmt not in FORMATS:
            raise SourcesError(f"{where}: 'format' must be one of {', '.join(FORMATS)} (got {fmt!r})")
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
        sources.append(Source(name, url, fmt, source, schedule, enabled, int(max_mb * 2**20), float(timeout)))
    return sources


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
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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


def fetch(src: Source, previous: dict[str, Any], into: Path) -> Fetched:
    """GET ``src.url``, conditional on ``previous``'s validators, into a temporary file in ``into``.

    Raises FetchError for anything but a whole 200 body or a 304 to a conditional request.
    """
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if previous.get("etag"):
        headers["If-None-Match"] = previous["etag"]
    if previous.get("last_modified"):
        headers["If-Modified-Since"] = previous["last_modified"]
    request = urllib.request.Request(src.url, headers=headers)
    deadline = time.monotonic() + src.timeout
    try:
        response = urllib.request.urlopen(request, timeout=src.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304 and ("If-None-Match" in headers or "If-Modified-Since" in headers):
            return Fetched(304, etag=exc.headers.get("ETag") or previous.get("etag"),
                           last_modified=exc.headers.get("Last-Modified") or previous.get("last_modified"))
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
                    if time.monotonic() > deadline:
                        raise FetchError(f"the download took longer than {src.timeout:g} s (timeout)", status)
                    digest.update(chunk)
                    out.write(chunk)
            if length is not None and size != length:
                raise FetchError(f"the download was cut short: {size:,} of {length:,} bytes", status)
        except (OSError, http.client.HTTPException) as exc:  # IncompleteRead of a chunked body, resets
            tmp.unlink(missing_ok=True)
            raise FetchError(f"the download was cut short: {exc!r}", status) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Fetched(200, tmp, response.headers.get("ETag"), response.headers.get("Last-Modified"), digest.hexdigest())


def _suffix(fmt: str) -> str:
    return "." + fmt.rsplit("-", 1)[-1]  # digdir-csv -> .csv, pstw-xlsx -> .xlsx, erfa-jsonl -> .jsonl


def _content_length(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


# -- applying ------------------------------------------------------------------------------

def sync(sources: Sequence[Source], home: Path, open_index: Callable[[], ProjectIndex], *,
         only: Sequence[str] = (), dry_run: bool = False, force: bool = False,
         max_xlsx_bytes: int = MAX_XLSX_BYTES) -> list[Report]:
    """Sync each source in turn and report on each; one source's failure never stops the others.

    ``open_index`` is called only when some file changed, so a run where everything
    answers 304 never loads the index. ``only`` picks sources by name, including
    disabled ones (an operator asking for one by name means it). ``force`` ignores the
    stored validators and hash and applies even a large removal. ``max_xlsx_bytes`` is
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
            report = _sync_one(src, state, home, get_index, dry_run=dry_run, force=force,
                               max_xlsx_bytes=max_xlsx_bytes)
            report.seconds = time.perf_counter() - started
            reports.append(report)
            if not dry_run and report.ok:
                save_state(state_path, state)  # after each source, so a later crash keeps earlier work
    return reports


def _sync_one(src: Source, state: dict[str, dict[str, Any]], home: Path, get_index: Callable[[], ProjectIndex],
              *, dry_run: bool, force: bool, max_xlsx_bytes: int) -> Report:
    """One source; updates ``state[src.name]`` only when the index holds what the URL serves."""
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
        return _apply(src, got, state, checked, get_index, dry_run=dry_run, force=force,
                      max_xlsx_bytes=max_xlsx_bytes)
    finally:
        got.path.unlink(missing_ok=True)


def _apply(src: Source, got: Fetched, state: dict[str, dict[str, Any]], checked: dict[str, Any],
           get_index: Callable[[], ProjectIndex], *, dry_run: bool, force: bool, max_xlsx_bytes: int) -> Report:
    assert got.path is not None
    try:
        result = read_file(got.path, format=src.format, default_source=src.source, max_xlsx_bytes=max_xlsx_bytes)
    except FormatError as exc:  # a cut-off XLSX or JSON lands here; its temp name means nothing to anyone
        fix = f" ({exc.fix})" if exc.fix else ""
        return Report(src.name, "failed", got.status, f"the file could not be read as {src.format}: {exc.problem}{fix}")
    except OSError as exc:
        return Report(src.name, "failed", got.status, f"the file could not be read: {exc.strerror or exc}")
    problems = [f"{src.name}:{bad.row}: rejected: {bad.reason}" for bad in result.rejected]
    problems += [f"{src.name}:{note.row}: warning: {note.text}" for note in result.notes]
    records = result.records
    fail = Report(src.name, "failed", got.status, rejected=len(result.rejected), problems=problems)
    if not records:
        fail.detail = "no record could be read from the file (sync never empties a source)"
        return fail
    found = sorted({r.source for r in records})
    if src.source and found != [src.source]:
        fail.detail = f"the file holds records of source(s) {', '.join(found)}, the sources file says {src.source!r}"
        return fail
    idx = get_index()
    keep = {r.id for r in records}
    removing = {s: idx.store.ids_of_source(s) for s in found}
    gone = sum(len(ids - keep) for ids in removing.values())
    held = sum(len(ids) for ids in removing.values())
    if not force and held >= SHRINK_MIN and gone > SHRINK_SHARE * held:
        fail.detail = (f"the file would remove {gone:,} of the {held:,} records of this source; that looks like a "
                       "broken export (run with --force if the registry really shrank)")
        return fail
    if dry_run:
        plan = idx.store.plan(records)
        return Report(src.name, "dry-run", got.status, records=len(records), added=len(plan.added),
                      updated=len(plan.updated), unchanged=len(plan.unchanged), removed=gone,
                      rejected=len(result.rejected), problems=problems)
    summary = upsert_and_prune(idx, records, prune=True, progress=False)
    state[src.name] = {**checked, "sha256": got.sha256, "changed_at": _now(), "records": len(records)}
    return Report(src.name, "changed", got.status, records=len(records), added=summary.added,
                  updated=summary.updated, unchanged=summary.unchanged, removed=summary.deleted,
                  rejected=len(result.rejected), problems=problems)


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

def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `erfa sync` to the CLI's subcommands (kept here so cli.py needs two lines)."""
    s = subparsers.add_parser("sync", help="fetch the official registries from their URLs and apply what changed")
    s.add_argument("--sources", help=f"TOML file listing the sources (default: {DEFAULT_SOURCES.name} shipped with erfa)")
    s.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="sync only this source (repeatable; also runs a source with enabled = false)")
    s.add_argument("--dry-run", action="store_true", help="download and read, report what would change, write nothing")
    s.add_argument("--force", action="store_true",
                   help="download even when ETag or hash say unchanged, and apply even a file that removes most records")
    s.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings, *, index: ProjectIndex | None = None) -> int:
    """`erfa sync`: one line per source on stdout (failures on stderr); 0 only if every source is fine.

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
        print(f"erfa: {path}: no source named {', '.join(map(repr, unknown))}; "
              f"known: {', '.join(s.name for s in sources)}", file=sys.stderr)
        return 2

    def open_index() -> ProjectIndex:
        if index is not None:
            return index
        return ProjectIndex(settings.home, model=settings.model, query_prompt=settings.query_prompt,
                            passage_prompt=settings.passage_prompt, close_match=settings.close_match,
                            encoder_options=settings.encoder_options)

    try:
        reports = sync(sources, settings.home, open_index, only=only,
                       dry_run=bool(getattr(args, "dry_run", False)), force=bool(getattr(args, "force", False)),
                       max_xlsx_bytes=settings.max_xlsx_bytes)
    except SyncBusy as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 1
    for report in reports:
        for problem in report.problems:
            print(problem, file=sys.stderr)
        print(report.line(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if all(r.ok for r in reports) else 1


__all__ = ["DEFAULT_SOURCES", "FetchError", "Report", "Source", "SourcesError", "SyncBusy", "fetch",
           "load_sources", "register", "run", "sync"]
