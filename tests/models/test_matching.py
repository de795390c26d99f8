"""Teacher/staff matchers and the plan solvers (their ranker contract: test_ranker_contract.py)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from ganxun.features.cohorts import (
    class_cohorts,
    class_slots,
    class_topic_weights,
    course_main_topic,
    rank_levels,
)
from ganxun.features.matcher_features import teacher_training_rows
from ganxun.models.assignment import REASONS, plan_staff, plan_teachers
from ganxun.models.matching import TeacherMatcher, rater_leniency
from ganxun.models.staff_matching import StaffMatcher
from ganxun.simulation import true_staff_rating, true_teacher_rating


@pytest.fixture(scope="module")
def teacher_model(split):
    T, train, reserve = split
    return TeacherMatcher(random_state=0).fit(train, reserve, T)


@pytest.fixture(scope="module")
def staff_model(split):
    T, train, reserve = split
    return StaffMatcher(random_state=0).fit(train, reserve, T)


COHORT = {"cohort_size": 30.0, "rank_mean": 2.0, "rank_sd": 0.5}


# --- teacher matcher -----------------------------------------------------------------------------


def test_training_rows_have_no_label_leak(split):
    T, train, reserve = split
    lenient = rater_leniency(train)
    X, y, meta = teacher_training_rows(train, reserve, lenient, n_folds=5, random_state=0)
    assert len(X) == len(y) == len(meta) > 50
    assert meta.groupby("class_id")["fold"].nunique().max() == 1  # a class sits in one fold
    assert np.isfinite(y).all() and X["declared"].isin([0, 1]).all()
    # history out of fold: corrupting one fold's labels leaves that fold's features unchanged
    fold0 = set(meta.loc[meta["fold"] == 0, "class_id"])
    bent = dict(train)
    cr = train["course_ratings"].copy()
    hit = cr["class_id"].isin(fold0) & cr["teacher_score"].notna()
    cr.loc[hit, "teacher_score"] = 1
    bent["course_ratings"] = cr
    X2, _, meta2 = teacher_training_rows(bent, reserve, lenient, n_folds=5, random_state=0)
    rows = (meta["fold"] == 0).to_numpy()
    assert np.allclose(X.loc[rows, "prior_rating"], X2.loc[rows, "prior_rating"])


def test_leniency_matches_the_truth(tiny_city, split):
    _, train, _ = split
    est = rater_leniency(train)
    truth = tiny_city.truth["cadres"].set_index("cadre_id")["leniency"]
    assert np.corrcoef(est, truth.loc[est.index])[0, 1] > 0.6


def _declared_pair(train):
    tt = train["teacher_topics"]
    main = course_main_topic(train)
    cr = train["course_ratings"].dropna(subset=["teacher_score", "teacher_id"])
    rated = cr.assign(topic_id=cr["course_id"].map(main)).groupby(["teacher_id", "topic_id"])
    counts = rated.size()
    multi = tt.groupby("teacher_id")["topic_id"].apply(list)
    for teacher, topics in multi.items():
        if len(topics) >= 2:
            n = [counts.get((teacher, k), 0) for k in topics]
            if min(n) >= 5:
                return teacher, topics[int(np.argmin(n))], topics[int(np.argmax(n))]
    raise AssertionError("no teacher with two well-rated declared topics")


def test_better_teacher_on_a_topic_moves_up_on_that_topic_only(split, teacher_model):
    T, train, reserve = split
    teacher, better, other = _declared_pair(train)
    main = course_main_topic(train)
    cr = train["course_ratings"].copy()
    on_topic = (cr["teacher_id"] == teacher) & cr["course_id"].map(main).eq(better)
    cr.loc[on_topic & cr["teacher_score"].notna(), "teacher_score"] = 5
    bent = {**train, "course_ratings": cr}
    after = TeacherMatcher(**teacher_model.get_params()).fit(bent, reserve, T)

    def place(model, topic):
        out = model.rank([topic], COHORT, k=100)
        ids = list(out.labels()[0])
        return ids.index(teacher), out.scores[0][ids.index(teacher)]

    (pos_b0, s_b0), (pos_b1, s_b1) = place(teacher_model, better), place(after, better)
    (pos_o0, s_o0), (pos_o1, s_o1) = place(teacher_model, other), place(after, other)
    assert s_b1 - s_b0 > 0.2
    assert pos_b1 <= pos_b0
    assert abs(s_o1 - s_o0) < 0.5 * (s_b1 - s_b0)
    assert pos_o1 >= pos_o0 - 1  # no real move on the other topic


def test_cold_start_teacher_gets_a_prediction_from_declared_expertise(split, teacher_model):
    T, train, reserve = split
    new = pd.DataFrame({"teacher_id": ["TNEW1", "TNEW2"], "institution_id": "I001",
                        "title": ["教授", "讲师"]})  # fmt: skip
    decl = pd.DataFrame({"teacher_id": ["TNEW1", "TNEW2"], "topic_id": "TP03",
                         "weight": [0.95, 0.1]})  # fmt: skip
    tables = {
        **train,
        "teachers": pd.concat([train["teachers"], new], ignore_index=True),
        "teacher_topics": pd.concat([train["teacher_topics"], decl], ignore_index=True),
    }
    model = TeacherMatcher(**teacher_model.get_params()).fit(tables, reserve, T)
    pred = model.predict_rating(["TNEW1", "TNEW2"], "TP03", COHORT)
    assert np.isfinite(pred).all() and ((pred >= 1) & (pred <= 5)).all()
    out = model.rank(["TP03"], COHORT, candidates=["TNEW1", "TNEW2"], k=2)
    reasons = dict(zip(out.labels()[0], out.reasons[0], strict=True))
    assert "擅长：法治素养" in reasons["TNEW1"] and "近3年暂无授课记录" in reasons["TNEW1"]
    with pytest.raises(ValueError, match="unknown teacher"):
        model.predict_rating(["NOPE"], "TP03", COHORT)


def test_rank_respects_candidates_and_declared_topics(teacher_model):
    pool = list(teacher_model.teachers_.ids_[:6])
    out = teacher_model.rank(["TP03"], COHORT, candidates=pool, k=10, declared_only=False)
    listed = [t for t in out.labels()[0] if t is not None]
    assert set(listed) <= set(pool) and len(listed) == len(pool)
    declared = teacher_model.declared_.xs("TP03", level="topic_id").index
    out = teacher_model.rank(["TP03"], COHORT, k=50)
    assert set(t for t in out.labels()[0] if t is not None) <= set(declared)
    assert all(r[0] == "擅长：法治素养" for r in out.reasons[0] if r)


def _test_slots(tiny_city, T):
    t = tiny_city.tables
    test_ids = t["classes"].loc[t["classes"]["start_on"] >= T, "class_id"]
    s = t["class_sessions"]
    s = s[s["class_id"].isin(set(test_ids))].reset_index(drop=True)
    return s.assign(topic_id=s["course_id"].map(course_main_topic(t)))


def test_model_plan_beats_expertise_only_on_true_ratings(tiny_city, split, teacher_model):
    T, _, reserve = split
    t, truth = tiny_city.tables, tiny_city.truth
    slots = _test_slots(tiny_city, T)
    cohorts = class_cohorts(t, reserve, class_ids=slots["class_id"].unique())
    tids = teacher_model.teachers_.ids_
    n_s, n_t = len(slots), len(tids)
    decl = teacher_model.declared_.reindex(
        pd.MultiIndex.from_arrays([np.tile(tids, n_s), np.repeat(slots["topic_id"], n_t)])
    )
    eligible = decl.notna().to_numpy().reshape(n_s, n_t)
    level = cohorts.loc[slots["class_id"], "rank_mean"].to_numpy()
    true = true_teacher_rating(
        truth, tids[None, :], slots["topic_id"].to_numpy()[:, None], level[:, None]
    )
    scores = teacher_model.score_matrix(
        slots["topic_id"], cohorts.loc[slots["class_id"]].reset_index(drop=True)
    )
    month = pd.to_datetime(slots["session_on"]).dt.month.to_numpy()

    def mean_true(s):
        plan = plan_teachers(s, slots["session_on"], slots["class_id"], 3, eligible, month)
        on = plan.assignment >= 0
        assert on.all()
        return true[np.flatnonzero(on), plan.assignment[on]].mean()

    expertise = decl.fillna(0.0).to_numpy().reshape(n_s, n_t)
    assert mean_true(scores) > mean_true(expertise) + 0.1
    assert mean_true(scores) >= 0.95 * mean_true(true)


def test_teacher_plan_table_names_teachers_and_reasons(tiny_city, split, teacher_model):
    T, _, reserve = split
    t = tiny_city.tables
    slots = class_slots(t, t["classes"].loc[t["classes"]["start_on"] >= T, "class_id"])
    cohorts = class_cohorts(t, reserve, class_ids=slots["class_id"].unique())
    table, plan = teacher_model.plan(slots, cohorts, max_sessions=4)
    assert len(table) == len(slots) and table["teacher_id"].notna().all()
    assert table["predicted_rating"].between(1, 5).all()
    assert all(r and r[0].startswith("擅长：") for r in table["reasons"])
    tight, plan = teacher_model.plan(slots, cohorts, max_sessions=1, period=None)
    empty = tight["teacher_id"].isna()
    assert empty.any() and tight.loc[empty, "unfilled_reason"].notna().all()
    assert (tight["teacher_id"].value_counts() <= 1).all()


def test_staff_model_beats_historical_staff(tiny_city, split, staff_model):
    T, _, reserve = split
    t, truth = tiny_city.tables, tiny_city.truth
    cl = t["classes"]
    test = cl[(cl["start_on"] >= T - pd.DateOffset(months=6)) & cl["staff_id"].notna()]
    cohorts = class_cohorts(t, reserve, class_ids=test["class_id"])
    topics = class_topic_weights(t, staff_model.topic_ids_).reindex(test["class_id"]).fillna(0)
    scores = staff_model.score_matrix(cohorts.reset_index(drop=True), topics)
    level = cohorts["rank_mean"].to_numpy()
    true = true_staff_rating(truth, staff_model.staff_.ids_[None, :], level[:, None])
    plan = plan_staff(scores, test["start_on"], test["end_on"], max_concurrent=1)
    on = plan.assignment >= 0
    ours = true[np.flatnonzero(on), plan.assignment[on]].mean()
    historical = true_staff_rating(truth, test["staff_id"], level).mean()
    assert ours > historical
    out = staff_model.rank(cohorts.iloc[:1], topics.iloc[:1], k=3)
    assert any(r.startswith("从业") for r in out.reasons[0][0])


def test_cohort_profile_falls_back_to_target_ranks(tiny_city):
    t = tiny_city.tables
    future = t["classes"].iloc[[0]].assign(class_id="BNEW", target_ranks=[("正处", "副厅")])
    tables = {**t, "classes": pd.concat([t["classes"], future], ignore_index=True)}
    out = class_cohorts(tables, class_ids=["BNEW", t["classes"]["class_id"].iloc[0]])
    assert out.loc["BNEW", "rank_mean"] == pytest.approx(rank_levels(["正处", "副厅"]).mean())
    assert out.loc["BNEW", "cohort_size"] == 0


# --- plan solvers --------------------------------------------------------------------------------


def _brute_teachers(s, ok, dates, classes, caps):
    n, m = s.shape
    best = (-1, -np.inf)
    for a in itertools.product(range(-1, m), repeat=n):
        a = np.array(a)
        if any(a[i] >= 0 and not ok[i, a[i]] for i in range(n)):
            continue
        fine = all((a == t).sum() <= caps[t] for t in range(m))
        for i, j in itertools.combinations(range(n), 2):
            if a[i] >= 0 and a[i] == a[j] and dates[i] == dates[j] and classes[i] != classes[j]:
                fine = False
        if fine:
            value = ((a >= 0).sum(), sum(s[i, a[i]] for i in range(n) if a[i] >= 0))
            best = max(best, value)
    return best


def test_teacher_plan_is_optimal_on_small_instances():
    rng = np.random.default_rng(1)
    for _ in range(25):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        s = rng.normal(3, 1, (n, m))
        ok = rng.random((n, m)) < 0.7
        dates, classes = rng.integers(0, 2, n), rng.integers(0, 3, n)
        caps = rng.integers(0, 3, m)
        plan = plan_teachers(s, dates, classes, caps, eligible=ok, mip_rel_gap=1e-9)
        count, total = _brute_teachers(s, ok, dates, classes, caps)
        assert plan.n_filled == count
        assert count == 0 or plan.total_score == pytest.approx(total, abs=1e-6)


def test_teacher_plan_never_double_books_or_overloads():
    for seed in range(15):
        rng = np.random.default_rng(seed)
        n_s, n_t = 30, 6
        s = rng.uniform(1, 5, (n_s, n_t))
        ok = rng.random((n_s, n_t)) < 0.4
        dates = rng.integers(0, 6, n_s)
        classes = rng.integers(0, 5, n_s)
        periods = dates // 3
        caps = rng.integers(1, 4, n_t)
        plan = plan_teachers(s, dates, classes, caps, eligible=ok, slot_periods=periods)
        a = plan.assignment
        on = a >= 0
        assert ok[np.flatnonzero(on), a[on]].all()
        frame = pd.DataFrame({"t": a, "d": dates, "c": classes, "p": periods})[on]
        assert (frame.groupby(["t", "d"])["c"].nunique() <= 1).all()
        load = frame.groupby(["t", "p"]).size()
        assert all(n <= caps[t] for (t, _), n in load.items())
        assert len(plan.unfilled) == (~on).sum()
        assert all(u.reason in REASONS and u.message for u in plan.unfilled)


def test_unfilled_slots_say_why():
    s = np.array(
        [
            [4.0, np.nan],  # slot 0: class A, day 1
            [3.0, np.nan],  # slot 1: class B, day 1 -> teacher 0 busy with class A
            [np.nan, np.nan],  # slot 2: nobody may teach it
            [np.nan, 5.0],  # slot 3: class C, day 2
            [np.nan, 4.0],  # slot 4: class D, day 3 -> teacher 1 at its limit of 1
        ]
    )
    plan = plan_teachers(s, [1, 1, 1, 2, 3], ["A", "B", "C", "C", "D"], [2, 1])
    assert plan.assignment.tolist() == [0, -1, -1, 1, -1]
    reasons = {u.slot: u.reason for u in plan.unfilled}
    assert reasons == {1: "busy_on_date", 2: "no_eligible", 4: "over_load"}
    # two sessions of one class on one day may share a teacher
    same = plan_teachers(np.array([[4.0], [3.0]]), [1, 1], ["A", "A"], 2)
    assert same.assignment.tolist() == [0, 0]


def test_teacher_plan_fills_first_then_maximises():
    # teacher 0 is better on both slots but may take one; filling both beats the best single pair
    s = np.array([[5.0, 1.0], [5.0, np.nan]])
    plan = plan_teachers(s, [1, 2], ["A", "B"], [1, 1])
    assert plan.assignment.tolist() == [1, 0] and plan.method == "linear_sum_assignment"
    milp_plan = plan_teachers(s, [1, 2], ["A", "B"], [1, 1], slot_periods=[0, 1])
    assert milp_plan.method == "milp" and milp_plan.n_filled == 2


def test_staff_plan_respects_overlaps_and_reports():
    d = pd.to_datetime(["2026-01-01", "2026-01-05", "2026-01-08", "2026-02-01"])
    end = pd.to_datetime(["2026-01-06", "2026-01-09", "2026-01-10", "2026-02-03"])
    s = np.array([[5.0, 1.0], [5.0, np.nan], [4.0, np.nan], [5.0, 2.0]])
    plan = plan_staff(s, d, end, max_concurrent=1)
    a = plan.assignment
    assert a[3] == 0  # February is free
    # class 1 overlaps both 0 and 2: staff 0 can run 0 and 2, or 1 alone
    assert (a[0] == 0 and a[2] == 0 and a[1] == -1) or (a[1] == 0 and a[0] == 1)
    assert all(u.reason == "busy_on_date" for u in plan.unfilled)
    two = plan_staff(s, d, end, max_concurrent=2)
    assert (two.assignment[:3] >= 0).all()
    capped = plan_staff(s, d, end, max_concurrent=2, max_classes=[1, 1])
    assert capped.n_filled == 2
    with pytest.raises(ValueError, match="ends before"):
        plan_staff(s, end, d)


def test_empty_batches_and_missing_tables_are_plain_answers(split, teacher_model, staff_model):
    from sklearn.exceptions import NotFittedError

    T, train, reserve = split
    assert teacher_model.rank([], COHORT, k=3).ids.shape == (0, 3)
    cohorts = pd.DataFrame(columns=list(COHORT)).astype(float)
    assert staff_model.rank(cohorts, k=3).ids.shape == (0, 3)
    none = pd.DataFrame(
        {c: pd.Series(dtype="datetime64[ns]") for c in ("start_on", "end_on")}
    ).assign(class_id=pd.Series(dtype=object))
    table, plan = staff_model.plan(none, cohorts)
    assert table.empty and plan.assignment.shape == (0,)
    for model, table_name in ((TeacherMatcher(), "staff_ratings"), (StaffMatcher(), "cadres")):
        tables = {k: v for k, v in train.items() if k != table_name}
        with pytest.raises(ValueError, match=f"needs the {table_name} table"):
            model.fit(tables, reserve, T)
    with pytest.raises(NotFittedError):
        StaffMatcher().predict_rating(["S0001"], COHORT)
    with pytest.raises(NotFittedError):
        TeacherMatcher().predict_rating(["T0001"], "TP01", COHORT)


def test_a_staff_plan_cut_short_by_the_time_limit_still_reads_the_scores():
    """Before: a time-out fell back to a plan that ignores the scores (or an empty one)."""
    rng = np.random.default_rng(0)
    n_c, n_s = 150, 40
    start = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 120, n_c), unit="D")
    end = start + pd.to_timedelta(rng.integers(2, 20, n_c), unit="D")
    s = rng.normal(3.0, 0.5, (n_c, n_s))
    best = plan_staff(s, start, end, 1, time_limit=60)
    short = plan_staff(s, start, end, 1, time_limit=1e-4)
    assert best.status == "optimal" and short.status == "time_limit"
    on, bon = short.assignment >= 0, best.assignment >= 0
    assert on.sum() == bon.sum() == n_c  # every class still gets someone
    got = s[np.flatnonzero(on), short.assignment[on]].sum()
    assert got >= 0.97 * s[np.flatnonzero(bon), best.assignment[bon]].sum()
    # never two overlapping classes for one person (the plan was checked on return, too)
    for t in np.unique(short.assignment):
        mine = np.flatnonzero(short.assignment == t)
        for i, j in itertools.combinations(mine, 2):
            assert end[i] < start[j] or end[j] < start[i]
