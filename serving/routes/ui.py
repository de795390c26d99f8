"""Web pages for org staff (中文): cadre radar, unit layout heat map, class roster.

The pages are static HTML and JavaScript that call the same /v1 API with the key the user enters
(kept in the browser tab only). Charts use plotly.js, served from the installed ``plotly``
package, so nothing is fetched from the internet at run time.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

router = APIRouter(prefix="/ui", include_in_schema=False)
root_router = APIRouter(include_in_schema=False)
UI = Path(__file__).resolve().parent.parent / "ui"
STATIC = {
    "base.css": "text/css",
    "common.js": "text/javascript",
    "index.js": "text/javascript",
    "cadre.js": "text/javascript",
    "unit.js": "text/javascript",
    "roster.js": "text/javascript",
    "org.css": "text/css",
    "org.js": "text/javascript",
    "dossier.js": "text/javascript",
    "ledger.js": "text/javascript",
    "summary.js": "text/javascript",
    "selection.js": "text/javascript",
}


@cache
def _read(name: str) -> str:
    return (UI / name).read_text(encoding="utf-8")


def _page(title: str, body: str, script: str = "") -> HTMLResponse:
    html = (
        _read("_layout.html")
        .replace("{title}", title)
        .replace("{body}", _read(body))
        .replace("{script}", script)
    )
    return HTMLResponse(html)


def _call(function: str, value: str) -> str:
    arg = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
    script = f'<script src="/ui/static/{function.lower()}.js"></script>'
    return f"{script}<script>show{function}({arg});</script>"


@root_router.get("/")
def root() -> RedirectResponse:
    """The service's address opens the pages (``/ui/``)."""
    return RedirectResponse("/ui/", status_code=307)


def not_found_page() -> HTMLResponse:
    """A page under /ui/ that does not exist: a Chinese 404 page with the example ids."""
    body = (
        '<div class="card"><h2>页面不存在</h2><p>请检查地址中的编号是否填写完整，'
        '或回到<a href="/ui/">首页</a>输入编号，也可以点击下方的示例编号。</p></div>'
    )
    html = (
        _read("_layout.html")
        .replace("{title}", "页面不存在")
        .replace("{body}", body)
        .replace("{script}", "")
    )
    return HTMLResponse(html, status_code=404)


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    """Landing page."""
    return _page("首页", "index.html")


@router.get("/cadres/{cadre_id}", response_class=HTMLResponse)
def cadre_page(cadre_id: str) -> HTMLResponse:
    """A cadre's knowledge radar (reserve vs post target) and recommended courses."""
    return _page("干部知识储备", "cadre.html", _call("Cadre", cadre_id))


@router.get("/units/{unit_id}", response_class=HTMLResponse)
def unit_page(unit_id: str) -> HTMLResponse:
    """A unit's topic × year training heat map and weakest topics."""
    return _page("单位培训布局", "unit.html", _call("Unit", unit_id))


@router.get("/classes/{class_id}/roster", response_class=HTMLResponse)
def roster_page(class_id: str) -> HTMLResponse:
    """A class's suggested roster with reasons and the constraint report; remove and refill."""
    return _page("调训建议名单", "roster.html", _call("Roster", class_id))


@router.get("/cadres/{cadre_id}/dossier", response_class=HTMLResponse)
def dossier_page(cadre_id: str) -> HTMLResponse:
    """A cadre's training dossier (培训电子档案): timeline, radar by year end; prints on A4."""
    return _page("培训电子档案", "dossier.html", _call("Dossier", cadre_id))


@router.get("/units/{unit_id}/compliance", response_class=HTMLResponse)
def ledger_page(unit_id: str) -> HTMLResponse:
    """A unit's compliance ledger (学时达标台账) with its Excel export."""
    return _page("学时达标台账", "ledger.html", _call("Ledger", unit_id))


@router.get("/compliance", response_class=HTMLResponse)
def summary_page() -> HTMLResponse:
    """The city's compliance by district and unit level."""
    return _page("全市学时达标", "summary.html", _call("Summary", ""))


@router.get("/posts/fit", response_class=HTMLResponse)
def selection_page() -> HTMLResponse:
    """The selection reference (选拔任用参考): candidates against a post, never a decision."""
    return _page("选拔任用参考", "selection.html", _call("Selection", ""))


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package."""
    path = resources.files("plotly") / "package_data" / "plotly.min.js"
    return FileResponse(str(path), media_type="text/javascript")


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    """The pages' own CSS and JavaScript."""
    if name not in STATIC:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(UI / name, media_type=STATIC[name])
