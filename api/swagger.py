"""The API's interactive documentation, served from the installed fastapi-offline package's Swagger UI 5.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script; here both the
bundle and the few lines that start it come from this server, so the page works offline and under
a Content-Security-Policy that allows no inline script. (Swagger UI 5: the API is OpenAPI 3.1.)
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/api/docs/assets"
router = APIRouter(include_in_schema=False)

PAGE = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>duban API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/api/docs/start.js"></script>
</body>
</html>
"""

START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  persistAuthorization: false
});
"""


@router.get("/api/docs")
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/api/docs/start.js")
def docs_start() -> Response:
    return Response(START, media_type="text/javascript")


def install(app: FastAPI) -> None:
    """The page, its start script, and the bundle's files."""
    app.include_router(router)
    bundle = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(bundle)), name="swagger-ui")
