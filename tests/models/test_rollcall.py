"""Rollcall ranker and roster optimiser: behaviour, hard constraints, infeasibility, quality."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from ganxun.features.cohorts import ReserveMatrix
from ganxun.features.contracts import RANKS
from ganxun.features.split import before as split_before
from ganxun.features.vocab import Vocabulary
from ganxun.models.rollcall import (
    ClassRequest,
    InfeasibleRoster,
    RollcallRanker,
    propose_roster,
    request_from_class,
)
from ganxun.simulation import expected_gain
from ganxun.simulation.choices import month_position
from ganxun.training.config import TrainConfig
from ganxun.training.fitting import fit_all


def _fit(tables, T):
    fitted = fit_all(tables, T, TrainConfig())
    reserve = ReserveMatrix(fitted.knowledge.reserve, fitted.catalog.cadres, fitted.catalog.topics)
    return reserve


@pytest.fixture(scope="module")
def early(tiny_city):
    """Fitted six months before the split, so that several rollcall classes are in the future."""
    T = pd.Timestamp(tiny_city.truth["params"]["split_date"]) - pd.DateOffset(months=6)
    train = split_before(tiny_city.tables, T)
    reserve = _fit(train, T)
    return T, train, reserve, RollcallRanker(random_state=0).fit(train, reserve, T)


# --- behaviour -----------------------------------------------------------------------------------


def test_recent_training_load_lowers_the_benefit(tiny_city):
    T = pd.Timestamp(tiny_city.truth["params"]["split_date"])
    train = dict(split_before(tiny_city.tables, T))
    cad = train["cadres"]
    me = cad[cad["rank"] == "副科"]["cadre_id"].iloc[0]
    twin = "C999999"
    year_ago = T - pd.DateOffset(years=1)
    enr = train["enrollments"]
    enr = enr[~((enr["cadre_id"] == me) & (enr["enrolled_on"] >= year_ago))]  # nothing last year
    mine = enr[enr["cadre_id"] == me].assign(cadre_id=twin)
    ct = train["course_topics"]
    away = ct.loc[~ct["topic_id"].isin(["TP03", "TP05"]), "course_id"]
    away = away[~away.isin(ct.loc[ct["topic_id"].isin(["TP03", "TP05"]), "course_id"])]
    courses = train["courses"]
    courses = courses[courses["course_id"].isin(set(away)) & (courses["published_on"] < year_ago)]
    load = pd.DataFrame(
        {
            "cadre_id": me,
            "course_id": courses["course_id"].iloc[:10].to_numpy(),
            "class_id": None,
            "source": "self",
            "enrolled_on": T - pd.Timedelta(days=100),
            "completed_on": T - pd.Timedelta(days=90),
            "progress": 1.0,
            "hours": 20.0,  # ten courses: 200 hours in the last 12 months
        }
    )
    train["enrollments"] = pd.concat([enr, mine, load], ignore_index=True)
    r = train["responses"]
    train["responses"] = pd.concat([r, r[r["cadre_id"] == me].assign(cadre_id=twin)])
    train["cadres"] = pd.concat([cad, cad[cad["cadre_id"] == me].assign(cadre_id=twin)])
    base = _fit(split_before(tiny_city.tables, T), T)
    ids = np.append(base.cadres.ids_, twin)
    values = np.vstack([base.values, base.values[base.cadres.one(me)]])
    reserve = ReserveMatrix(values, Vocabulary(ids), base.topics)
    model = RollcallRanker(random_state=0).fit(train, reserve, T)
    cand = model.candidates(ClassRequest({"TP03": 0.6, "TP05": 0.4}, ("副科",), capacity=10))
    row = cand.set_index("cadre_id")
    assert row.at[me, "recent_hours"] == pytest.approx(200.0)
    assert row.at[twin, "recent_hours"] == 0.0
    assert row.at[me, "benefit"] < row.at[twin, "benefit"]
    order = list(cand["cadre_id"])
    assert order.index(me) > order.index(twin)
    assert "近一年参训 200 学时" in row.at[me, "reasons"]
    assert "近一年未参训" in row.at[twin, "reasons"]


def test_candidates_carry_plain_reasons(early):
    *_, model = early
    cand = model.candidates(ClassRequest({"TP03": 1.0}, ("副科", "正科"), capacity=5))
    assert set(cand["rank"]) <= {"副科", "正科"}
    assert (np.diff(cand["benefit"]) <= 1e-12).all()
    for reasons in cand["reasons"]:
        assert reasons[0].startswith("缺口：法治素养 ") or reasons[0] == "班级专题无明显缺口"
        assert reasons[1] == "近一年未参训" or reasons[1].startswith("近一年参训 ")
    gap = cand[cand["gap"] > 0.01].iloc[0]
    assert gap["reasons"][0] == f"缺口：法治素养 {round(gap['gap'] * 100)} 分"


def test_a_roster_explained_lazily_says_the_same_as_one_explained_in_full(early):
    *_, model = early
    req = ClassRequest({"TP03": 0.7, "TP05": 0.3}, ("副科", "正科"), capacity=6, unit_quotas={})
    roster, report, cand = model.propose(req)
    lazy_roster, lazy_report, lazy = model.propose(req, explain_top=4)
    assert lazy_roster["cadre_id"].tolist() == roster["cadre_id"].tolist()
    assert lazy_roster["reasons"].tolist() == roster["reasons"].tolist()
    assert lazy_report == report
    assert lazy["reasons"].head(4).tolist() == cand["reasons"].head(4).tolist()
    assert all(len(r) == 0 for r in lazy["reasons"].iloc[4:])
    assert list(lazy.columns) == list(cand.columns)
    assert "reasons" not in model.candidates(req, explain=False)


def test_request_validation(early):
    *_, model = early
    with pytest.raises(ValueError, match="unknown topic"):
        model.candidates(ClassRequest({"TP99": 1.0}))
    with pytest.raises(ValueError, match="unknown ranks"):
        model.candidates(ClassRequest({"TP01": 1.0}, ("处长",)))


# --- the roster never breaks a constraint --------------------------------------------------------


def _random_case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    units = [f"U{i}" for i in range(6)]
    cand = pd.DataFrame(
        {
            "cadre_id": [f"C{i:04d}" for i in range(n)],
            "unit_id": rng.choice(units, n),
            "rank": rng.choice(RANKS, n),
            "benefit": np.round(rng.normal(0.2, 0.1, n), 3),
            "recent_hours": np.where(rng.random(n) < 0.3, 0.0, rng.exponential(60, n)),
        }
    )
    kwargs = {"capacity": int(rng.integers(1, 30))}
    if rng.random() < 0.7:
        kwargs["unit_quotas"] = {u: int(rng.integers(0, 8)) for u in units if rng.random() < 0.6}
    if rng.random() < 0.7:
        kwargs["target_ranks"] = list(rng.choice(RANKS, int(rng.integers(1, 4)), replace=False))
    if rng.random() < 0.5:
        kwargs["max_recent_hours"] = float(rng.uniform(0, 150))
    kwargs["allow_partial"] = bool(rng.random() < 0.3)
    return cand, kwargs


def _greedy(cand, kwargs):
    """The optimum by the matroid greedy: best benefit first while the unit has room."""
    ok = np.ones(len(cand), bool)
    if kwargs.get("target_ranks"):
        ok &= cand["rank"].isin(kwargs["target_ranks"]).to_numpy()
    if kwargs.get("max_recent_hours") is not None:
        ok &= (cand["recent_hours"] <= kwargs["max_recent_hours"]).to_numpy()
    quotas = kwargs.get("unit_quotas") or {}
    used, total, taken = Counter(), 0.0, 0
    best_first = cand[ok].sort_values("benefit", ascending=False)
    for unit, benefit in zip(best_first["unit_id"], best_first["benefit"], strict=True):
        if taken == kwargs["capacity"]:
            break
        if used[unit] < quotas.get(unit, np.inf):
            used[unit] += 1
            total += benefit
            taken += 1
    return taken, total


def test_roster_never_breaks_a_constraint():
    raised = 0
    for seed in range(100):
        cand, kwargs = _random_case(seed)
        n_best, best = _greedy(cand, kwargs)
        try:
            roster, report = propose_roster(cand, **kwargs)
        except InfeasibleRoster:
            raised += 1
            assert n_best == 0 or (n_best < kwargs["capacity"] and not kwargs["allow_partial"])
            continue
        cap = kwargs["capacity"]
        assert len(roster) == n_best and len(roster) <= cap
        assert kwargs["allow_partial"] or len(roster) == cap
        assert not roster["cadre_id"].duplicated().any()
        if kwargs.get("target_ranks"):
            assert roster["rank"].isin(kwargs["target_ranks"]).all()
        if kwargs.get("max_recent_hours") is not None:
            assert (roster["recent_hours"] <= kwargs["max_recent_hours"]).all()
        counts = roster["unit_id"].value_counts()
        for u, q in (kwargs.get("unit_quotas") or {}).items():
            assert counts.get(u, 0) <= q
        assert roster["benefit"].sum() == pytest.approx(best, abs=1e-6)
        entry = next(r for r in report if r["constraint"] == "capacity")
        assert entry["used"] == len(roster) and entry["limit"] == cap
        assert entry.get("shortfall", 0) == cap - len(roster)
        for r in report:
            if r["constraint"] == "unit_quota":
                assert r["used"] <= r["limit"]
    assert 5 < raised < 95  # the random requests cover both outcomes


def test_roster_is_the_best_of_every_feasible_subset_on_small_pools():
    """The greedy solver against exhaustive search (the reference above is a greedy too)."""
    from itertools import combinations

    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        n = int(rng.integers(3, 11))
        cand = pd.DataFrame(
            {
                "cadre_id": [f"C{i}" for i in range(n)],
                "unit_id": rng.choice(["U1", "U2", "U3"], n),
                "rank": "副科",
                "benefit": rng.normal(0.0, 1.0, n),  # negative benefits too
                "recent_hours": 0.0,
            }
        )
        quotas = {"U1": int(rng.integers(0, 3)), "U2": int(rng.integers(1, 4))}
        capacity = int(rng.integers(1, n + 1))
        best = -np.inf
        for pick in combinations(range(n), capacity):
            counts = Counter(cand["unit_id"].iloc[list(pick)])
            if all(counts.get(u, 0) <= q for u, q in quotas.items()):
                best = max(best, cand["benefit"].iloc[list(pick)].sum())
        if not np.isfinite(best):
            with pytest.raises(InfeasibleRoster):
                propose_roster(cand, capacity=capacity, unit_quotas=quotas)
            continue
        roster, _ = propose_roster(cand, capacity=capacity, unit_quotas=quotas)
        assert len(roster) == capacity
        assert roster["benefit"].sum() == pytest.approx(best, abs=1e-9)


def _frame(n=10, units=("U1", "U2"), rank="副科", hours=0.0):
    return pd.DataFrame(
        {
            "cadre_id": [f"C{i}" for i in range(n)],
            "unit_id": [units[i % len(units)] for i in range(n)],
            "rank": rank,
            "benefit": np.linspace(1.0, 0.1, n),
            "recent_hours": hours,
            "reasons": [["缺口：法治素养 30 分", "近一年未参训"]] * n,
        }
    )


def test_quotas_below_capacity_raise_naming_the_quotas():
    with pytest.raises(InfeasibleRoster, match="单位名额") as err:
        propose_roster(_frame(), capacity=6, unit_quotas={"U1": 2, "U2": 2})
    assert err.value.constraint == "unit_quotas"
    assert "unit quotas allow at most 4 of the 6 places" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_no_eligible_cadre_raises_naming_the_constraint():
    with pytest.raises(InfeasibleRoster, match="目标职级") as err:
        propose_roster(_frame(), capacity=3, target_ranks=["正处"])
    assert err.value.constraint == "target_ranks"
    with pytest.raises(InfeasibleRoster, match="学时") as err:
        propose_roster(_frame(hours=120.0), capacity=3, max_recent_hours=80)
    assert err.value.constraint == "max_recent_hours"
    with pytest.raises(InfeasibleRoster) as err:
        propose_roster(_frame().iloc[:0], capacity=3)
    assert err.value.constraint == "candidates"
    with pytest.raises(InfeasibleRoster, match="最多可调训 10 人") as err:
        propose_roster(_frame(), capacity=12, target_ranks=["副科"])
    assert err.value.constraint == "target_ranks"


def test_partial_roster_reports_the_shortfall():
    roster, report = propose_roster(
        _frame(), capacity=6, unit_quotas={"U1": 2, "U2": 2}, allow_partial=True
    )
    assert len(roster) == 4
    assert report[0] == {"constraint": "capacity", "limit": 6, "used": 4, "shortfall": 2}
    assert {r["unit_id"]: r["used"] for r in report if r["constraint"] == "unit_quota"} == {
        "U1": 2,
        "U2": 2,
    }
    assert all(any(x.startswith("本单位名额 2/2") for x in r) for r in roster["reasons"])
    assert roster["position"].tolist() == [1, 2, 3, 4]


def test_malformed_input_is_a_plain_value_error():
    with pytest.raises(ValueError, match="lack columns"):
        propose_roster(_frame().drop(columns="benefit"), capacity=2)
    with pytest.raises(ValueError, match="positive integer"):
        propose_roster(_frame(), capacity=0)
    dup = pd.concat([_frame(), _frame().iloc[:1]])
    with pytest.raises(ValueError, match="twice"):
        propose_roster(dup, capacity=2)


# --- quality on the tiny city --------------------------------------------------------------------


def test_model_roster_beats_the_historical_roster(tiny_city, early):
    T, _, _, model = early
    t, truth = tiny_city.tables, tiny_city.truth
    cl = t["classes"]
    test = cl[(cl["start_on"] >= T) & (cl["kind"] == "rollcall")]
    assert len(test) >= 3
    lr = truth["cadres"].set_index("cadre_id")["learning_rate"]
    ids = pd.Index(truth["cadre_ids"])
    ours = hist = 0.0
    for cid, start in zip(test["class_id"], test["start_on"], strict=True):
        req = request_from_class(t, cid)
        roster, report, _ = model.propose(req)
        assert report[0]["used"] == req.capacity
        m = truth["mastery"][month_position(truth, start)]
        w = np.array([req.topic_weights.get(k, 0.0) for k in truth["topic_ids"]])
        w = w / w.sum()

        def gain(cadres, m=m, w=w, req=req):
            return sum(expected_gain(truth, m[ids.get_loc(c)], w, req.hours, lr[c]) for c in cadres)

        ours += gain(roster["cadre_id"])
        e = t["enrollments"]
        hist += gain(e.loc[e["class_id"] == cid, "cadre_id"].unique())
    assert ours > 1.05 * hist


def test_learning_speed_scales_the_gain_and_follows_the_true_learning_rate(tiny_city, early):
    T, train, reserve, model = early
    plain = RollcallRanker(random_state=0, use_learning_speed=False).fit(train, reserve, T)
    req = ClassRequest({"TP03": 0.6, "TP05": 0.4}, (), capacity=10)
    cand = model.candidates(req).set_index("cadre_id")
    base = plain.candidates(req).set_index("cadre_id").reindex(cand.index)
    assert np.allclose(cand["predicted_gain"], base["predicted_gain"] * cand["learning_speed"])
    seen = cand[model.state_.n_past_gains[model.cadres_.index(cand.index)] > 0]
    assert (cand.drop(seen.index)["learning_speed"] == 1.0).all()
    assert seen["learning_speed"].std() > 0.02
    fast = seen[seen["learning_speed"] >= 1.1]
    assert len(fast) and all(any("高于同班" in r for r in rs) for rs in fast["reasons"])
    lr = tiny_city.truth["cadres"].set_index("cadre_id")["learning_rate"].reindex(seen.index)
    assert seen["learning_speed"].corr(np.log(lr), method="spearman") > 0.15


def test_cadres_who_owe_hours_the_class_counts_toward_rank_higher_with_the_reason(early):
    T, train, reserve, _ = early
    req = ClassRequest(topic_weights={"TP01": 1.0}, target_ranks=("科员", "副科"), capacity=10)
    strict = RollcallRanker(random_state=0, obligation_weight=5.0).fit(train, reserve, T)
    before = strict.candidates(req).set_index("cadre_id")
    me = before.index[0]
    assert before.loc[me, "hours_due"] > 0
    assert any("尚缺" in r for r in before.loc[me, "reasons"])
    # the cadre completes a 100-hour in-person rollcall class this year: nothing is due any more
    tables = dict(train)
    cl = tables["classes"]
    course = tables["courses"][tables["courses"]["mode"] == "面授"]["course_id"].iloc[0]
    cid = cl[cl["kind"] == "rollcall"]["class_id"].iloc[0]
    day = pd.Timestamp(year=T.year, month=1, day=15)
    extra = pd.DataFrame(
        {
            "cadre_id": [me],
            "course_id": [course],
            "class_id": [cid],
            "source": ["rollcall"],
            "enrolled_on": [day],
            "completed_on": [day],
            "progress": [1.0],
            "hours": [100.0],
        }
    )
    tables["enrollments"] = pd.concat([tables["enrollments"], extra], ignore_index=True)
    after = RollcallRanker(random_state=0, obligation_weight=5.0).fit(tables, reserve, T)
    now = after.candidates(req).set_index("cadre_id")
    assert now.loc[me, "hours_due"] == 0
    assert not any("尚缺" in r for r in now.loc[me, "reasons"])
    assert list(now.index).index(me) > 0  # those who still owe hours come first now
    # an online class counts toward other hours than an in-person one
    online = after.candidates(ClassRequest(**{**req.__dict__, "hour_kinds": ("网络",)}))
    assert not online.set_index("cadre_id")["hours_due"].equals(now["hours_due"])
