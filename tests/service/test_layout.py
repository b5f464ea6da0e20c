"""The house rules of service/ (issue 20), read from the source with `ast`, so a newcomer can
trust the layout instead of rediscovering it:

- an API router (service/api/routers/) imports no module that has routes of its own (another
  router, or a page module): what routers share lives in schemas.py, deps.py, errors.py and
  presenter.py;
- the command line (service/cli/) imports no module that has routes: it shares the models of
  schemas.py, not the HTTP layer;
- nothing in service/ imports a database or index driver (sqlite3, psycopg, faiss): the stores
  and the engine in index/ own them and raise store errors (index/store/protocol.py). The one
  exception is service/database.py, which checks that psycopg is installed before it opens a
  PostgreSQL store.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"  # tests/service/this file -> the checkout
DRIVERS = ("sqlite3", "psycopg", "faiss")
DRIVER_ALLOWED = {"database.py": {"psycopg"}}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(("erfa.service", *parts)).removesuffix(".__init__")


def imported(tree: ast.AST, here: str) -> Iterator[str]:
    """Every module an import anywhere in the file names (also imports inside functions);
    ``from pkg import name`` yields both ``pkg`` and ``pkg.name``, since the name may be a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = here.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def has_routes(tree: ast.Module) -> bool:
    """A module that defines ``router = APIRouter(...)`` at its top level."""
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "router" for t in node.targets)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "APIRouter"
        for node in tree.body
    )


def violations(root: Path = SERVICE) -> list[str]:
    """What breaks the rules above in the tree at ``root`` (service/), one line each."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(root.rglob("*.py"))}
    names = {path: module_name(path, root) for path in trees}
    route_modules = {names[p] for p, tree in trees.items() if has_routes(tree)}
    found: list[str] = []
    for path, tree in trees.items():
        here, rel = names[path], path.relative_to(root).as_posix()
        uses = set(imported(tree, here))
        if rel.startswith(("api/routers/", "cli/")):
            for other in sorted(uses & route_modules - {here}):
                kind = "router" if rel.startswith("api/") else "command-line module"
                found.append(f"service/{rel}: a {kind} imports {other}, which has routes of its own")
        allowed = DRIVER_ALLOWED.get(rel, set())
        for use in sorted(uses):
            driver = use.split(".")[0]
            if driver in DRIVERS and driver not in allowed:
                found.append(f"service/{rel}: imports {use}; drivers belong to index/ (stores raise store errors)")
    return found


def test_service_keeps_its_layout() -> None:
    assert violations() == []


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The checker itself: a router importing a router, a CLI importing a router, sqlite3 in service/."""
    (tmp_path / "api" / "routers").mkdir(parents=True)
    (tmp_path / "cli").mkdir()
    (tmp_path / "pages").mkdir()
    route = "from fastapi import APIRouter\nrouter = APIRouter()\n"
    (tmp_path / "api" / "routers" / "projects.py").write_text(route)
    (tmp_path / "api" / "routers" / "ingest.py").write_text(
        route + "from erfa.service.api.routers.projects import WriteSummary\n"
    )
    (tmp_path / "pages" / "web.py").write_text(route)
    (tmp_path / "api" / "routers" / "feeds.py").write_text(route + "from erfa.service.pages import web\n")
    (tmp_path / "cli" / "moderation.py").write_text(
        "def out():\n    from erfa.service.api.routers.projects import WriteSummary\n"
    )
    (tmp_path / "pages" / "sessions.py").write_text("import sqlite3\n")
    (tmp_path / "database.py").write_text("def check():\n    import psycopg\n")
    (tmp_path / "api" / "schemas.py").write_text("from erfa.service.api.routers import projects\n")
    found = violations(tmp_path)
    assert [line.split(":")[0] for line in found] == [
        "service/api/routers/feeds.py",
        "service/api/routers/ingest.py",
        "service/cli/moderation.py",
        "service/pages/sessions.py",
    ], found
