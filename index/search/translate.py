"""Swedish, Danish and Nynorsk needs also read as Bokmål, with Apertium.

Why: e5-small matches a Swedish need to a Norwegian project less well than a Bokmål
phrasing of the same need, and Nynorsk words ("beinbrot", "høyringsinnspel") are
often unknown to it. Apertium's rule-based pairs (Debian's `apertium-swe-nor`,
`apertium-dan-nor`, `apertium-nno-nob`) run offline and translate a short need in a
millisecond or two; on the real dev splits adding the Bokmål reading to the query
vector lifts nDCG@10 (models.md). There is no offline translation into English here,
so English projects are reached through the language-neutral space, not through this.

Each pair runs as one long-lived pipeline of Apertium's own programs in null-flush
mode (every program gets `-z`): a need goes in followed by NUL and comes out followed
by NUL, so a query costs no process start-up. Text is escaped the way Apertium's
deformatter escapes it and ends in a superblank, which is what lets every stage flush.
Without Apertium (a machine that did not install it) `translate` returns None and
search works as before, only less well across languages.

A pipeline is not quite a pure function: its tagger carries some state from one need to the
next, so a need can be read two ways ("chatbot der svarer ..." came out with "der" after an
unrelated need, "som" after a similar one). Each reading is cached, so a server answers a
need the same way until it restarts or the need leaves the cache; `erfa eval` did not move
when early sends (`Translator.ahead`) changed which needs a pipeline saw before which.
"""

from __future__ import annotations

import logging
import os
import re
import select
import shlex
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

log = logging.getLogger("erfa.index")

MODES_DIR = Path("/usr/share/apertium/modes")
# Detected query language -> Apertium direction into Bokmål. Norwegian queries go
# through nno-nob whether langdetect called them nb or nn: it often cannot tell short
# Nynorsk from Bokmål, and Bokmål passes through that pair almost unchanged.
PAIRS: dict[str, str] = {"sv": "swe-nob", "da": "dan-nob", "nn": "nno-nob", "nb": "nno-nob", "no": "nno-nob"}
TIMEOUT = 2.0  # seconds; a stuck pipeline is restarted and the query searched untranslated
MAX_CHARS = 1000  # a need longer than this is searched as it is
CACHE_SIZE = 4096  # translated needs kept: a repeated need costs a dictionary look-up
_ESCAPE = {c: "\\" + chr(c) for c in b"[]{}^$@\\/<>*"}
_SUPERBLANK = re.compile(r"(?<!\\)\[(?:\\.|[^\]\\])*\]")  # an unescaped [...] block
_UNESCAPE = re.compile(r"\\(.)")


class _Pipeline:
    """One direction's programs chained with pipes, fed one NUL-terminated need at a time."""

    def __init__(self, commands: list[list[str]]) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        stdin: int | IO[bytes] | None = subprocess.PIPE
        for i, cmd in enumerate(commands):
            proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            before = self.procs[-1].stdout if i else None
            if before is not None:
                before.close()  # the next program owns it now
            self.procs.append(proc)
            stdin = proc.stdout
        self.lock = threading.Lock()

    def ask(self, text: str, timeout: float) -> str:
        self.send(text)
        return self.receive(timeout)

    def send(self, text: str) -> None:
        first = self.procs[0]
        assert first.stdin is not None
        first.stdin.write((text.translate(_ESCAPE) + "[][\n]").encode("utf-8") + b"\0")
        first.stdin.flush()

    def receive(self, timeout: float) -> str:
        """The answer to the need `send` wrote last (the caller holds ``lock`` from send to here)."""
        last = self.procs[-1]
        assert last.stdout is not None
        out = b""
        fd = last.stdout.fileno()
        while not out.endswith(b"\0"):
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                raise TimeoutError("apertium did not answer")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError("apertium pipeline ended")
            out += chunk
        return _UNESCAPE.sub(r"\1", _SUPERBLANK.sub(" ", out[:-1].decode("utf-8", "replace"))).strip()

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def _commands(direction: str) -> list[list[str]] | None:
    """The mode file's programs, each with null flush on; None if the pair is not installed."""
    mode = MODES_DIR / f"{direction}.mode"
    if not mode.is_file():
        return None
    commands = []
    for part in mode.read_text(encoding="utf-8").strip().split("|"):
        words = shlex.split(part.replace("$1", "-n").replace("$2", ""))
        if not words or shutil.which(words[0]) is None:
            return None
        commands.append([words[0], "-z", *words[1:]])
    return commands


