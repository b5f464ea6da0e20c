"""Start `erfa serve` on a free loopback port and wait until /readyz says ready.

The one harness behind the test suite (tests/_ops.py, tests/browser/conftest.py) and the
bench (bench/run.py). It lives in the package rather than in tests/ so the bench can use it
without depending on the test suite (tests/ is not installed, and bench/ must run from an
install); it needs only the standard library, so it adds no test dependency to the
package, and nothing in the service imports it.

The server runs in a session of its own, so stopping it also stops the workers
`--workers N` forks; its output goes to a log file whose tail is in every start-up error.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def erfa_cmd(home: Path, *args: str) -> list[str]:
    """The `erfa` command line for this interpreter's erfa, on data directory ``home``."""
    return [sys.executable, "-m", "erfa.service.cli", "--home", str(home), *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `erfa serve` subprocess."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_s: float = 0.0  # from launch to ready: the cold start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The server process and the worker processes it forked."""
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            pids += [int(c) for c in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        return pids

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would end it."""
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL if it takes longer than ``timeout``;
        whatever else of its process group is left (a worker, a helper process) is killed too."""
        self._signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):  # killed below
            self.proc.wait(timeout=timeout)
        self.kill()

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-n:] if self.log.exists() else ""

    def _signal(self, sig: signal.Signals) -> None:
        # the whole group, even when its leader has exited: a child it left behind still belongs to it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)


def ready(port: int) -> bool:
    """Does /readyz answer 200 on 127.0.0.1:port (a fresh connection each time)?"""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def start_server(
    home: Path,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 120,
    in_a_row: int = 1,
    log: Path | None = None,
) -> Server:
    """`erfa serve --home HOME` on 127.0.0.1:<free port>, returned once /readyz says ready.

    ``env`` is the whole environment (default: this process's); ``args`` are more `serve`
    flags. With several workers each request may reach another one, so ``in_a_row``
    answers of 200 in a row are needed. Raises RuntimeError, with the log's tail, when the
    server exits or is not ready within ``timeout`` seconds (it is killed then).
    """
    port = free_port()
    log = log or Path(home).parent / f"serve-{port}.log"
    cmd = erfa_cmd(home, "serve", "--host", "127.0.0.1", "--port", str(port), *args)
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env if env is not None else os.environ),
            start_new_session=True,
        )
    server = Server(proc, port, log)
    answered = 0
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"erfa serve exited with {proc.returncode} before it was ready:\n{server.log_tail()}")
        answered = answered + 1 if ready(port) else 0
        if answered >= in_a_row:
            server.ready_s = time.perf_counter() - started
            return server
        time.sleep(0.02 if answered else 0.05)
    server.kill()
    raise RuntimeError(f"erfa serve not ready after {timeout} s:\n{server.log_tail()}")


@contextlib.contextmanager
def running_server(home: Path, **kwargs: object) -> Iterator[Server]:
    """start_server(home, **kwargs) for the length of a with-block, stopped afterwards."""
    server = start_server(home, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
