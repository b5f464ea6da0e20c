"""Probes: /healthz answers as soon as the process is up, /readyz once search can be served.

Loading the model takes seconds, so an orchestrator must be able to tell "up" from
"ready"; /readyz also says why when loading failed, since the process stays up to say it.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from erfa.service.api.deps import loaded_index, state

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    projects: int | None = None
    model: str | None = None
    generation: int | None = None
    detail: str | None = None
    quarantined: dict[str, str] | None = Field(
        default=None,
        description=(
            "Stored records search is serving without because erfa cannot index them, id -> why: correct or delete them"
        ),
    )


@router.get("/healthz", response_model=Status, response_model_exclude_none=True)
def healthz() -> Status:
    """The process is up (it may still be loading)."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}})
def readyz(request: Request) -> JSONResponse:
    """Search can be served: the model and the index are loaded.

    ``status`` "stale" (still 200: searches are answered) says the database has been
    unreachable since the last poll, so answers come from the last snapshot (``generation``).
    """
    st = state(request)
    idx = loaded_index(request)  # polls the store (at most once a second), so staleness shows here
    if idx is None:
        body = Status(status="failed" if st.error else "loading", detail=st.error)
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    body = Status(
        status="ready",
        projects=idx.count(),
        model=idx.encoder.model_id,
        generation=idx.generation,
        quarantined=idx.quarantined or None,
    )
    since = idx.store.unreachable_since  # PostgreSQL's; the embedded store has no server to lose (always None)
    if since is not None:
        body.status = "stale"
        body.detail = (
            f"the database has been unreachable for {time.time() - since:.0f} s: "
            f"answering from the snapshot of generation {body.generation}"
        )
    return JSONResponse(body.model_dump(exclude_none=True))
