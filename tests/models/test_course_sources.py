"""Course-specific retrievers and pair features: the class schedule, stage views, gaps."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ganxun.models.course_sources import (
    PAIR_FEATURES,
    ClassSchedule,
    CoursePairFeatures,
    GapRetriever,
    ScheduleRetriever,
    StageView,
    recent_shares,
)
from ganxun.models.recommender import FeatureContext

RANKS = ("科员", "副科", "正科")


def classes_and_sessions() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Class 0: March–April for 科员 with courses 0, 1; class 1: May for 副科|正科 with course 2.

    Both are in the annual plan (published on 2025-01-05); a third, a rollcall class, never counts.
    """
    classes = pd.DataFrame(
        {
            "class_id": ["B1", "B2", "B3"],
            "kind": ["elective", "online", "rollcall"],
            "start_on": pd.to_datetime(["2025-03-10", "2025-05-01", "2025-03-01"]),
            "end_on": pd.to_datetime(["2025-04-05", "2025-05-20", "2025-03-05"]),
            "target_ranks": [("科员",), "副科|正科", ("科员",)],
            "published_on": pd.to_datetime(["2025-01-05"] * 3),
        }
    )
    sessions = pd.DataFrame(
        {
            "class_id": ["B1", "B1", "B2", "B3", "B9"],
            "course_id": ["K1", "K2", "K3", "K4", "K1"],
        }
    )
    return classes, sessions


def schedule(**published) -> ClassSchedule:
    """:func:`classes_and_sessions` with some publication dates changed (class id -> date)."""
    classes, sessions = classes_and_sessions()
    for cid, date in published.items():
        classes.loc[classes["class_id"] == cid, "published_on"] = pd.Timestamp(date)
    return ClassSchedule.from_tables(classes, sessions, ["K1", "K2", "K3", "K4"], RANKS)


def test_class_schedule_shares_by_month_and_rank():
    s = schedule()
    by_rank, any_rank = s.shares("2025-03-01", 3)  # March, April, May
    np.testing.assert_allclose(by_rank[0], [2 / 3, 2 / 3, 0, 0])  # rollcall classes do not count
    np.testing.assert_allclose(by_rank[1], [0, 0, 1 / 3, 0])
    np.testing.assert_allclose(by_rank[2], by_rank[1])
    np.testing.assert_allclose(any_rank, [2 / 3, 2 / 3, 1 / 3, 0])
    # the first month starts at the cut-off: a class that ended before it does not count
    by_rank, _ = s.shares("2025-04-06", 1)
    assert not by_rank.any()
    by_rank, _ = s.shares("2025-04-05", 1)
    np.testing.assert_allclose(by_rank[0], [1, 1, 0, 0])


def test_promoted_by_month_is_what_ran_whenever_it_was_announced():
    late = schedule(B2="2025-05-10")  # announced after May began: it still ran in May
    got = late.promoted_by_month(pd.to_datetime(["2025-03-01", "2025-05-01", "2025-06-01"]))
    assert got.shape == (3, len(RANKS) + 1, 4)
    np.testing.assert_array_equal(got[0, 0], [1, 1, 0, 0])  # March: B1 for 科员
    np.testing.assert_array_equal(got[0, -1], [1, 1, 0, 0])  # ... and for anyone
    np.testing.assert_array_equal(got[1, 1], [0, 0, 1, 0])  # May: B2 for 副科
    assert not got[1, 0].any() and not got[2].any()  # nothing for 科员 in May, nothing in June


