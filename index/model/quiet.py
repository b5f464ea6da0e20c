"""Silencing transformers, shared by the torch backend (encoder.py) and the ONNX export
(onnx_backend.py): here rather than in either, so neither imports the other for it."""

from __future__ import annotations

import logging


def quiet_transformers() -> None:
    """Keep transformers' per-load progress bars and advice out of the logs.

    Only called where transformers is imported anyway (torch backend, ONNX export):
    importing it just to silence it would cost the ONNX path seconds at start-up.
    """
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as tlog

        # transformers leaves these two unannotated; both take and return nothing
        tlog.set_verbosity_error()  # type: ignore[no-untyped-call]
        tlog.disable_progress_bar()  # type: ignore[no-untyped-call]
    except Exception:  # older/newer transformers without these helpers: cosmetic only
        pass
