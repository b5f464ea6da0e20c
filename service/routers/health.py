"""Probes: /healthz answers as soon as the process is up, /readyz once search can be served.

Loading the model takes seconds, so an orchestrator must be able to tell "up" from
"ready"; /readyz also says why when loading failed, since the process stays up to say it.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from erfa.service.deps import state

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    projects: int | None = None
    model: str | None = None
    detail: str | None = None


@router.get("/healthz", response_model=Status, response_model_exclude_none=True)
def healthz() -> Status:
    """The process is up (it may still be loading)."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}})
def readyz(request: Request) -> JSONResponse:
    """Search can be served: the model and the index are loaded."""
    st = state(request)
    if st.index is None:
        body = Status(status="failed" if st.error else "loading", detail=st.error)
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    body = Status(status="ready", projects=st.index.count(), model=st.index.encoder.model_id)
    return JSONResponse(body.model_dump(exclude_none=True))
