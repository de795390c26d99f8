"""The one-call class design, behaviourally: it follows the needs, the calendar and every limit."""

import math

import numpy as np
import pandas as pd
import pytest

from ganxun.features.contracts import RANKS
from ganxun.models.class_design import DesignGoal, InfeasibleDesign
from ganxun.models.equity import need_shares
from ganxun.serving.class_design import Designer, topic_choices
from ganxun.training.bundle import load_bundle

START = pd.Timestamp("2026-11-09")


@pytest.fixture(scope="module")
def bundle(trained):
    return trained[0].bundle


@pytest.fixture()
def designer(bundle):
    """A designer on a fresh copy of the bundle (tests may change its reserve or calendar)."""
    fitted, _ = load_bundle(bundle)
    return Designer(fitted)


def _goal(**kw):
    base = {"capacity": 15, "start_on": START, "days": 5, "hours": 30.0, "target_ranks": ("正科",)}
    return DesignGoal(**{**base, **kw})


def test_a_cohort_weak_on_one_topic_gets_that_topic(designer):
    before = designer.design(_goal())
    allowed = designer._allowed(_goal())
    hours = {t: designer._catalogue_hours({t: 1.0}, allowed) for t in designer.topic_ids}
    # a topic the design left out, with enough courses on the catalogue to teach it
    topic = max((t for t in designer.topic_ids if t not in before["topics"]), key=hours.get)
    pool = designer.cohorts.pool(ranks=("正科",))
    k = designer.topic_ids.index(topic)
    designer.rr.reserve_[pool, k] = 0.0  # nobody of the pool knows anything of it
    after = designer.design(_goal())
    assert topic in after["topics"] and max(after["topics"], key=after["topics"].get) == topic
    assert topic in set(after["sessions"]["topic_id"])
    assert after["needs"].iloc[0]["topic_id"] == topic  # the pool's largest gap
    reasons = next(t["reasons"] for t in topic_choices(after) if t["topic_id"] == topic)
    assert reasons[0] == "100% 的干部未达岗位要求"


def test_a_fully_booked_teacher_is_not_assigned(designer):
    before = designer.design(_goal())
    busy = before["sessions"]["teacher_id"].dropna().iloc[0]
    month_days = [START + pd.Timedelta(days=d) for d in (10, 12, 14, 16)]  # same month, not class
    extra = pd.DataFrame(
        {
            "class_id": [f"B-OTHER{i}" for i in range(4)],
            "course_id": "K00001",
            "teacher_id": busy,
            "session_on": month_days,
        }
    )
    tables = designer.tables
    tables["class_sessions"] = pd.concat([tables["class_sessions"], extra], ignore_index=True)
    after = designer.design(_goal(), max_sessions=4)
    assert busy not in set(after["sessions"]["teacher_id"].dropna())
    load = next(c for c in after["constraints"] if c["constraint"] == "teacher_load")
    assert load["used"] <= load["limit"] == 4


def test_a_teacher_busy_on_a_date_is_not_booked_that_day(designer):
    before = designer.design(_goal())
    first = before["sessions"].dropna(subset=["teacher_id"]).iloc[0]
    extra = pd.DataFrame(
        {
            "class_id": ["B-OTHER"],
            "course_id": ["K00001"],
            "teacher_id": [first["teacher_id"]],
            "session_on": [pd.Timestamp(first["session_on"])],
        }
    )
    tables = designer.tables
    tables["class_sessions"] = pd.concat([tables["class_sessions"], extra], ignore_index=True)
    after = designer.design(_goal())
    same_day = after["sessions"][
        pd.to_datetime(after["sessions"]["session_on"]) == pd.Timestamp(first["session_on"])
    ]
    assert first["teacher_id"] not in set(same_day["teacher_id"].dropna())
    dates = next(c for c in after["constraints"] if c["constraint"] == "teacher_dates")
    assert dates["used"] == 0


def test_removing_a_course_brings_in_the_next_best(designer):
    before = designer.design(_goal())
    s = before["sessions"]
    gone = s.iloc[0]
    after = designer.design(_goal(exclude_course_ids=(gone["course_id"],)))
    t = after["sessions"]
    assert gone["course_id"] not in set(t["course_id"])
    # the topic keeps a course; the other topics keep theirs
    assert gone["topic_id"] in set(t["topic_id"])
    new = set(t.loc[t["topic_id"] == gone["topic_id"], "course_id"]) - set(s["course_id"])
    assert new, "a course not in the first design takes the removed one's place"
    others = s[s["topic_id"] != gone["topic_id"]]
    kept = set(t["course_id"])
    assert others["course_id"].isin(kept).mean() >= 0.5
    assert t["hours"].sum() <= 30.0


def test_removing_a_teacher_or_a_cadre_brings_in_another(designer):
    before = designer.design(_goal())
    teacher = before["sessions"]["teacher_id"].dropna().iloc[0]
    cadre = before["roster"]["cadre_id"].iloc[0]
    after = designer.design(_goal(exclude_teacher_ids=(teacher,), exclude_cadre_ids=(cadre,)))
    assert teacher not in set(after["sessions"]["teacher_id"].dropna())
    assert cadre not in set(after["roster"]["cadre_id"]) and len(after["roster"]) == 15


