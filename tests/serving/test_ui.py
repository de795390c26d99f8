"""The org-staff pages in headless Chromium: charts drawn, tables filled (marker ``browser``)."""

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def live(trained):
    """The app served by uvicorn on a free loopback port, plus an org key."""
    from tests.serving.conftest import serve_live

    yield from serve_live(trained[1])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _offline(page) -> list[str]:
    """Abort every request that would leave this machine (as on an isolated 内网 network).

    Returns the list the aborted URLs are appended to: a page that works offline leaves it empty.
    """
    from urllib.parse import urlparse

    outside: list[str] = []

    def handle(route):
        url = route.request.url
        if urlparse(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    page.route("**/*", handle)
    return outside


def _open(browser, live, path, key=None):
    """A page opened with the key (the org key by default) and the internet cut off."""
    base, org_key = live
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.outside = _offline(page)
    page.add_init_script(f"sessionStorage.setItem('ganxun-api-key', {key or org_key!r});")
    page.goto(base + path)
    return page


def _drawn(png: bytes) -> float:
    """Share of pixels that are neither white nor the page background: >0 when a chart is drawn."""
    import io

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    plain = img.min(axis=2) > 235
    return float(1 - plain.mean())


def test_cadre_radar_is_drawn(browser, live, tmp_path):
    page = _open(browser, live, "/ui/cadres/C000001")
    page.wait_for_selector("#radar .main-svg", timeout=15000)
    page.wait_for_selector("#recs tbody tr", timeout=15000)
    assert (
        page.locator("#radar path.scatterpolar, #radar .scatterlayer path, #radar g.trace").count()
        > 0
    )
    assert page.locator("#recs tbody tr").count() == 10
    assert page.inner_text("#error") == ""
    png = page.locator("#radar").screenshot(path=str(tmp_path / "radar.png"))
    assert _drawn(png) > 0.03
    # every topic with its confidence, and what confidence means, in Chinese
    page.wait_for_selector("#topics tbody tr", timeout=15000)
    assert page.locator("#topics tbody tr").count() == 12
    assert "考试作答证据" in page.inner_text("#confidence-note")
    assert page.outside == [], page.outside


def test_unit_heatmap_is_drawn(browser, live, tmp_path):
    page = _open(browser, live, "/ui/units/U0001")
    page.wait_for_selector("#heatmap .main-svg", timeout=15000)
    page.wait_for_selector("#weak tbody tr", timeout=15000)
    png = page.locator("#heatmap").screenshot(path=str(tmp_path / "heatmap.png"))
    assert _drawn(png) > 0.2  # a heat map fills most of its area


def _error_text(page) -> str:
    page.wait_for_function("document.getElementById('error').textContent.length > 0", timeout=15000)
    return page.inner_text("#error")


def test_api_errors_read_in_chinese(browser, live):
    wrong = _open(browser, live, "/ui/cadres/C000001", key="gx_wrong")
    assert "API 密钥无效" in _error_text(wrong)
    missing = _open(browser, live, "/ui/cadres/C000001", key=" ")
    missing.evaluate("sessionStorage.setItem('ganxun-api-key', '')")
    missing.reload()
    text = _error_text(missing)
    assert text.startswith("出错了：缺少 API 密钥")
    unknown = _open(browser, live, "/ui/cadres/C999999")
    assert "未找到该编号" in _error_text(unknown)
    for page in (wrong, missing, unknown):
        words = page.inner_text("#error").replace("API", "")
        assert not any(c.isascii() and c.isalpha() for c in words), words  # no English left
        assert page.outside == []


def test_every_page_offers_example_ids_and_the_index_refuses_an_empty_box(browser, live):
    page = _open(browser, live, "/ui/")
    page.wait_for_selector("#examples a.example", timeout=15000)
    assert page.locator("#examples a.example").count() == 9  # 3 cadres, 3 units, 3 classes
    page.click("#open-class")  # the class box is empty
    assert "请先输入班次编号" in _error_text(page)
    assert page.url.endswith("/ui/")  # stayed: no /ui/classes//roster
    page.locator("#examples a.example[href*='/roster']").first.click()
    page.wait_for_selector("#roster tbody tr", timeout=15000)
    for path in ("/ui/cadres/C000001", "/ui/units/U0001", "/ui/classes//roster"):
        other = _open(browser, live, path)
        other.wait_for_selector("#examples a.example", timeout=15000)
        assert other.outside == []
    assert "页面不存在" in other.inner_text("main")


def test_roster_remove_brings_in_the_next_best(browser, live, trained, tmp_path):
    from ganxun.training.bundle import load_bundle

    fitted, _ = load_bundle(trained[0].bundle)
    classes = fitted.planning.tables["classes"]
    cls = classes[classes["kind"] == "rollcall"]["class_id"].iloc[-1]
    page = _open(browser, live, f"/ui/classes/{cls}/roster")
    page.wait_for_selector("#roster tbody tr", timeout=15000)
    page.wait_for_selector("#bars .main-svg", timeout=15000)
    before = page.locator("#roster tbody tr td:nth-child(2)").all_inner_texts()
    first = before[0]
    page.locator("#roster tbody tr button").first.click()
    page.wait_for_function(
        f"document.getElementById('removed').textContent.includes('{first}')", timeout=15000
    )
    after = page.locator("#roster tbody tr td:nth-child(2)").all_inner_texts()
    assert first not in after and len(after) == len(before)
    assert page.locator("#constraints tbody tr").count() >= 2
    png = page.screenshot(path=str(tmp_path / "roster.png"), full_page=True)
    assert _drawn(png) > 0.05
    # units by name, constraints in words (副处、正处 rather than ["副处", "正处"])
    names = set(fitted.catalog.unit_info["name"])
    units = page.locator("#roster tbody tr td:nth-child(3)").all_inner_texts()
    assert all(any(n in u for n in names) for u in units), units
    cells = " ".join(page.locator("#constraints tbody td").all_inner_texts())
    assert not set('[]{}"') & set(cells), cells
    assert "人" in cells
    # 撤销 puts the removed cadre back
    page.locator("#removed button.undo").first.click()
    page.wait_for_function(
        "document.getElementById('removed').textContent.includes('（无）')", timeout=15000
    )
    restored = page.locator("#roster tbody tr td:nth-child(2)").all_inner_texts()
    assert restored == before
    assert page.outside == []


def test_swagger_ui_shows_the_operations_offline(browser, live, tmp_path):
    page = _open(browser, live, "/docs")
    page.wait_for_selector(".opblock", timeout=20000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/cadres/{cadre_id}/knowledge" in p.replace("\u200b", "") for p in paths)
    assert page.locator(".opblock").count() >= 10
    assert page.outside == [], page.outside
    png = page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
    assert _drawn(png) > 0.05


def test_redoc_renders_offline(browser, live):
    page = _open(browser, live, "/redoc")
    # a locator, not wait_for_function: the page's CSP forbids the eval that one would need
    page.get_by_text("/v1/cadres/{cadre_id}/knowledge").first.wait_for(timeout=30000)
    assert page.locator("h2").count() >= 5  # one heading per operation
    assert page.outside == [], page.outside
