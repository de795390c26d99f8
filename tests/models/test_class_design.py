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


def test_sessions_never_exceed_the_hours_and_fill_what_is_left():
    from ganxun.models.class_design import choose_sessions as choose

    courses, topics = _catalogue()
    for hours in (8.0, 12.0, 20.0, 28.0, 44.0):
        got = choose(
            {"A": 0.5, "B": 0.5},
            hours,
            courses,
            topics,
            ["A", "B", "C"],
            np.zeros(8),
            quality=np.zeros(8),
            allowed=np.ones(8, bool),
        )
        assert got["hours"].sum() <= hours
        assert {"A", "B"} <= set(got["topic_id"])  # room was kept for the second topic
    full = choose(
        {"A": 1.0},
        28.0,
        courses,
        topics,
        ["A", "B", "C"],
        np.zeros(8),
        np.zeros(8),
        np.ones(8, bool),
    )
    assert full["hours"].sum() == 28.0  # 8 + 8 + 8 + 4: every A course, the hours filled


def test_class_length_from_days_or_hours():
    from ganxun.models.class_design import class_length

    assert class_length(5, None) == (5, 30.0)
    assert class_length(None, 20.0) == (4, 20.0)
    with pytest.raises(InfeasibleDesign) as err:
        class_length(2, 40.0)
    assert err.value.constraint == "hours"
    with pytest.raises(ValueError):
        class_length(None, None)


def test_teacher_availability_counts_the_calendar():
    from ganxun.models.class_design import teacher_availability

    calendar = pd.DataFrame(
        {
            "teacher_id": ["T1", "T1", "T1", "T2", "T3"],
            "class_id": ["B1", "B2", "B3", "B1", "B9"],
            "session_on": pd.to_datetime(
                ["2026-03-02", "2026-03-10", "2026-03-20", "2026-03-03", "2026-02-03"]
            ),
        }
    )
    slots = pd.to_datetime(["2026-03-02", "2026-03-03"])
    free, caps, load = teacher_availability(calendar, slots, ["T1", "T2", "T3"], 4)
    assert free.tolist() == [[False, True, True], [True, False, True]]
    assert caps.tolist() == [1, 3, 4]  # T3's February session does not count in March
    assert set(load["teacher_id"]) == {"T1", "T2"}


def test_staff_availability_sees_overlapping_classes():
    from ganxun.models.class_design import staff_availability

    calendar = pd.DataFrame(
        {
            "staff_id": ["S1", "S2", None],
            "start_on": pd.to_datetime(["2026-03-01", "2026-02-01", "2026-03-01"]),
            "end_on": pd.to_datetime(["2026-03-05", "2026-02-05", "2026-03-09"]),
        }
    )
    free = staff_availability(calendar, "2026-03-04", "2026-03-08", ["S1", "S2", "S3"])
    assert free.tolist() == [False, True, True]