class Translator:
    """Translate needs into Bokmål; thread-safe, one pipeline per direction, started on first use."""

    def __init__(self, pairs: dict[str, str] | None = None, timeout: float = TIMEOUT) -> None:
        self.pairs = dict(PAIRS if pairs is None else pairs)
        self.timeout = timeout
        self._pipes: dict[str, _Pipeline | None] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # (need, direction) -> Bokmål; successes only: a failure is retried
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    def translate(self, text: str, language: str | None) -> str | None:
        """The need in Bokmål, or None (no pair for the language, not installed, or it failed)."""
        direction = self.pairs.get(language or "")
        if direction is None:
            return None
        cached = self._cached(text, direction)
        if cached is not None:
            return cached
        return self._keep(text, direction, self._translate(text, direction))

    @contextmanager
    def ahead(self, text: str, guess: str | None) -> Iterator[Callable[[str | None], str | None]]:
        """Send ``text`` to the direction ``guess`` (a cheap guess at its language) now, and
        give a ``reading(language)`` that answers as `translate` does once the language is
        known. The pipeline translates while the caller detects the language (1-2 ms of
        CPU in this process, 2-3 ms in Apertium's): when the guess was right the answer is
        waiting, when it was wrong the early answer is read, kept, and the right direction
        asked; the result is `translate`'s either way (issue 22)."""
        direction = self.pairs.get(guess or "")
        sent: tuple[_Pipeline, str] | None = None  # the pipeline asked early, and its direction
        if direction is not None and self._cached(text, direction) is None and _askable(text):
            pipe = self._pipe(direction)
            if pipe is not None:
                pipe.lock.acquire()  # held until the answer is read: nobody else may read it
                try:
                    pipe.send(_one_line(text))
                    sent = (pipe, direction)
                except (OSError, ValueError) as exc:
                    pipe.lock.release()
                    self._failed(direction, pipe, exc)

        def settle() -> None:
            nonlocal sent
            if sent is None:
                return
            (pipe, asked), sent = sent, None
            try:
                out = pipe.receive(self.timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                pipe.lock.release()
                self._failed(asked, pipe, exc)
                return
            pipe.lock.release()
            self._keep(text, asked, out or None)

        def reading(language: str | None) -> str | None:
            settle()  # before asking another direction: a thread holds at most one pipeline
            return self.translate(text, language)

        try:
            yield reading
        finally:
            settle()

    def _cached(self, text: str, direction: str) -> str | None:
        with self._lock:
            key = (text, direction)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def _keep(self, text: str, direction: str, out: str | None) -> str | None:
        if out is not None:
            with self._lock:
                self._cache[(text, direction)] = out
                if len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return out

    def start(self) -> None:
        """Start every installed direction's pipeline now, not on its first need: starting one
        takes ~180 ms (its programs load their transducers), which the first Swedish, Danish
        and Norwegian visitor after a restart would otherwise wait for (issue 22)."""
        for direction in dict.fromkeys(self.pairs.values()):
            self._pipe(direction)

    def available(self, language: str | None) -> bool:
        direction = self.pairs.get(language or "")
        return direction is not None and _commands(direction) is not None

    def _pipe(self, direction: str) -> _Pipeline | None:
        with self._lock:
            if os.getpid() != self._pid:  # forked into a worker: the parent's pipes are not ours
                self._pipes, self._pid = {}, os.getpid()
            if direction not in self._pipes:
                commands = _commands(direction)
                if commands is None:
                    log.info(
                        "apertium %s is not installed: needs in that language are searched untranslated", direction
                    )
                    self._pipes[direction] = None
                else:
                    self._pipes[direction] = _Pipeline(commands)
            return self._pipes[direction]

    def _translate(self, text: str, direction: str) -> str | None:
        if not _askable(text):
            return None
        pipe = self._pipe(direction)
        if pipe is None:
            return None
        try:
            with pipe.lock:
                out = pipe.ask(_one_line(text), self.timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            self._failed(direction, pipe, exc)
            return None
        return out or None

    def _failed(self, direction: str, pipe: _Pipeline, exc: Exception) -> None:
        log.warning("apertium %s failed (%s): restarting it; this need is searched untranslated", direction, exc)
        with self._lock:
            pipe.close()
            if self._pipes.get(direction) is pipe:
                self._pipes.pop(direction, None)

    def close(self) -> None:
        with self._lock:
            for pipe in self._pipes.values():
                if pipe is not None:
                    pipe.close()
            self._pipes.clear()


def _askable(text: str) -> bool:
    return bool(text.strip()) and len(text) <= MAX_CHARS


def _one_line(text: str) -> str:
    """The need as Apertium is sent it: one line, single spaces."""
    return " ".join(text.split())


_shared: Translator | None = None
_shared_lock = threading.Lock()


def shared() -> Translator:
    """The process's translator: every index in a process shares its pipelines."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Translator()
        return _shared
