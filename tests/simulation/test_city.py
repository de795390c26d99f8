"""The clean synthetic city (every realism switch off): determinism, the contract, the truth.

These describe the processes themselves; tests/simulation/test_realism.py covers the switches.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ganxun.simulation as syn
from ganxun.features import contracts
from ganxun.features.contracts import RANKS
from ganxun.simulation import choices
from ganxun.simulation.city import _Simulation


@pytest.fixture(scope="module")
def city() -> syn.City:
    return syn.generate("tiny", seed=0, realism=False)


def _rollcall_hours(city: syn.City) -> pd.Series:
    e = city.tables["enrollments"]
    hours = e[e["source"] == "rollcall"].groupby("cadre_id")["hours"].sum()
    return hours.reindex(city.tables["cadres"]["cadre_id"], fill_value=0.0)


def _main_topic(city: syn.City) -> pd.Series:
    ct = city.tables["course_topics"].sort_values(["course_id", "weight"], ascending=[True, False])
    return ct.drop_duplicates("course_id").set_index("course_id")["topic_id"]


# --- determinism and the contract ----------------------------------------------------------------


def test_same_seed_gives_identical_tables_and_truth(city):
    again = syn.generate("tiny", seed=0, realism=False)
    for name, df in city.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name], obj=name)
    np.testing.assert_array_equal(city.truth["mastery"], again.truth["mastery"])
    pd.testing.assert_frame_equal(city.truth["courses"], again.truth["courses"])


def test_different_seed_gives_different_city(city):
    other = syn.generate("tiny", seed=1, realism=False)
    assert not city.tables["enrollments"].equals(other.tables["enrollments"])
    assert not np.array_equal(city.truth["mastery"][0], other.truth["mastery"][0])


def test_unknown_scale_names_the_allowed_ones():
    with pytest.raises(ValueError, match="tiny.*city.*province"):
        syn.generate("country")


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_contract_validation_finds_no_problem(seed, city):
    generated = city if seed == 0 else syn.generate("tiny", seed=seed, realism=False)
    report = contracts.validate(generated.tables)
    assert [str(p) for p in report.problems] == []
    assert all(len(report.tables[name]) == len(df) for name, df in generated.tables.items())


def test_every_table_has_exactly_the_contract_columns(city):
    # the clean city has every required table, without the optional columns of contract v2
    required = [name for name, spec in contracts.TABLES.items() if spec.required]
    assert list(city.tables) == required
    v2 = {("courses", "mandatory"), ("classes", "mandatory"), ("responses", "phase")}
    for name in required:
        columns = [c for c in contracts.TABLES[name].columns if (name, c) not in v2]
        assert list(city.tables[name].columns) == columns, name
    for name in ("enrollments", "responses", "course_ratings", "staff_ratings", "class_sessions"):
        assert len(city.tables[name]) > 0, name


def test_ids_dates_and_lists_have_their_shapes(city):
    t = city.tables
    patterns = {
        ("units", "unit_id"): r"U\d{4}",
        ("cadres", "cadre_id"): r"C\d{6}",
        ("institutions", "institution_id"): r"I\d{3}",
        ("teachers", "teacher_id"): r"T\d{4}",
        ("staff", "staff_id"): r"S\d{4}",
        ("courses", "course_id"): r"K\d{5}",
        ("classes", "class_id"): r"B\d{5}",
        ("items", "item_id"): r"Q\d{5}",
    }
    for (table, col), pattern in patterns.items():
        assert t[table][col].str.fullmatch(pattern).all(), (table, col)
    assert t["enrollments"]["enrolled_on"].dtype == "datetime64[ns]"
    assert (t["enrollments"]["enrolled_on"] == t["enrollments"]["enrolled_on"].dt.normalize()).all()
    assert (
        t["classes"]["target_ranks"]
        .map(lambda r: isinstance(r, tuple) and set(r) <= set(RANKS))
        .all()
    )
    assert "name" not in t["cadres"].columns
    end = pd.Timestamp(city.truth["params"]["end"])
    assert end == pd.Timestamp("2026-10-31")
    assert t["enrollments"]["completed_on"].max() <= end
    assert pd.Timestamp(city.truth["params"]["start"]) == pd.Timestamp("2024-11-01")


def test_progress_is_reported_once_per_month():
    calls = []
    syn.generate(
        "tiny", seed=3, progress=lambda done, total: calls.append((done, total)), realism=False
    )
    assert calls == [(i + 1, 24) for i in range(24)]


# --- truth ---------------------------------------------------------------------------------------


def test_truth_has_every_key_in_table_order(city):
    truth, t = city.truth, city.tables
    n_months = len(truth["months"])
    assert truth["mastery"].dtype == np.float32
    assert truth["mastery"].shape == (n_months + 1, len(t["cadres"]), len(contracts.TOPICS))
    assert list(truth["cadre_ids"]) == list(t["cadres"]["cadre_id"])
    assert truth["topic_ids"] == list(contracts.TOPICS)
    assert truth["cadre_prefs"].shape == (len(t["cadres"]), 8)
    assert truth["course_factors"].shape == (len(t["courses"]), 8)
    assert list(truth["courses"]["course_id"]) == list(t["courses"]["course_id"])
    assert len(truth["teacher_quality"]) == len(t["teachers"]) * len(contracts.TOPICS)
    assert truth["months"][0] == pd.Timestamp("2024-11-01")
    params = json.loads(json.dumps(truth["params"]))
    assert params["split_date"] == "2026-05-01"


def test_mastery_stays_inside_the_unit_interval(city):
    m = city.truth["mastery"]
    assert np.isfinite(m).all()
    assert m.min() > 0.0 and m.max() < 1.0
    assert 0.35 < m[0].mean() < 0.55


def test_reissues_repeat_an_older_course(city):
    courses = city.tables["courses"].set_index("course_id")
    truth = city.truth["courses"].dropna(subset=["reissue_of"])
    assert len(truth) > 0
    topics = city.tables["course_topics"].groupby("course_id")["topic_id"].apply(frozenset)
    for new, old in zip(truth["course_id"], truth["reissue_of"], strict=True):
        assert courses.at[new, "title"] == courses.at[old, "title"] + "（第二版）"
        assert courses.at[new, "published_on"] >= courses.at[old, "published_on"]
        assert topics[new] == topics[old]


def test_history_over_selects_a_minority_for_rollcall(city):
    hours = _rollcall_hours(city).sort_values(ascending=False)
    top = hours.iloc[: len(hours) // 10].sum() / hours.sum()
    assert top >= 0.30


def test_training_raises_mastery_on_the_trained_topic(city):
    t, truth = city.tables, city.truth
    m = truth["mastery"]
    e = t["enrollments"]
    better = 0
    for k, topic in enumerate(truth["topic_ids"]):
        ct = t["course_topics"]
        w = ct[ct["topic_id"] == topic].set_index("course_id")["weight"]
        hours = (e["hours"] * e["course_id"].map(w).fillna(0.0)).groupby(e["cadre_id"]).sum()
        hours = hours.reindex(truth["cadre_ids"], fill_value=0.0).to_numpy()
        gain = m[-1, :, k] - m[0, :, k]
        trained = hours >= np.quantile(hours[hours > 0], 0.5)
        if (hours == 0).sum() >= 5:
            better += gain[trained].mean() > gain[hours == 0].mean()
    assert better >= 8


def test_units_are_weak_on_different_topics(city):
    offsets = city.truth["units"].pivot(index="unit_id", columns="topic_id", values="offset")
    assert offsets.idxmin(axis=1).nunique() >= 3
    m0 = pd.DataFrame(city.truth["mastery"][0], columns=city.truth["topic_ids"])
    m0["unit_id"] = city.tables["cadres"]["unit_id"].to_numpy()
    assert m0.groupby("unit_id").mean().idxmin(axis=1).nunique() >= 3


def test_teacher_scores_follow_true_teacher_quality(city):
    t = city.tables
    cr = t["course_ratings"].dropna(subset=["teacher_id"])
    rank = t["cadres"].set_index("cadre_id")["rank"].map(RANKS.index)
    expected = syn.true_teacher_rating(
        city.truth,
        cr["teacher_id"],
        _main_topic(city).loc[cr["course_id"]],
        rank.loc[cr["cadre_id"]],
    )
    assert np.corrcoef(cr["teacher_score"].astype(float), expected)[0, 1] > 0.3
    assert np.corrcoef(cr["course_score"].astype(float), expected)[0, 1] > 0.1


def test_staff_scores_follow_true_staff_quality(city):
    sr = city.tables["staff_ratings"]
    expected = syn.true_staff_rating(city.truth, sr["staff_id"], 2.0)
    assert np.corrcoef(sr["score"].astype(float), expected)[0, 1] > 0.1


def test_lenient_raters_rate_higher(city):
    leniency = city.truth["cadres"].set_index("cadre_id")["leniency"]
    cr = city.tables["course_ratings"]
    lenient = leniency.loc[cr["cadre_id"]].to_numpy()
    assert (
        cr["course_score"][lenient > 0.5].mean() > cr["course_score"][lenient < -0.5].mean() + 0.5
    )


def test_exam_accuracy_is_moderate(city):
    accuracy = city.tables["responses"]["correct"].mean()
    assert 0.45 < accuracy < 0.8


def test_post_exam_beats_pre_exam(city):
    r = city.tables["responses"].dropna(subset=["class_id"])
    start = city.tables["classes"].set_index("class_id")["start_on"]
    phase = np.where(
        r["answered_on"].to_numpy() == start.loc[r["class_id"]].to_numpy(), "pre", "post"
    )
    by_class = r.groupby([r["class_id"], phase])["correct"].mean().unstack()
    assert (by_class["post"] - by_class["pre"]).mean() > 0.03


def test_rollcall_members_hold_a_target_rank(city):
    t = city.tables
    e = t["enrollments"].query("source == 'rollcall'")
    rank = t["cadres"].set_index("cadre_id")["rank"].loc[e["cadre_id"]].to_numpy()
    targets = t["classes"].set_index("class_id")["target_ranks"].loc[e["class_id"]].to_numpy()
    assert all(r in ts for r, ts in zip(rank, targets, strict=True))
    kind = t["classes"].set_index("class_id")["kind"].loc[e["class_id"]]
    assert (kind == "rollcall").all()


def test_no_cadre_completes_a_course_twice_through_electives(city):
    e = city.tables["enrollments"]
    done = e[(e["source"] == "self") & e["completed_on"].notna()]
    assert not done.duplicated(["cadre_id", "course_id"]).any()
    assert (done["progress"] == 1.0).all()
    assert e[e["completed_on"].isna()]["progress"].lt(1.0).all()


def test_elective_classes_stay_within_capacity(city):
    e = city.tables["enrollments"].dropna(subset=["class_id"])
    members = e.groupby("class_id")["cadre_id"].nunique()
    capacity = city.tables["classes"].set_index("class_id")["capacity"]
    assert (members <= capacity.loc[members.index]).all()


# --- helpers for evaluators ----------------------------------------------------------------------


def test_choice_utility_is_the_simulators_utility(monkeypatch):
    captured = {"calls": 0}
    original = _Simulation._choose

    def spy(self, active, n_choice, pub, promoted):  # called once per month
        captured["calls"] += 1
        if captured["calls"] == 10:
            p = self.p
            gm = choices.group_matrix(self.peer, self.group_size, promoted[2], p)
            gm += choices.course_scalar(self.k_quality, self.pop, self.k_hours, self.n, p)[None, :]
            gap = np.maximum(0.0, self.target[self.c_rank, self.c_cat] - self.m)
            x = choices.cadre_side(self.prefs, gap, self.c_age, p)
            captured["u"] = x @ self.y.T + gm[self.group]
            captured["month"] = 9
        return original(self, active, n_choice, pub, promoted)

    monkeypatch.setattr(_Simulation, "_choose", spy)
    city = syn.generate("tiny", seed=2, realism=False)
    truth = city.truth
    at = truth["months"][captured["month"]]
    ids, u = syn.choice_utility(truth, city.tables, truth["cadre_ids"], at)
    assert list(ids) == list(city.tables["courses"]["course_id"])
    finite = np.isfinite(u)
    assert 0.1 < finite.mean() < 1.0
    np.testing.assert_allclose(u[finite], captured["u"][finite], atol=1e-4)
    unpublished = (city.tables["courses"]["published_on"] > at).to_numpy()
    assert np.isneginf(u[:, unpublished]).all()


def test_classes_are_published_before_they_start_mostly_in_the_annual_plan(city):
    cl = city.tables["classes"]
    assert cl["published_on"].notna().all()
    notice = (cl["start_on"] - cl["published_on"]).dt.days
    assert (notice >= 14).all()  # so published_on <= start_on, by two weeks at least
    # the rest: the annual plans, one date per year around the turn of the year, for most classes
    plan = cl[notice > 56]
    dates = plan["published_on"]
    assert all(d.month == 12 and d.day >= 14 or d.month == 1 and d.day <= 10 for d in dates)
    assert (plan.groupby(plan["start_on"].dt.year)["published_on"].nunique() == 1).all()
    assert (dates < plan["start_on"].dt.to_period("Y").dt.start_time + pd.Timedelta(days=10)).all()
    assert 0.4 < len(plan) / len(cl) < 0.9


def test_publication_dates_leave_every_other_table_and_truth_unchanged(city, monkeypatch):
    def without(self):  # no publication stream at all: the date is the start
        self.b_published = self.b_start

    monkeypatch.setattr(_Simulation, "_publication", without)
    bare = syn.generate("tiny", seed=0, realism=False)
    for name, df in city.tables.items():
        other = bare.tables[name]
        if name == "classes":
            assert (other["published_on"] == other["start_on"]).all()
            assert not df["published_on"].equals(other["published_on"])
            df, other = df.drop(columns="published_on"), other.drop(columns="published_on")
        assert df.equals(other), name
    np.testing.assert_array_equal(city.truth["mastery"], bare.truth["mastery"])
    for key in ("cadres", "courses", "items", "teachers", "staff", "units", "teacher_quality"):
        assert city.truth[key].equals(bare.truth[key]), key
    assert city.truth["params"] == bare.truth["params"]


def test_choice_probabilities_are_the_softmax_of_the_utility(city):
    truth, tables = city.truth, city.tables
    cadres = truth["cadre_ids"][:50]
    months = pd.DatetimeIndex(truth["months"])
    at = months[14]
    ids, u = syn.choice_utility(truth, tables, cadres, at)
    ids_p, p = syn.choice_probabilities(truth, tables, cadres, [at], at)
    assert list(ids_p) == list(ids)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    finite = np.isfinite(u)
    # within a month, the log-probability is the utility up to a constant per cadre
    shift = np.where(finite, np.log(np.maximum(p, 1e-300)) - u, np.nan)
    np.testing.assert_allclose(np.nanmax(shift, 1) - np.nanmin(shift, 1), 0.0, atol=1e-6)
    # over a window, the months add up: each with its own open classes
    _, p2 = syn.choice_probabilities(truth, tables, cadres, months[14:16], at)
    _, second = syn.choice_probabilities(truth, tables, cadres, [months[15]], at)
    np.testing.assert_allclose(p2, p + second)
    assert not np.allclose(p, second)


def test_choice_probabilities_weight_the_promoted_courses_of_a_sampled_set(city):
    truth = dict(city.truth)
    truth["params"] = {**truth["params"], "consideration_set": 20, "promoted_draws": 5}
    tables = city.tables
    cadres = truth["cadre_ids"][:20]
    at = pd.DatetimeIndex(truth["months"])[14]
    _, u = syn.choice_utility(truth, tables, cadres, at)
    _, p = syn.choice_probabilities(truth, tables, cadres, [at], at)
    _, promoted = choices.class_bonus(
        tables, tables["courses"]["course_id"].to_numpy(), at, truth["params"]
    )
    assert promoted.any() and not promoted.all()
    offered = np.isfinite(u).all(axis=0)
    shift = np.log(p[:, offered]) - u[:, offered]  # log of the chance to be considered + const
    gap = shift[:, promoted[offered]].mean(1) - shift[:, ~promoted[offered]].mean(1)
    assert (gap > 0.1).all()


def test_p_correct_is_calibrated_on_self_tests(city):
    truth = city.truth
    r = city.tables["responses"]
    r = r[r["class_id"].isna()]
    month = pd.DatetimeIndex(truth["months"]).searchsorted(r["answered_on"], side="right") - 1
    cadre = pd.Index(truth["cadre_ids"]).get_indexer(r["cadre_id"])
    p = syn.p_correct(truth, city.tables["items"], cadre, r["item_id"].to_numpy(), month)
    assert p.shape == (len(r),)
    assert abs(p.mean() - r["correct"].mean()) < 0.03
    hi, lo = r["correct"].to_numpy()[p > 0.7].mean(), r["correct"].to_numpy()[p < 0.3].mean()
    assert hi > lo + 0.4


def test_expected_gain_grows_with_hours_learning_rate_and_teacher(city):
    truth = city.truth
    m = truth["mastery"][0][0]
    w = np.zeros(len(truth["topic_ids"]))
    w[2] = 1.0
    base = syn.expected_gain(truth, m, w, 8.0, 0.02)
    assert 0.0 < base < (1.0 - m[2])
    assert syn.expected_gain(truth, m, w, 16.0, 0.02) > base
    assert syn.expected_gain(truth, m, w, 8.0, 0.04) > base
    effect = syn.teacher_effect(truth, 4.5)
    assert effect > 1.0
    assert syn.expected_gain(truth, m, w, 8.0, 0.02, teacher_effect=float(effect)) > base


def test_true_ratings_penalise_cohort_misfit(city):
    truth = city.truth
    teachers = truth["teachers"]
    t = teachers.iloc[0]
    topic = truth["topic_ids"][0]
    near = syn.true_teacher_rating(truth, t["teacher_id"], topic, t["pref_rank_level"])
    far_level = 0.0 if t["pref_rank_level"] > 2.5 else 5.0
    far = syn.true_teacher_rating(truth, t["teacher_id"], topic, far_level)
    assert near >= far
    ratings = syn.true_staff_rating(truth, truth["staff"]["staff_id"], 2.0)
    assert ratings.shape == (len(truth["staff"]),)
    assert ((ratings >= 1) & (ratings <= 5)).all()
