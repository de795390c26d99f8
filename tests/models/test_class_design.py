import numpy as np
import pandas as pd
import pytest

from ganxun.models.class_design import InfeasibleDesign, choose_sessions, session_dates


def _catalogue():
    courses = pd.DataFrame(
        {
            "course_id": [f"K{i}" for i in range(8)],
            "title": [f"课{i}" for i in range(8)],
            "hours": [8.0, 8.0, 4.0, 8.0, 4.0, 8.0, 4.0, 8.0],
            "level": [1, 2, 1, 2, 1, 2, 3, 1],
            "mode": ["面授"] * 8,
        }
    )
    topics = np.zeros((8, 3))
    topics[[0, 1, 2, 7], 0] = 1.0  # topic A
    topics[[3, 4], 1] = 1.0  # topic B
    topics[[5, 6], 2] = 1.0  # topic C
    return courses, topics


def test_sessions_cover_topics_in_proportion_within_the_hours_and_skip_repeats():
    courses, topics = _catalogue()
    taken = np.zeros(8)
    taken[0] = 0.9  # most of the roster took K0
    got = choose_sessions(
        {"A": 0.75, "B": 0.25},
        32.0,
        courses,
        topics,
        ["A", "B", "C"],
        taken,
        quality=np.arange(8.0),
        allowed=np.ones(8, bool),
    )
    assert "K0" not in set(got["course_id"])
    hours = got.groupby("topic_id")["hours"].sum()
    assert hours["A"] == pytest.approx(24.0, abs=4.0) and hours["B"] == pytest.approx(8.0, abs=4.0)
    assert "C" not in hours.index
    assert got["course_id"].is_unique


def test_a_topic_without_schedulable_courses_is_named():
    courses, topics = _catalogue()
    with pytest.raises(InfeasibleDesign) as err:
        choose_sessions(
            {"C": 1.0},
            8.0,
            courses,
            topics,
            ["A", "B", "C"],
            np.zeros(8),
            quality=np.zeros(8),
            allowed=np.array([True] * 5 + [False] * 3),
        )
    assert err.value.constraint == "courses"


def test_session_dates_stay_within_the_class():
    dates = session_dates(7, pd.Timestamp("2026-03-02"), 3)
    assert dates[0] == pd.Timestamp("2026-03-02") and dates[-1] == pd.Timestamp("2026-03-04")
    assert dates == sorted(dates)
