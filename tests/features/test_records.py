"""Compact per-cadre records (features/records.py): what the dossier reads, row for row."""

import numpy as np
import pandas as pd
import pytest

from ganxun.features.contracts import validate
from ganxun.features.records import (
    NO_DAY,
    CadreRows,
    enrollment_rows,
    from_days,
    post_rows,
    to_days,
    year_ends,
)
from ganxun.features.split import latest_event
from ganxun.features.vocab import Vocabulary


@pytest.fixture(scope="module")
def clean(tiny_real):
    return validate(tiny_real.tables).tables


def test_days_round_trip_and_missing_dates():
    dates = pd.Series(pd.to_datetime(["2024-01-01", None, "1969-12-31"]))
    days = to_days(dates)
    assert days.dtype == np.int32 and days[1] == NO_DAY and days[2] == -1
    back = from_days(days)
    assert back[0] == pd.Timestamp("2024-01-01") and back[1] is None


def test_cadre_rows_group_by_cadre_keeping_order():
    rows = CadreRows.build(np.array([2, 0, 2, -1, 0]), 4, {"x": np.array([1, 2, 3, 4, 5])})
    assert rows.of(0)["x"].tolist() == [2, 5]
    assert rows.of(1)["x"].tolist() == [] and rows.count(3) == 0
    assert rows.of(2)["x"].tolist() == [1, 3]


def test_enrollment_rows_hold_every_enrolment_before_the_cutoff(clean):
    asof = latest_event(clean) + pd.Timedelta(days=1)
    cadres = Vocabulary(clean["cadres"]["cadre_id"])
    courses = Vocabulary(clean["courses"]["course_id"])
    classes = Vocabulary(clean["classes"]["class_id"])
    rows = enrollment_rows(clean, cadres, courses, classes, asof)
    e = clean["enrollments"]
    assert rows.ptr[-1] == len(e)
    want = e.groupby([e["cadre_id"], e["enrolled_on"].dt.year])["hours"].sum()
    for cadre_id in e["cadre_id"].drop_duplicates().head(40):
        mine = rows.of(cadres.one(cadre_id))
        years = np.array([d.year for d in from_days(mine["enrolled_on"])])
        for year, hours in want.loc[cadre_id].items():
            assert mine["hours"][years == year].sum() == pytest.approx(hours, abs=1e-3)
        assert (np.diff(mine["enrolled_on"]) >= 0).all()  # oldest first


def test_post_rows_follow_the_post_history(clean):
    asof = latest_event(clean) + pd.Timedelta(days=1)
    cadres = Vocabulary(clean["cadres"]["cadre_id"])
    units = Vocabulary(clean["units"]["unit_id"])
    rows = post_rows(clean, cadres, units, asof)
    posts = clean["cadre_posts"]
    moved = posts["cadre_id"].value_counts()
    cadre_id = moved.index[0]
    assert moved.iloc[0] >= 2
    mine = rows.of(cadres.one(cadre_id))
    assert len(mine["from_on"]) == (posts[posts["cadre_id"] == cadre_id]["from_on"] < asof).sum()
    assert (np.diff(mine["from_on"]) >= 0).all()
    # a cadre the history does not mention gets the cadres row
    every = rows.ptr[1:] - rows.ptr[:-1]
    assert (every >= 1).all()


def test_year_ends_close_each_calendar_year_and_end_at_the_cutoff():
    ends = year_ends("2023-03-05", "2025-06-01")
    assert ends == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2025-01-01"),
        pd.Timestamp("2025-06-01"),
    ]
    assert year_ends("2024-02-01", "2025-01-01") == [pd.Timestamp("2025-01-01")]