def test_a_class_published_after_the_cut_off_is_not_in_the_calendar():
    late = schedule(B2="2025-04-20")  # an ad-hoc class, announced after a 1 April cut-off
    by_rank, any_rank = late.shares("2025-04-01", 3)
    assert by_rank[:, 2].sum() == 0 and any_rank[2] == 0
    np.testing.assert_allclose(by_rank[0], [1 / 3, 1 / 3, 0, 0])  # B1, published, still counts
    # once published it is read (the same dates, a cut-off on its publication day)
    by_rank, any_rank = late.shares("2025-04-20", 2)
    np.testing.assert_allclose(by_rank[1], [0, 0, 1 / 2, 0])
    # nor does the retriever built on those shares put it forward, in either stage
    fit_by, fit_any = late.shares("2025-03-01", 3)
    now_by, now_any = late.shares("2025-04-01", 3)
    r = ScheduleRetriever(
        {"fit": fit_by, "recommend": now_by},
        {"fit": fit_any, "recommend": now_any},
        np.array([1, 2, -1]),
    )
    ui = sp.csr_matrix((3, 4))
    assert not r.fit(ui, stage="fit").score([0, 1, 2])[:, 2].any()
    assert not r.fit(ui).score([0, 1, 2])[:, 2].any()
    np.testing.assert_allclose(schedule().shares("2025-04-01", 3)[0][1], [0, 0, 1 / 3, 0])


def test_a_class_without_publication_date_is_known_two_weeks_before_it_starts():
    classes, sessions = classes_and_sessions()
    ids = ["K1", "K2", "K3", "K4"]
    for missing in (classes.drop(columns="published_on"), classes.assign(published_on=pd.NaT)):
        s = ClassSchedule.from_tables(missing, sessions, ids, RANKS)
        # B2 starts on 1 May: taken as published on 17 April
        assert s.shares("2025-04-16", 2)[1][2] == 0
        assert s.shares("2025-04-17", 2)[1][2] == 0.5
    # a date given for some classes only: those keep theirs
    some = classes.assign(published_on=pd.to_datetime(["2025-03-01", None, None]))
    s = ClassSchedule.from_tables(some, sessions, ids, RANKS)
    np.testing.assert_array_equal(s.published, np.array(["2025-03-01", "2025-04-17"], "M8[D]"))


def test_schedule_retriever_reads_its_stage_and_the_users_rank():
    by_rank = {"fit": np.array([[1.0, 0], [0, 0]]), "recommend": np.array([[0.0, 1], [0, 0]])}
    any_rank = {"fit": np.array([0.0, 0.0]), "recommend": np.array([0.5, 0.0])}
    ui = sp.csr_matrix((3, 2))
    ranks = np.array([0, 1, -1])
    r = ScheduleRetriever(by_rank, any_rank, ranks, any_weight=1.0)
    np.testing.assert_allclose(r.fit(ui, stage="fit").score([0, 1]), [[1, 0], [0, 0]])
    served = r.fit(ui).score([0, 1, 2, 9])  # unknown rank and unknown user: any rank only
    np.testing.assert_allclose(served, [[0.5, 1], [0.5, 0], [0.5, 0], [0.5, 0]])
    with pytest.raises(ValueError, match="stage"):
        r.fit(ui, stage="later")


def test_gap_retriever_uses_the_fit_gaps_for_the_fit_stage():
    topics = sp.csr_matrix(np.eye(2))
    now, then = np.array([[0.0, 0.3]]), np.array([[0.4, 0.3]])
    r = GapRetriever(now, topics, fit_gaps=then)
    ui = sp.csr_matrix((1, 2))
    np.testing.assert_allclose(r.fit(ui, stage="fit").score([0]), then)
    np.testing.assert_allclose(r.fit(ui).score([0, 5]), [[0.0, 0.3], [0.0, 0.0]])
    np.testing.assert_allclose(GapRetriever(now, topics).fit(ui, stage="fit").score([0]), now)


