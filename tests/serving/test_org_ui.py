"""The organisation department's pages in headless Chromium, offline (marker ``browser``).

Dossier (timeline, radar by year end, one A4 page when printed), unit ledger with its Excel
download, city summary, selection reference, and the cadre page's compulsory block — each in
Chinese, with names where the data has them and no raw JSON, every non-local request aborted.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.serving.test_ui import CHROMIUM, _drawn, _offline, browser  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def live_real(trained_real):
    """The realistic tiny bundle served by uvicorn on a free loopback port, plus an org key."""
    from tests.serving.conftest import serve_live

    yield from serve_live(trained_real[1])


@pytest.fixture(scope="module")
def fitted(trained_real):
    from ganxun.training.bundle import load_bundle

    return load_bundle(trained_real[0].bundle)[0]


def _open(browser, live, path):  # noqa: F811
    base, key = live
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page.outside = _offline(page)
    page.add_init_script(f"sessionStorage.setItem('ganxun-api-key', {key!r});")
    page.goto(base + path)
    page.wait_for_function(
        "document.body.dataset.loaded === '1' || document.getElementById('error').textContent",
        timeout=20000,
    )
    assert page.inner_text("#error") == ""
    return page


def _plain(page) -> str:
    text = page.inner_text("main")
    assert '{"' not in text and '":' not in text and "null" not in text, "raw JSON on the page"
    return text


def test_dossier_page_timeline_radars_and_one_a4_page(browser, live_real, fitted, trained_real):  # noqa: F811
    tables = trained_real[0].report.tables
    e = tables["enrollments"]
    busiest = e["cadre_id"].value_counts().index[0]
    page = _open(browser, live_real, f"/ui/cadres/{busiest}/dossier")
    text = _plain(page)
    assert "培训电子档案" in text and "历年参训时间轴" in text and "任职经历" in text
    unit = fitted.catalog.cadre_info.set_index("cadre_id").at[busiest, "unit_id"]
    assert fitted.catalog.unit_info.set_index("unit_id").at[unit, "name"] in text
    mine = e[(e["cadre_id"] == busiest) & e["class_id"].notna()]
    names = tables["classes"].set_index("class_id").loc[mine["class_id"].unique(), "name"]
    assert all(n in text for n in names)  # every class by its name
    years = page.locator(".year").count()
    assert years == len(fitted.records.years)
    page.wait_for_selector(".mini-radar .main-svg", timeout=15000)
    assert page.locator(".mini-radar .main-svg").count() >= 2
    png = page.locator("#radars").screenshot()
    assert _drawn(png) > 0.03
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1, "the dossier prints on one A4 page"
    assert page.outside == []


def test_ledger_page_and_its_excel_download(browser, live_real, fitted, tmp_path):  # noqa: F811
    from openpyxl import load_workbook

    info = fitted.catalog.cadre_info
    unit = info[info["in_service"]]["unit_id"].value_counts().index[0]
    page = _open(browser, live_real, f"/ui/units/{unit}/compliance")
    text = _plain(page)
    name = fitted.catalog.unit_info.set_index("unit_id").at[unit, "name"]
    assert name in text and "学时达标台账" in text and "任职培训" in text
    rows = page.locator("#ledger tbody tr").count()
    assert rows > 0
    with page.expect_download() as download:
        page.click("#xlsx")
    path = tmp_path / "ledger.xlsx"
    download.value.save_as(path)
    sheet = load_workbook(path)["学时台账"]
    assert sheet.max_row - 3 == rows
    assert download.value.suggested_filename == f"学时台账_{unit}.xlsx"
    assert page.outside == []


def test_summary_page(browser, live_real):  # noqa: F811
    page = _open(browser, live_real, "/ui/compliance")
    text = _plain(page)
    assert "全市学时达标情况" in text and "按区县" in text and "按单位层级" in text
    assert page.locator("#by-district tbody tr").count() >= 2
    page.wait_for_selector("#district-chart .main-svg", timeout=15000)
    assert page.outside == []


def test_selection_page_states_it_is_a_reference(browser, live_real, fitted):  # noqa: F811
    page = _open(browser, live_real, "/ui/posts/fit?rank=副处&category=政法")
    text = _plain(page)
    assert "选拔任用参考，不作为任用决定" in text
    assert "证据不足" in text  # the notice and the marks explain thin evidence
    rows = page.locator("#cands tbody tr")
    assert 0 < rows.count() <= 50
    assert page.locator("#cands .evidence").count() == rows.count()
    names = set(fitted.catalog.unit_info["name"])
    units = page.locator("#cands tbody tr td:nth-child(3)").all_inner_texts()
    assert all(any(n in u for n in names) for u in units)
    assert "匹配度" in page.inner_text("#method")
    assert page.outside == []


def test_cadre_page_shows_the_compulsory_package_apart(browser, live_real, fitted):  # noqa: F811
    due = fitted.compliance.mandatory
    cadre_id = due["cadre_id"].value_counts().index[0]
    base, key = live_real
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.outside = _offline(page)
    page.add_init_script(f"sessionStorage.setItem('ganxun-api-key', {key!r});")
    page.goto(f"{base}/ui/cadres/{cadre_id}")
    page.wait_for_selector("#mandatory tbody tr", timeout=20000)
    titles = fitted.catalog.course_info.set_index("course_id")["title"]
    shown = page.inner_text("#mandatory")
    for course in due.loc[due["cadre_id"] == cadre_id, "course_id"]:
        assert titles[course] in shown
    assert "培训电子档案" in page.inner_text("main")
    left = fitted.catalog.cadre_info.loc[~fitted.catalog.cadre_info["in_service"], "cadre_id"]
    gone = browser.new_page()
    gone.outside = _offline(gone)
    gone.add_init_script(f"sessionStorage.setItem('ganxun-api-key', {key!r});")
    gone.goto(f"{base}/ui/cadres/{left.iloc[0]}")
    gone.wait_for_function("document.getElementById('error').textContent.length > 0", timeout=20000)
    assert "已离任" in gone.inner_text("#error")
    assert page.outside == [] and gone.outside == []
    assert pd.notna(cadre_id)
