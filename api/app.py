"""The HTTP application: the /api/v1 routers, the error mapping, the web UI, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from duban.api import dashboard_pages, errors, health, swagger, web
from duban.api.deps import trusted_networks
from duban.api.middleware import BodyLimit, RequestContext, SecurityHeaders
from duban.api.routes import (
    assessment,
    assignments,
    auth,
    calendar,
    definitions,
    events,
    files,
    inbox,
    plans,
    reports,
    supervision,
    tasks,
    units,
)
from duban.bootstrap import build_engine, build_runtime
from duban.engine.runtime import Runtime
from duban.settings import Settings

HERE = Path(__file__).parent
ROUTERS = (
    auth,
    tasks,
    units,
    reports,
    definitions,
    assignments,
    plans,
    events,
    supervision,
    inbox,
    calendar,
    files,
    assessment,
)
DESCRIPTION = """督办 duban — assign a union work plan down the org tree, follow it up, see it through.

Sign in with `POST /api/v1/auth/token` (OAuth2 password flow) and send `Authorization: Bearer <token>`.
A unit outside your subtree answers 404; an action your role may not take answers 403. Errors are
`application/problem+json`; refused input lists every problem as `errors: [{where, field, message}]`.
"""


def thread_pool(size: int) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan that runs the sync routes on at most `size` threads (anyio's default is 40).

    Under 50 clients on 2 cores, 40 threads served the to-do page at well under the throughput of
    4 to 8 (docs/performance.md, HTTP): past a few, threads only contend for the GIL and the database.
    """

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = size
        yield

    return lifespan


def create_app(settings: Settings, engine: Engine | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The app for these settings; tests pass their own database engine and a runtime on a fixed clock."""
    settings.check_secrets()
    trusted_networks(settings.trusted_proxies)  # a bad entry stops the start, not a sign-in
    app = FastAPI(
        title="duban",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=thread_pool(settings.threads),
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else build_engine(settings)
    app.state.runtime = runtime if runtime is not None else build_runtime(settings)
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(dashboard_pages.router)
    app.include_router(web.router)
    app.include_router(health.router)
    swagger.install(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Several files per submission: the whole body may hold a few files of the per-file cap.
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 1024 * 1024 * 5 + 1024 * 1024)
    app.add_middleware(SecurityHeaders)
    # Pages, lists and JSON compress 5-10x; small answers are not worth the CPU.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    # Outermost: the id and the access line cover everything below, the error pages too.
    app.add_middleware(RequestContext)
    return app