def _check(designer, goal: DesignGoal, d: dict, max_sessions: int) -> None:
    """Every constraint of ``goal`` holds in design ``d``."""
    roster, sessions = d["roster"], d["sessions"]
    assert len(roster) == goal.capacity and roster["cadre_id"].is_unique
    if goal.target_ranks:
        assert roster["rank"].isin(goal.target_ranks).all()
    if goal.unit_ids:
        assert roster["unit_id"].isin(goal.unit_ids).all()
    counts = roster["unit_id"].value_counts()
    for u, q in (goal.unit_quotas or {}).items():
        assert counts.get(u, 0) <= q
    if goal.max_recent_hours is not None:
        assert (roster["recent_hours"] <= goal.max_recent_hours + 1e-9).all()
    if goal.fairness_bound is not None:
        cand = d["candidates"]
        shares = need_shares(cand)
        for u, n in counts.items():
            cap = max(
                1, math.floor(goal.fairness_bound * shares.get(u, 0.0) * goal.capacity + 1e-9)
            )
            assert n <= (cap if shares.get(u, 0.0) > 0 else 0), (u, n)
    assert not roster["cadre_id"].isin(goal.exclude_cadre_ids).any()
    assert sessions["hours"].sum() <= goal.hours + 1e-9
    dates = pd.to_datetime(sessions["session_on"])
    end = goal.start_on + pd.Timedelta(days=goal.days - 1)
    assert dates.min() >= goal.start_on and dates.max() <= end
    assert (sessions["taken_share"] <= 0.3 + 1e-9).all()
    assert not sessions["course_id"].isin(goal.exclude_course_ids).any()
    assert sessions["course_id"].is_unique
    calendar = designer.calendar()
    taught = sessions.dropna(subset=["teacher_id"])
    assert not taught["teacher_id"].isin(goal.exclude_teacher_ids).any()
    cal = calendar.assign(day=pd.to_datetime(calendar["session_on"]).dt.normalize())
    busy = set(zip(cal["teacher_id"], cal["day"], strict=True))
    for t, day in zip(taught["teacher_id"], pd.to_datetime(taught["session_on"]), strict=True):
        assert (t, day.normalize()) not in busy
    month = cal["day"].dt.to_period("M")
    for t, n in taught["teacher_id"].value_counts().items():
        for m in set(pd.to_datetime(taught["session_on"]).dt.to_period("M")):
            assert ((cal["teacher_id"] == t) & (month == m)).sum() + n <= max_sessions
    for c in d["constraints"]:
        if isinstance(c["limit"], int | float) and isinstance(c["used"], int | float):
            assert c["used"] <= c["limit"] + 1e-9, c
    if d["staff"] is not None:
        cl = designer.tables["classes"]
        s = cl[cl["staff_id"] == d["staff"]["staff_id"]]
        assert not ((s["start_on"] <= end) & (s["end_on"] >= goal.start_on)).any()


def test_no_design_breaks_a_constraint_over_many_random_goals(bundle):
    fitted, _ = load_bundle(bundle)
    designer = Designer(fitted)
    rng = np.random.default_rng(7)
    info = designer.cohorts.info
    units = sorted(info["unit_id"].unique())
    topics = designer.topic_ids
    courses = designer.courses["course_id"].tolist()
    teachers = [str(t) for t in designer.tm.teachers_.ids_]
    solved = infeasible = 0
    for _ in range(30):
        ranks = tuple(rng.choice(RANKS, size=int(rng.integers(0, 3)), replace=False))
        goal_units = (
            tuple(rng.choice(units, size=int(rng.integers(2, 6)), replace=False))
            if rng.random() < 0.3
            else ()
        )
        quotas = (
            {str(u): int(rng.integers(0, 4)) for u in rng.choice(units, 3, replace=False)}
            if rng.random() < 0.4
            else None
        )
        days = int(rng.integers(2, 8))
        goal = DesignGoal(
            capacity=int(rng.integers(3, 30)),
            start_on=pd.Timestamp("2026-09-01") + pd.Timedelta(days=int(rng.integers(0, 150))),
            days=days,
            hours=float(rng.integers(6, days * 8 + 1)),
            target_ranks=ranks,
            unit_ids=goal_units,
            topics=(
                {str(t): 1.0 for t in rng.choice(topics, 2, replace=False)}
                if rng.random() < 0.3
                else None
            ),
            unit_quotas=quotas,
            max_recent_hours=[None, 60.0, 150.0][int(rng.integers(0, 3))],
            fairness_bound=[None, 1.2, 1.5, 3.0][int(rng.integers(0, 4))],
            exclude_course_ids=tuple(rng.choice(courses, 3, replace=False)),
            exclude_teacher_ids=tuple(rng.choice(teachers, 2, replace=False)),
            exclude_cadre_ids=tuple(
                info["cadre_id"].sample(5, random_state=int(rng.integers(1e6)))
            ),
        )
        max_sessions = int(rng.integers(1, 5))
        try:
            d = designer.design(goal, max_sessions=max_sessions)
        except InfeasibleDesign as err:
            infeasible += 1
            assert err.constraint and str(err)
            continue
        solved += 1
        _check(designer, goal, d, max_sessions)
    assert solved >= 10, (solved, infeasible)