def test_recent_shares_are_ratios_to_the_average():
    recent = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 0], [0, 0, 0]], float))
    overall, by_segment = recent_shares(recent, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(overall, [3 / (4 / 3), 1 / (4 / 3), 0])
    # per member of the segment, over the average course's rate per cadre
    rate = (4 / 3) / 4
    np.testing.assert_allclose(by_segment, [[1 / rate, 0.5 / rate, 0], [0.5 / rate, 0, 0]])


def view(gap: float, rank_share: float) -> StageView:
    n_cadres, n_courses = 2, 3
    return StageView(
        gaps=np.full((n_cadres, 2), gap),
        published_days=np.array([10.0, 20.0, 30.0]),
        cadre_age=np.array([30.0, 50.0]),
        class_rank_share=np.full((3, n_courses), rank_share),
        class_rank_now=np.zeros((3, n_courses)),
        class_any_share=np.zeros(n_courses),
        recent_share=np.ones(n_courses),
        recent_segment_share=np.ones((2, n_courses)),
    )


def test_pair_features_follow_the_stage_view():
    f = CoursePairFeatures(
        views={"fit": view(0.5, 1.0), "recommend": view(0.1, 0.0)},
        course_topics=sp.csr_matrix(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])),
        quality=np.array([3.0, 4.0, 5.0]),
        quality_confidence=np.ones(3),
        segments=np.array([0, 1]),
        ranks=np.array([0, -1]),
        modes=np.array([0, 1, 2]),
        hours=np.array([2.0, 4.0, 8.0]),
        levels=np.array([1.0, 2.0, 3.0]),
    )
    visible = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 0, 0]]))
    users, items = np.array([0, 0, 1, 7]), np.array([1, 2, 2, 0])

    def context(stage):
        return FeatureContext(
            stage=stage,
            userids=np.array([0, 1, 7]),
            user_items=sp.csr_matrix(np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0]])),
            row=np.array([0, 0, 1, 2]),
            visible=visible,
        )

    fit = f(users, items, context("fit"))
    served = f(users, items, context("recommend"))
    assert fit.shape == served.shape == (4, len(PAIR_FEATURES))
    col = {n: j for j, n in enumerate(PAIR_FEATURES)}
    np.testing.assert_allclose(fit[:3, col["gap_match"]], 0.5)
    np.testing.assert_allclose(served[:3, col["gap_match"]], 0.1)
    np.testing.assert_allclose(fit[:2, col["class_rank_share"]], 1.0)
    assert np.isnan(fit[2:, col["class_rank_share"]]).all()  # rank unknown, user unknown
    np.testing.assert_allclose(served[:3, col["cadre_age"]], [30, 30, 50])
    assert np.isnan(served[3, col["cadre_age"]])
    np.testing.assert_allclose(served[:, col["course_mode"]], [1, 2, 2, 0])
    with pytest.raises(ValueError, match="recommend"):
        CoursePairFeatures({"fit": view(0, 0)}, *([None] * 8))


def test_pair_features_pickled_before_the_stage_views_still_serve():
    old = object.__new__(CoursePairFeatures)
    old.__setstate__(
        {
            "gaps": np.full((2, 2), 0.2, np.float32),
            "course_topics": sp.csr_matrix(np.eye(3, 2)),
            "quality": np.ones(3),
            "quality_confidence": np.ones(3),
            "segments": np.array([0, 1]),
            "modes": np.array([0, 1, 2]),
            "hours": np.ones(3),
            "levels": np.ones(3),
            "published_days": np.array([1.0, 2.0, 3.0]),
            "n_modes": 3,
            "_dense_topics": np.eye(3, 2),
        }
    )
    ctx = FeatureContext(
        stage="recommend",
        userids=np.array([0]),
        user_items=sp.csr_matrix((1, 3)),
        row=np.array([0, 0]),
        visible=sp.csr_matrix((2, 3)),
    )
    rows = old(np.array([0, 0]), np.array([0, 2]), ctx)
    assert rows.shape == (2, 10)  # what its ranker was trained on
    np.testing.assert_allclose(rows[:, 0], [0.2, 0.0])
    np.testing.assert_allclose(rows[:, 8], [1.0, 3.0])
