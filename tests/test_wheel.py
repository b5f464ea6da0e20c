"""The package a user gets (issue 20): `pip wheel .` must hold every module and data file,
and `erfa serve` from that wheel, in a fresh virtual environment, must become ready on the
demo corpus. The editable install hides a package left out of pyproject (it reads the
source folders), so only a real wheel shows it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from erfa.service.testing import free_port, ready

ROOT = Path(__file__).resolve().parents[1]
DATA = [
    "service/pages/templates",
    "service/pages/static",
    "service/pages/locale",
    "service/demo",
    "service/sources.toml",
    "index/bodies/aliases.toml",
    "index/search/marker.json",
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    # build from a copy, so no build/ or .egg-info folder is left in the checkout
    src = build / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".erfa", "__pycache__", "*.egg-info", "build", ".pytest_cache", "tests", "bench", "docs"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(src), "-w", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("erfa-*.whl"))


def test_the_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        p
        for top in ("index", "service", "ingest")
        for p in map(str, (ROOT / top).rglob("*.py"))
        if "__pycache__" not in p and "erfa/" + str(Path(p).relative_to(ROOT)) not in names
    ]
    assert not missing, f"pyproject leaves out: {missing[:5]}"
    for data in DATA:
        files = [f for f in (ROOT / data).rglob("*") if f.is_file()] if (ROOT / data).is_dir() else [ROOT / data]
        for f in files:
            assert "erfa/" + str(f.relative_to(ROOT)) in names, f"the wheel lacks {f.relative_to(ROOT)}"


@pytest.mark.model
def test_erfa_serve_from_the_wheel_in_a_fresh_venv_becomes_ready(wheel: Path, tmp_path: Path, model_home: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    # erfa's dependencies come from this environment (installing torch again would take minutes); erfa itself only
    # from the wheel: a plain path line is not a site dir, so this environment's editable erfa is not seen there
    site = Path(
        subprocess.check_output(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    where = subprocess.check_output([str(py), "-c", "import erfa.service.cli as c; print(c.__file__)"], text=True)
    assert where.startswith(str(site)), where
    port = free_port()
    home = tmp_path / "home"
    shutil.copytree(
        model_home, home, ignore=shutil.ignore_patterns("*.sqlite*", "*.faiss", "*.npz", "*.pkl"), dirs_exist_ok=True
    )  # the model folder already built, so the start does not rebuild it
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "erfa"), "--home", str(home), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "ERFA_HOME": str(home)},
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not ready(port):
            time.sleep(0.5)
        assert ready(port), (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
