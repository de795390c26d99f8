"""The realism switches: the plumbing, determinism, validation, careers and obligations.

Each switch must change what it says and leave its truth beside it; the realistic tiny city
(``tiny_real``, every switch on) must validate with exactly the dirt it was given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ganxun.simulation as syn
from ganxun.features.contracts import MODES, RANKS, TABLES, validate
from ganxun.simulation import choices
from ganxun.simulation.city import _Simulation
from ganxun.simulation.realism import REALISM_SWITCHES, resolve_realism
from tests.simulation.test_realism_off import fingerprint

EVENT_DATES = {
    "enrollments": ("enrolled_on", "completed_on"),
    "responses": ("answered_on",),
    "exam_scores": ("taken_on",),
    "course_ratings": ("rated_on",),
    "staff_ratings": ("rated_on",),
}


@pytest.fixture(scope="module")
def report(tiny_real):
    return validate(tiny_real.tables)


# --- the switches themselves ---------------------------------------------------------------------


def test_every_switch_has_a_one_line_meaning():
    assert len(REALISM_SWITCHES) == 10
    assert all(isinstance(v, str) and "\n" not in v for v in REALISM_SWITCHES.values())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (True, tuple(REALISM_SWITCHES)),
        ("all", tuple(REALISM_SWITCHES)),
        (False, ()),
        ("none", ()),
        ("dirt,careers", ("careers", "dirt")),
        (["guessing"], ("guessing",)),
    ],
)
def test_switches_resolve_in_their_own_order(given, expected):
    assert resolve_realism(given) == expected


def test_an_unknown_switch_is_named():
    with pytest.raises(ValueError, match="bogus.*careers"):
        syn.generate("tiny", realism=["careers", "bogus"])


def test_the_switches_and_their_constants_are_in_the_truth(tiny_real):
    params = tiny_real.truth["params"]
    assert params["realism"] == list(REALISM_SWITCHES)
    assert all(isinstance(params[name], dict) for name in REALISM_SWITCHES)


def test_the_realistic_city_is_deterministic_per_seed(tiny_real):
    again = syn.generate("tiny", seed=0)
    assert fingerprint(again) == fingerprint(tiny_real)
    other = syn.generate("tiny", seed=1)
    assert fingerprint(other)["table:enrollments"] != fingerprint(tiny_real)["table:enrollments"]


def test_the_realistic_city_has_every_table_and_column_of_the_contract(tiny_real):
    assert list(tiny_real.tables) == list(TABLES)
    for name, spec in TABLES.items():
        assert list(tiny_real.tables[name].columns) == list(spec.columns), name
        assert len(tiny_real.tables[name]) > 0, name


def test_validation_reports_exactly_the_duplicates_put_in(tiny_real, report):
    found = pd.DataFrame(
        [(p.table, p.row, p.reason) for p in report.problems], columns=["table", "row", "reason"]
    )
    dup = tiny_real.truth["duplicates"]
    assert len(dup) > 0 and not report.fatal
    assert sorted(zip(found["table"], found["row"], strict=True)) == sorted(
        zip(dup["table"], dup["row"], strict=True)
    )
    expected = "exact duplicate of row " + dup["duplicate_of"].astype(str)
    assert sorted(found["reason"]) == sorted(expected)
    for name, df in tiny_real.tables.items():  # nothing else set aside; every alias mapped
        assert len(report.tables[name]) == len(df) - (dup["table"] == name).sum(), name
    cadres = set(tiny_real.tables["cadres"]["cadre_id"])
    for name in ("responses", "exam_scores", "course_ratings", "staff_ratings"):
        assert set(report.tables[name]["cadre_id"]) <= cadres, name


@pytest.mark.parametrize("seed", [1, 7])
def test_other_seeds_validate_with_only_their_duplicates(seed):
    city = syn.generate("tiny", seed=seed)
    problems = validate(city.tables).problems
    assert len(problems) == len(city.truth["duplicates"]) > 0
    assert all(p.reason.startswith("exact duplicate of row") for p in problems)


def test_the_choice_utility_is_the_simulators_with_every_switch_on(monkeypatch):
    month, captured = 13, {}  # December of the second year: after moves, a merger, a rush

    original = _Simulation._choose

    def spy(self, active, n_choice, pub, promoted):
        captured["calls"] = captured.get("calls", 0) + 1
        if captured["calls"] == month + 1:
            p = self.p
            gm = choices.group_matrix(self.peer, self.group_size, promoted[2], p)
            gm += choices.course_scalar(self.k_quality, self.pop, self.k_hours, self.n, p)[None]
            gap = np.maximum(0.0, self.target[self.c_rank, self.c_cat] - self.m)
            x = choices.cadre_side(self.prefs, gap, self.c_age, p)
            captured["u"] = x @ self.y.T + gm[self.group]
        return original(self, active, n_choice, pub, promoted)

    monkeypatch.setattr(_Simulation, "_choose", spy)
    city = syn.generate("tiny", seed=2)
    truth = city.truth
    assert len(city.tables["cadre_posts"]) > len(city.tables["cadres"])
    _, u = syn.choice_utility(truth, city.tables, truth["cadre_ids"], truth["months"][month])
    finite = np.isfinite(u)
    assert 0.1 < finite.mean() < 1.0
    np.testing.assert_allclose(u[finite], captured["u"][finite], atol=1e-4)
    mandatory = city.tables["courses"]["mandatory"].to_numpy(bool)
    assert np.isneginf(u[:, mandatory]).all()


# --- careers -------------------------------------------------------------------------------------


def _rank(values) -> np.ndarray:
    return pd.Index(RANKS).get_indexer(values)


def test_some_cadres_hold_several_posts_and_promotions_raise_rank_by_one(tiny_real):
    posts = tiny_real.tables["cadre_posts"].sort_values(["cadre_id", "from_on"])
    per_cadre = posts.groupby("cadre_id").size()
    assert set(per_cadre.index) == set(tiny_real.tables["cadres"]["cadre_id"])
    assert (per_cadre > 1).sum() >= 20
    same = posts["cadre_id"].eq(posts["cadre_id"].shift()).to_numpy()
    step = np.diff(_rank(posts["rank"]), prepend=0)[same]
    assert set(step) <= {0, 1} and (step == 1).any()
    # posts follow each other without gap or overlap
    gap = (posts["from_on"] - posts["to_on"].shift()).dt.days.to_numpy()[same]
    assert (gap == 1).all()
    promotions = tiny_real.truth["promotions"]
    assert (_rank(promotions["to_rank"]) == _rank(promotions["from_rank"]) + 1).all()


def test_the_cadre_table_shows_the_last_post_and_the_start_of_its_rank(tiny_real):
    posts = tiny_real.tables["cadre_posts"].sort_values(["cadre_id", "from_on"])
    last = posts.drop_duplicates("cadre_id", keep="last").set_index("cadre_id")
    cadres = tiny_real.tables["cadres"].set_index("cadre_id")
    for col in ("unit_id", "rank", "category"):
        assert (cadres[col] == last[col].reindex(cadres.index)).all(), col
    promotions = tiny_real.truth["promotions"].groupby("cadre_id")["promoted_on"].max()
    assert (cadres["appointed_on"].reindex(promotions.index) == promotions).all()


def test_leavers_and_hires_have_no_record_outside_their_service(tiny_real, report):
    cadres = tiny_real.truth["cadres"].set_index("cadre_id")
    assert cadres["left_on"].notna().sum() >= 3 and cadres["hired_on"].notna().sum() >= 5
    assert set(cadres["leave_reason"].dropna()) <= {"retirement", "resignation"}
    posts = tiny_real.tables["cadre_posts"].sort_values(["cadre_id", "from_on"])
    first = posts.drop_duplicates("cadre_id").set_index("cadre_id")
    last = posts.drop_duplicates("cadre_id", keep="last").set_index("cadre_id")
    hired = cadres["hired_on"].dropna()
    assert (first.loc[hired.index, "from_on"] == hired).all()
    pd.testing.assert_series_equal(
        last["to_on"], cadres["left_on"].reindex(last.index), check_names=False
    )
    for name, columns in EVENT_DATES.items():
        df = report.tables[name]
        left = cadres["left_on"].reindex(df["cadre_id"]).to_numpy()
        hire = cadres["hired_on"].reindex(df["cadre_id"]).to_numpy()
        for col in columns:
            day = df[col].to_numpy()
            assert not (day >= left).any(), (name, col)
            assert not (day < hire).any(), (name, col)


def test_the_merged_unit_has_no_post_after_the_merger(tiny_real):
    merger = tiny_real.truth["merger"].iloc[0]
    posts = tiny_real.tables["cadre_posts"]
    theirs = posts[posts["unit_id"] == merger["unit_id"]]
    assert len(theirs) > 0 and (theirs["to_on"] < merger["merged_on"]).all()
    moved = posts[(posts["from_on"] == merger["merged_on"])]
    assert (moved["unit_id"] == merger["into_unit_id"]).all()
    assert set(theirs["cadre_id"]) & set(moved["cadre_id"])


def test_the_promoted_are_likely_but_not_certainly_called_within_a_year():
    called = []  # a tiny city has a score of promotions: three seeds together
    for seed in (3, 4, 5):
        city = syn.generate("tiny", seed=seed, realism=["careers", "mandatory"])
        promotions = city.truth["promotions"]
        end = pd.Timestamp(city.truth["params"]["end"])
        full = promotions[promotions["promoted_on"] <= end - pd.Timedelta(days=365)]
        called.append((full["first_rollcall_on"] - full["promoted_on"]).dt.days <= 365)
    called = pd.concat(called)
    assert len(called) >= 30 and 0.4 <= called.mean() < 1.0
    classes = city.tables["classes"]
    induction = classes[classes["name"].str.contains("任职培训班")]
    assert len(induction) > 0 and induction["mandatory"].all()


def test_a_promotion_raises_the_post_target(tiny_real):
    pr = tiny_real.tables["post_requirements"]
    target = pr.groupby(["rank", "category"])["target"].mean()
    posts = tiny_real.tables["cadre_posts"].sort_values(["cadre_id", "from_on"])
    prev = posts.shift()
    up = (posts["cadre_id"] == prev["cadre_id"]) & (posts["rank"] != prev["rank"])
    assert up.sum() >= 10
    after = target.reindex(list(zip(posts["rank"][up], posts["category"][up], strict=True)))
    before = target.reindex(list(zip(prev["rank"][up], posts["category"][up], strict=True)))
    assert (after.to_numpy() - before.to_numpy()).mean() > 0.02


# --- obligations ---------------------------------------------------------------------------------


def test_every_cadre_in_service_gets_the_yearly_package(tiny_real):
    t, truth = tiny_real.tables, tiny_real.truth
    courses = t["courses"]
    package = courses[courses["mandatory"]]
    assert len(package) >= 3
    assert package["mode"].isin([MODES[1], MODES[2]]).all()
    assert (package["published_on"].dt.month == 1).all()
    e = t["enrollments"]
    m = e[e["source"] == "mandatory"]
    assert set(m["course_id"]) == set(package["course_id"])
    assert not e[e["source"] != "mandatory"]["course_id"].isin(package["course_id"]).any()
    year = 2026
    pkg = package[package["published_on"].dt.year == year]["course_id"]
    cadres = truth["cadres"].set_index("cadre_id")
    serving = cadres[
        ~(cadres["hired_on"] >= pd.Timestamp(year, 1, 1)) & ~(cadres["left_on"] <= f"{year}-02-28")
    ].index
    got = m[m["course_id"].isin(pkg)].groupby("cadre_id").size()
    assert (got.reindex(serving, fill_value=0) == len(pkg)).all()


def test_completion_of_the_package_varies_with_diligence(tiny_real):
    e = tiny_real.tables["enrollments"]
    m = e[e["source"] == "mandatory"]
    done = m["completed_on"].notna()
    assert 0.5 < done.mean() < 0.95
    assert ((m["progress"] == 1.0) == done).all()
    assert (m["hours"][~done] < m["hours"].max()).all()
    diligence = tiny_real.truth["cadres"].set_index("cadre_id")["diligence"]
    rate = done.groupby(m["cadre_id"]).mean()
    assert np.corrcoef(rate, diligence.loc[rate.index])[0, 1] > 0.2


def test_the_training_rules_are_the_2023_defaults(tiny_real):
    rules = tiny_real.tables["training_rules"].set_index("kind")
    assert rules.loc["脱产", "min_hours"] == 550 and rules.loc["脱产", "period_years"] == 5
    assert set(rules.loc["脱产", "ranks"]) == {"副处", "正处", "副厅"}
    assert rules.loc["集中", "min_hours"] == 90 and rules.loc["集中", "period_years"] == 1
    assert set(rules.loc["集中", "ranks"]) == {"科员", "副科", "正科"}
    assert rules.loc["脱产", "after_promotion_months"] == 12
    assert rules.loc["网络", "min_hours"] == 50


def test_the_year_end_rush_credits_hours_but_teaches_little(tiny_real):
    e = tiny_real.tables["enrollments"]
    mode = tiny_real.tables["courses"].set_index("course_id")["mode"]
    online = e[(e["source"] == "self") & e["course_id"].map(mode).isin([MODES[1], MODES[2]])]
    month = online["enrolled_on"].dt.month
    per_month = online.groupby(month)["hours"].sum() / online.groupby(month)["enrolled_on"].apply(
        lambda d: d.dt.to_period("M").nunique()
    )
    # the yearly plan delivers most hours now, so fewer cadres rush than when nothing was planned
    assert per_month.loc[12] > 1.4 * per_month.drop([11, 12]).mean()
    effects = tiny_real.truth["enrollment_effects"]
    rush = effects[effects["rush"]]
    assert len(rush) > 0 and rush["effective_share"].max() <= 0.2
    assert rush["enrolled_on"].dt.month.isin([11, 12]).all()
    package = effects[effects["source"] == "mandatory"]["effective_share"]
    assert 0.3 < package.mean() < 0.8


def test_every_new_post_changes_the_unit_rank_or_category(tiny_real):
    posts = tiny_real.tables["cadre_posts"].sort_values(["cadre_id", "from_on"])
    prev = posts.shift()
    same_cadre = posts["cadre_id"] == prev["cadre_id"]
    unchanged = (
        posts[["unit_id", "rank", "category"]] == prev[["unit_id", "rank", "category"]]
    ).all(axis=1)
    assert not (same_cadre & unchanged).any()
