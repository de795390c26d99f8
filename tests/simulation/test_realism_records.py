"""The realism switches of how things are measured and kept: ratings, exams, traits, records.

Also: a switch whose process draws from a stream of its own leaves the rest of the city as it
was (``inflated_ratings``, ``guessing``, ``exam_formats``, ``aliases``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import ganxun.simulation as syn
from ganxun.features.contracts import validate


@pytest.fixture(scope="module")
def clean(tiny_city):
    return tiny_city


def _only(switch: str, seed: int = 0) -> syn.City:
    return syn.generate("tiny", seed=seed, realism=[switch])


def _changed(city: syn.City, clean: syn.City) -> set[str]:
    return {
        name
        for name, df in city.tables.items()
        if name not in clean.tables or not df.equals(clean.tables[name])
    }


# --- ratings -------------------------------------------------------------------------------------


def test_inflated_ratings_are_mostly_four_or_five_and_still_follow_leniency(tiny_real):
    cr, sr = tiny_real.tables["course_ratings"], tiny_real.tables["staff_ratings"]
    scores = pd.concat([cr["course_score"], cr["teacher_score"].dropna(), sr["score"]])
    assert (scores >= 4).mean() >= 0.9
    assert (cr["course_score"] == 5).mean() > 0.6  # a ceiling: most are 5
    leniency = tiny_real.truth["cadres"].set_index("cadre_id")["leniency"]
    rated = validate({"cadre_aliases": tiny_real.tables["cadre_aliases"], **tiny_real.tables})
    cr = rated.tables["course_ratings"]
    lenient = leniency.loc[cr["cadre_id"]].to_numpy()
    five = (cr["course_score"] == 5).to_numpy()
    assert five[lenient > 0.5].mean() > five[lenient < -0.5].mean() + 0.1


def test_inflated_ratings_change_only_the_scores(clean):
    city = _only("inflated_ratings")
    assert _changed(city, clean) == {"course_ratings", "staff_ratings"}
    for name, col in (("course_ratings", "course_score"), ("staff_ratings", "score")):
        a, b = city.tables[name], clean.tables[name]
        assert a.drop(columns=[col, "teacher_score"], errors="ignore").equals(
            b.drop(columns=[col, "teacher_score"], errors="ignore")
        )
        # the ordinal map keeps the order of the latent scores: never lower than clean - 1
        assert (a[col] >= b[col]).mean() > 0.9
    assert city.truth["teachers"].equals(clean.truth["teachers"])


# --- exams ---------------------------------------------------------------------------------------


def test_guessing_keeps_the_weakest_near_the_floor_on_hard_items(clean):
    city = _only("guessing")
    items = city.truth["items"]
    assert {"format", "guessing"} <= set(items.columns)
    tf = items[items["format"] == "true_false"]["guessing"]
    assert tf.between(0.4, 0.6).all()
    mc = items[items["format"] == "multiple_choice"]["guessing"]
    assert mc.between(0.15, 0.3).all()
    m0 = city.truth["mastery"][0].mean(axis=1)
    weakest = pd.Index(city.truth["cadre_ids"])[m0 <= np.quantile(m0, 0.1)]
    hard = items[items["difficulty"] > items["difficulty"].quantile(0.9)].set_index("item_id")
    for c, floor_expected in ((city, True), (clean, False)):
        r = c.tables["responses"]  # the same answers in both cities, drawn with or without
        sub = r[r["cadre_id"].isin(weakest) & r["item_id"].isin(hard.index)]
        floor = hard["guessing"].loc[sub["item_id"]].mean()
        if floor_expected:  # never below the floor, and not far above it
            assert floor - 0.05 < sub["correct"].mean() < floor + 0.15
        else:
            assert sub["correct"].mean() < floor - 0.1
    assert _changed(city, clean) == {"responses"}


def test_p_correct_includes_the_guessing_floor(tiny_real):
    truth, t = tiny_real.truth, tiny_real.tables
    r = validate(t).tables["responses"]
    r = r[r["class_id"].isna()]  # self-tests: drawn from the state at the month's start
    month = pd.DatetimeIndex(truth["months"]).searchsorted(r["answered_on"], side="right") - 1
    cadre = pd.Index(truth["cadre_ids"]).get_indexer(r["cadre_id"])
    p = syn.p_correct(truth, t["items"], cadre, r["item_id"].to_numpy(), month)
    assert abs(p.mean() - r["correct"].mean()) < 0.03
    floor = truth["items"].set_index("item_id")["guessing"].loc[r["item_id"]].to_numpy()
    assert (p >= floor).all()


def test_weaker_less_active_cadres_take_fewer_self_tests(clean):
    city = _only("selective_self_tests", seed=1)
    other = syn.generate("tiny", seed=1, realism=False)
    for c, strong in ((city, True), (other, False)):
        r = c.tables["responses"]
        tests = r[r["class_id"].isna()].groupby("cadre_id")["answered_on"].nunique()
        tests = tests.reindex(c.truth["cadre_ids"], fill_value=0)
        rho = spearmanr(tests, c.truth["mastery"][0].mean(axis=1)).statistic
        assert (rho > 0.25) if strong else (abs(rho) < 0.15)


def test_exam_formats_keep_some_classes_as_totals_and_move_the_exam_days(tiny_real, clean):
    t, truth = tiny_real.tables, tiny_real.truth
    classes = t["classes"].set_index("class_id")
    rollcall = classes[classes["kind"] == "rollcall"].index
    r = t["responses"]
    with_answers = set(r["class_id"].dropna())
    scores = t["exam_scores"]
    totals_only = set(scores["class_id"]) - with_answers
    assert len(totals_only) >= 2 and set(scores["class_id"]) <= set(rollcall)
    assert (scores["score"] <= scores["max_score"]).all()
    assert scores["topic_id"].isna().any() and scores["topic_id"].notna().any()
    exams = truth["exams"]
    kept = exams.groupby("class_id")["phase"].agg(set)
    assert (kept == {"post"}).any() and (kept == {"pre", "post"}).any()  # no pre-test: post only
    rc = r.dropna(subset=["class_id"])
    on_day = rc["answered_on"].isin(classes["start_on"].loc[rc["class_id"]]) | rc[
        "answered_on"
    ].isin(classes["end_on"].loc[rc["class_id"]])
    assert on_day.mean() < 0.2
    assert set(r["phase"].dropna()) == {"pre", "post", "final", "self"}
    assert r["phase"].isna().mean() > 0.2
    labelled = rc[rc["phase"].isin(["pre", "post"])]
    by_phase = labelled.groupby("phase")["correct"].mean()
    assert by_phase["post"] > by_phase["pre"]
    effects = truth["class_effects"]
    assert set(effects["class_id"]) <= set(rollcall) and (effects["mean_gain"] >= 0).all()
    assert effects["mean_gain"].mean() > 0
    city = _only("exam_formats")
    assert _changed(city, clean) == {"responses", "exam_scores"}


# --- traits --------------------------------------------------------------------------------------


def test_rollcall_concentrates_on_reserve_and_able_cadres():
    city = _only("concentrated_rollcall")
    cadres = city.truth["cadres"]
    assert 0.08 <= cadres["reserve"].mean() <= 0.12
    e = city.tables["enrollments"]
    hours = e[e["source"] == "rollcall"].groupby("cadre_id")["hours"].sum()
    hours = hours.reindex(cadres["cadre_id"], fill_value=0.0).to_numpy()
    assert hours[cadres["reserve"].to_numpy()].sum() / hours.sum() > 0.3
    rho = spearmanr(cadres["ability"], cadres["rollcall_propensity"]).statistic
    assert rho > 0.2


def test_correlated_traits_keep_their_distributions(clean):
    city = _only("correlated_traits")
    a, b = city.truth["cadres"], clean.truth["cadres"]
    for col in ("ability", "learning_rate", "activity"):  # (propensity: times the unit's favour)
        assert np.allclose(np.sort(a[col]), np.sort(b[col]))
    assert 0.2 < spearmanr(a["ability"], a["rollcall_propensity"]).statistic < 0.5
    assert 0.35 < spearmanr(a["ability"], a["learning_rate"]).statistic < 0.65
    assert abs(spearmanr(b["ability"], b["learning_rate"]).statistic) < 0.15
    params = city.truth["params"]["correlated_traits"]
    assert np.allclose(np.diag(params["correlation"]), 1.0)


# --- records -------------------------------------------------------------------------------------


def test_a_course_is_reissued_under_a_title_of_its_own(tiny_real):
    courses = tiny_real.tables["courses"].set_index("course_id")
    reissues = tiny_real.truth["courses"].dropna(subset=["reissue_of"])
    renamed = [
        (new, old)
        for new, old in zip(reissues["course_id"], reissues["reissue_of"], strict=True)
        if not courses.at[new, "title"].startswith(courses.at[old, "title"])
    ]
    assert len(renamed) == 1
    new, old = renamed[0]
    assert courses.at[new, "published_on"] > courses.at[old, "published_on"]
    topics = tiny_real.tables["course_topics"].groupby("course_id")["topic_id"].apply(frozenset)
    assert topics[new] == topics[old]
    assert courses.loc[new, ["mode", "hours", "level"]].equals(
        courses.loc[old, ["mode", "hours", "level"]]
    )


def test_aliases_cover_every_cadre_and_map_back(tiny_real, clean):
    aliases = tiny_real.tables["cadre_aliases"]
    assert set(aliases["source_system"]) == {"lms", "exam", "eval"}
    assert aliases.groupby("source_system")["cadre_id"].nunique().eq(300).all()
    assert not aliases["source_id"].duplicated().any()
    assert not aliases["source_id"].isin(tiny_real.tables["cadres"]["cadre_id"]).any()
    for name in ("responses", "course_ratings"):
        foreign = ~tiny_real.tables[name]["cadre_id"].str.match(r"C\d{6}$")
        assert 0.2 < foreign.mean() < 0.6, name
    city = _only("aliases")
    assert _changed(city, clean) == {
        "cadre_aliases",
        "responses",
        "course_ratings",
        "staff_ratings",
    }
    report = validate(city.tables)
    assert report.problems == []
    for name in ("responses", "course_ratings", "staff_ratings"):
        pd.testing.assert_series_equal(
            report.tables[name]["cadre_id"].reset_index(drop=True),
            clean.tables[name]["cadre_id"].astype(object),
            check_names=False,
        )
