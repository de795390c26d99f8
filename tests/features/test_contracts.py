import pandas as pd
import pytest

from ganxun.features.contracts import (
    CLASS_NOTICE_DAYS,
    TABLES,
    ContractError,
    class_published_on,
    empty_table,
    validate,
)


def _broken(tables):
    """Copy of the tables with one known problem of each kind (row numbers are 1-based)."""
    t = {k: v.copy() for k, v in tables.items()}
    e = t["enrollments"].astype({"enrolled_on": object})
    e.loc[e.index[1], "enrolled_on"] = "2025-13-45"  # bad date -> row 2
    t["enrollments"] = e
    r = t["course_ratings"].astype({"course_score": object})
    r.loc[r.index[2], "course_score"] = 7  # out of range -> row 3
    t["course_ratings"] = r
    c = t["cadres"].copy()
    c.loc[c.index[3], "unit_id"] = "U9999"  # unknown unit -> row 4
    t["cadres"] = c
    t["staff"] = t["staff"].drop(columns=["years"])  # missing column
    return t


def test_generated_city_is_clean(tiny_city):
    report = validate(tiny_city.tables)
    assert report.problems == []
    assert set(report.tables) == set(TABLES)


def test_each_problem_names_table_row_column_and_reason(tiny_city):
    report = validate(_broken(tiny_city.tables))
    by = {(p.table, p.row, p.column): p for p in report.problems}
    assert "not a valid date" in by[("enrollments", 2, "enrolled_on")].reason
    assert "between 1 and 5" in by[("course_ratings", 3, "course_score")].reason
    assert "unknown units id 'U9999'" in by[("cadres", 4, "unit_id")].reason
    assert by[("staff", None, "years")].fatal
    assert "required column is missing" in str(by[("staff", None, "years")])


def test_valid_rows_are_kept(tiny_city):
    report = validate(_broken(tiny_city.tables))
    ratings_bad = {p.row for p in report.problems if p.table == "course_ratings"}
    assert len(report.tables["course_ratings"]) == len(tiny_city.tables["course_ratings"]) - len(
        ratings_bad
    )
    assert 4 not in report.tables["cadres"].index  # the row with the unknown unit
    assert len(report.tables["cadres"]) == len(tiny_city.tables["cadres"]) - 1


def test_fatal_problems_raise_one_clear_error(tiny_city):
    report = validate(_broken(tiny_city.tables))
    with pytest.raises(ContractError, match="staff, column years: required column is missing"):
        report.raise_if_fatal()


def test_missing_table_and_empty_table_are_fatal(tiny_city):
    t = dict(tiny_city.tables)
    del t["courses"]
    t["topics"] = t["topics"].assign(name_zh=None)  # every row unusable
    fatal = {(p.table, p.reason) for p in validate(t).fatal}
    assert ("courses", "required table is missing") in fatal
    assert ("topics", "no usable rows") in fatal


def test_duplicates_and_date_order(tiny_city):
    t = dict(tiny_city.tables)
    units = t["units"]
    t["units"] = pd.concat([units, units.iloc[[0]]], ignore_index=True)
    cl = t["classes"].copy()
    cl.loc[cl.index[0], "end_on"] = cl.loc[cl.index[0], "start_on"] - pd.Timedelta(days=3)
    t["classes"] = cl
    report = validate(t)
    reasons = {(p.table, p.row): p.reason for p in report.problems}
    assert reasons[("units", len(units) + 1)] == "duplicate id"
    assert reasons[("classes", 1)] == "end_on is before start_on"
    assert len(report.tables["units"]) == len(units)


def test_strings_are_coerced_to_contract_dtypes():
    raw = {name: empty_table(name) for name in TABLES}
    raw["topics"] = pd.DataFrame({"topic_id": ["TP01"], "name_zh": ["理想信念"], "name_en": ["x"]})
    raw["units"] = pd.DataFrame(
        {"unit_id": ["U1"], "name": ["n"], "district": ["d"], "level": ["区县"], "sector": ["s"]}
    )
    raw["cadres"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C2"],
            "unit_id": ["U1", "U1"],
            "rank": ["科员", "处长"],
            "category": ["政法", "政法"],
            "birth_year": ["1980", "19x0"],
            "gender": ["", "女"],
            "education": ["本科", ""],
            "appointed_on": ["2020-01-02", ""],
        }
    )
    report = validate(raw)
    cadres = report.tables["cadres"]
    assert list(cadres["cadre_id"]) == ["C1"]
    assert cadres["birth_year"].iloc[0] == 1980
    assert cadres["appointed_on"].iloc[0] == pd.Timestamp("2020-01-02")
    reasons = {p.column: p.reason for p in report.problems if p.table == "cadres"}
    assert reasons["rank"].startswith("must be one of")
    assert reasons["birth_year"] == "not a valid int: 19x0"


def test_class_published_after_its_start_is_reported_emptied_and_kept(tiny_city):
    t = dict(tiny_city.tables)
    cl = t["classes"].copy()
    cl.loc[cl.index[2], "published_on"] = cl.loc[cl.index[2], "start_on"] + pd.Timedelta(days=1)
    t["classes"] = cl
    report = validate(t)
    bad = [p for p in report.problems if p.table == "classes"]
    assert [(p.row, p.column, p.fatal) for p in bad] == [(3, "published_on", False)]
    assert bad[0].reason.startswith("published_on is after start_on")
    kept = report.tables["classes"]
    assert len(kept) == len(cl)  # the class and everything pointing at it stay
    assert pd.isna(kept.loc[3, "published_on"])
    others = kept.drop(index=3)
    assert others["published_on"].equals(
        cl["published_on"].drop(index=cl.index[2]).set_axis(others.index)
    )
    assert len(report.tables["enrollments"]) == len(t["enrollments"])


def test_class_published_on_is_optional_with_a_default(tiny_city):
    t = dict(tiny_city.tables)
    t["classes"] = t["classes"].drop(columns="published_on")
    report = validate(t)
    assert report.problems == []
    classes = report.tables["classes"]
    assert list(classes.columns) == list(TABLES["classes"].columns)
    assert classes["published_on"].isna().all()
    default = class_published_on(classes)
    assert (default == classes["start_on"] - pd.Timedelta(days=CLASS_NOTICE_DAYS)).all()
    # a date given is kept, an empty one defaults, one after the start is capped at the start
    given = tiny_city.tables["classes"].copy()
    given.loc[0, "published_on"] = pd.NaT
    given.loc[1, "published_on"] = given.loc[1, "start_on"] + pd.Timedelta(days=5)
    out = class_published_on(given)
    assert out[0] == given.loc[0, "start_on"] - pd.Timedelta(days=CLASS_NOTICE_DAYS)
    assert out[1] == given.loc[1, "start_on"]
    assert out[2:].equals(given["published_on"][2:])
