"""Probes for a process manager or a load balancer: /healthz (this process answers) and /readyz (it can work).

/readyz answers 200 when the database answers, else 503; either way it says when the scheduler
last swept and delivered (with their counts) and what waits in the outbox.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from duban.engine.followup.outbox import backlog
from duban.engine.store.db import read_session
from duban.heartbeat import last_runs

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "ok", "pid": os.getpid()}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    rt = state.runtime
    doc: dict[str, Any] = {"pid": os.getpid(), "scheduler": last_runs(state.settings.data_dir)}
    try:
        with read_session(state.engine) as s:
            s.execute(text("SELECT 1"))
            waiting = backlog(s, rt.now())
    except Exception as exc:  # whatever the driver raises, the answer is "not ready", not a 500
        doc |= {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}
        return JSONResponse(doc, status_code=503)
    if waiting["oldest_waiting"] is not None:
        waiting["oldest_waiting"] = rt.local(waiting["oldest_waiting"]).isoformat()
    doc |= {"status": "ready", "database": "ok", "outbox": waiting}
    return JSONResponse(doc)
