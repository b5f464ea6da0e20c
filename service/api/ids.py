"""Ids in paths hold no control characters (``PlainId``): a NUL byte is refused (422) before it
reaches a store, since PostgreSQL cannot even compare text that holds one."""

from __future__ import annotations

import re

from pydantic import AfterValidator

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control(text: str) -> bool:
    """A control character (a NUL byte, a newline, ...): no id erfa hands out holds one."""
    return _CONTROL.search(text) is not None


def _plain(value: str) -> str:
    if has_control(value):
        raise ValueError("an id never holds control characters such as a NUL byte")
    return value


PlainId = AfterValidator(_plain)  # in a path parameter's Annotated: 422 before any store is asked
