"""The class-life pages in headless Chromium, offline: needs, design, evaluation, equity."""

import pandas as pd
import pytest

from tests.serving import test_ui
from tests.serving.test_ui import CHROMIUM, _drawn, _error_text, _open

live, browser = test_ui.live, test_ui.browser  # the same fixtures: a live server, Chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
RAW = set('[]{}"')


@pytest.fixture(scope="module")
def fitted(trained):
    from ganxun.training.bundle import load_bundle

    return load_bundle(trained[0].bundle)[0]


@pytest.fixture(scope="module")
def ended(fitted):
    """A class with pre/post exams that ended before the cut-off."""
    table = fitted.planning.evaluation.classes
    classes = fitted.planning.tables["classes"]
    done = classes[classes["end_on"] < pd.Timestamp(fitted.asof)]
    return done[done["class_id"].isin(set(table["class_id"]))]["class_id"].iloc[0]


def _chinese_page(page, selector="main") -> str:
    text = page.inner_text(selector)
    assert sum("\u4e00" <= c <= "\u9fff" for c in text) > 50
    return text


def test_needs_page_draws_the_radar_and_weak_topic_histograms(browser, live, ended, tmp_path):
    page = _open(browser, live, f"/ui/classes/{ended}/needs")
    page.wait_for_selector("#radar .main-svg", timeout=15000)
    page.wait_for_selector("#hists .main-svg", timeout=15000)
    assert page.locator("#hists .hist").count() >= 1
    assert page.locator("#topics tbody tr").count() == 12
    assert page.locator("#suggested tbody tr").count() >= 1
    png = page.locator("#radar").screenshot(path=str(tmp_path / "needs.png"))
    assert _drawn(png) > 0.03
    text = _chinese_page(page)
    assert "未达要求" in text and "分析对象" in text
    assert not RAW & set(page.inner_text("#topics")), "no raw JSON in the tables"
    assert page.inner_text("#error") == "" and page.outside == []


def test_evaluation_page_charts_gains_ratings_and_gaps(browser, live, ended, fitted, tmp_path):
    page = _open(browser, live, f"/ui/classes/{ended}/evaluation")
    page.wait_for_selector("#gains .main-svg", timeout=15000)
    page.wait_for_selector("#members .main-svg", timeout=15000)
    assert page.locator("#topics tbody tr").count() >= 1
    assert page.locator("#attendance tbody tr").count() == 6
    name = fitted.planning.tables["classes"].set_index("class_id").at[ended, "name"]
    assert name in page.inner_text("#class-name")
    summary = page.inner_text("#summary")
    assert "平均提升" in summary and "增值" in summary
    units = set(fitted.catalog.unit_info["name"])
    for cell in page.locator("#short tbody tr td:nth-child(2)").all_inner_texts():
        assert any(u in cell for u in units), cell
    png = page.screenshot(path=str(tmp_path / "evaluation.png"), full_page=True)
    assert _drawn(png) > 0.05
    for table in ("#topics", "#ratings", "#attendance", "#short"):
        assert not RAW & set(page.inner_text(table)), table
    assert page.inner_text("#error") == "" and page.outside == []


def test_evaluation_of_an_unknown_class_reads_in_chinese(browser, live):
    page = _open(browser, live, "/ui/classes/B99999/evaluation")
    assert "未找到该编号" in _error_text(page)
    assert page.outside == []


def test_design_page_designs_and_removing_a_course_brings_the_next(browser, live, fitted, tmp_path):
    page = _open(browser, live, "/ui/design")
    page.wait_for_selector("#design-go", timeout=15000)
    page.fill("#capacity", "10")
    page.fill("#month", "2026-11")
    page.click("#design-go")
    page.wait_for_selector("#sessions tbody tr", timeout=30000)
    page.wait_for_selector("#topic-bars .main-svg", timeout=15000)
    assert page.locator("#steps li").count() == 7
    assert page.locator("#roster tbody tr").count() == 10
    first = page.locator("#sessions tbody tr td:nth-child(2) small").first.inner_text()
    before = page.locator("#sessions tbody tr td:nth-child(2) small").all_inner_texts()
    page.locator("#sessions tbody tr td:nth-child(2) button.remove").first.click()
    page.wait_for_function(
        "document.getElementById('removed').textContent.includes('撤销')", timeout=30000
    )
    page.wait_for_function(
        f"!document.querySelector('#sessions tbody').textContent.includes('{first}')",
        timeout=30000,
    )
    after = page.locator("#sessions tbody tr td:nth-child(2) small").all_inner_texts()
    assert first not in after and set(after) - set(before), "another course takes the place"
    units = set(fitted.catalog.unit_info["name"])
    for cell in page.locator("#roster tbody tr td:nth-child(3)").all_inner_texts():
        assert any(u in cell for u in units), cell
    cells = " ".join(page.locator("#constraints tbody td").all_inner_texts())
    assert not RAW & set(cells) and "学时" in cells and "人" in cells
    _chinese_page(page)
    png = page.screenshot(path=str(tmp_path / "design.png"), full_page=True)
    assert _drawn(png) > 0.05
    # 撤销 brings the course back
    page.locator("#removed button.undo").first.click()
    page.wait_for_function(
        f"document.querySelector('#sessions tbody').textContent.includes('{first}')",
        timeout=30000,
    )
    assert page.inner_text("#error") == "" and page.outside == []


def test_design_page_names_an_impossible_goal_in_chinese(browser, live):
    page = _open(browser, live, "/ui/design")
    page.wait_for_selector("#design-go", timeout=15000)
    page.fill("#capacity", "500")
    page.click("#design-go")
    text = _error_text(page)
    words = text.replace("API", "")
    assert "人" in text and not any(c.isascii() and c.isalpha() for c in words), text
    assert page.outside == []


def test_equity_page_compares_seats_with_need(browser, live, fitted, tmp_path):
    page = _open(browser, live, "/ui/equity")
    page.wait_for_selector("#bars .main-svg", timeout=15000)
    page.wait_for_selector("#units tbody tr", timeout=15000)
    assert "基尼系数" in page.inner_text("#summary")
    units = set(fitted.catalog.unit_info["name"])
    for cell in page.locator("#units tbody tr td:nth-child(1)").all_inner_texts():
        assert any(u in cell for u in units), cell
    assert page.locator("#districts tbody tr").count() >= 1
    png = page.locator("#bars").screenshot(path=str(tmp_path / "equity.png"))
    assert _drawn(png) > 0.05
    assert not RAW & set(page.inner_text("#units"))
    assert page.inner_text("#error") == "" and page.outside == []


def test_roster_page_takes_a_fairness_bound_and_shows_seats_against_need(browser, live, fitted):
    classes = fitted.planning.tables["classes"]
    cls = classes[classes["kind"] == "rollcall"]["class_id"].iloc[-1]
    page = _open(browser, live, f"/ui/classes/{cls}/roster")
    page.wait_for_selector("#equity tbody tr", timeout=15000)
    assert not RAW & set(page.inner_text("#equity"))
    page.fill("#fairness", "3")
    page.click("#apply-fairness")
    page.wait_for_function(
        "document.querySelector('#constraints tbody').textContent.includes('公平约束')",
        timeout=15000,
    )
    cells = page.inner_text("#constraints")
    assert "倍" in cells and not RAW & set(cells)
    assert page.outside == []
