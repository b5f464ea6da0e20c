"""Write files and folders so that a crash leaves the old version or the new one, never half of either.

Every file erfa persists outside SQLite (the FAISS index and its meta, the model folder,
its ONNX export, backups) goes through here: written beside its destination under a
temporary name, flushed to disk, then renamed over it in one step.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_file(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(dest: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder beside ``dest`` that replaces it when the block succeeds and is
    removed when the block fails, so a reader never loads a half-written folder."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=dest.parent))
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
