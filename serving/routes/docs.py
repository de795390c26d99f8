"""The API reference pages (/docs, /redoc) served with no internet access (内网).

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so on an isolated network they stay
blank. Here both pages are built with FastAPI's documented self-hosting helpers
(``get_swagger_ui_html`` / ``get_redoc_html``) and point at the JavaScript, CSS and favicon
bundled by the ``fastapi-offline`` package (a dependency), served from ``/docs/static/``.

Both pages also carry a Content-Security-Policy that allows this server only: what the bundles
would still fetch from the internet on their own (Swagger UI's spec-validator badge, ReDoc's
"powered by" logo) is never requested, so nothing waits on a host the network cannot reach.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)
STATIC_PREFIX = "/docs/static"
# 'unsafe-inline': both helpers start the viewer with an inline <script>; blob: for ReDoc's worker
LOCAL_ONLY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'"
)
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


def asset_path(name: str):
    """The installed file of one bundled asset (a ``Traversable`` of ``fastapi_offline``)."""
    return resources.files("fastapi_offline") / "static" / name


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, the interactive API reference, with locally served assets."""
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} · API",
        swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_PREFIX}/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
    )
    page.headers["Content-Security-Policy"] = LOCAL_ONLY
    return page


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    """The OAuth2 redirect page Swagger UI expects (no external assets)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc, the read-only API reference, with locally served assets and no Google Fonts."""
    app = request.app
    page = get_redoc_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} · API",
        redoc_js_url=f"{STATIC_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{STATIC_PREFIX}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = LOCAL_ONLY
    return page


@router.get(STATIC_PREFIX + "/{name}")
def docs_asset(name: str) -> FileResponse:
    """One bundled Swagger UI / ReDoc asset (404 for any other name)."""
    if name not in ASSETS:
        raise HTTPException(status_code=404, detail=f"no documentation asset {name!r}")
    return FileResponse(str(asset_path(name)), media_type=ASSETS[name])
