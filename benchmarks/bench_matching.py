"""Matching and rollcall quality against the synthetic city's truth, plus latency.

``python benchmarks/bench_matching.py [--scale tiny|city] [--seed 0] [--quick] [--plans-only]
[--out DIR]``

``--plans-only``: the teacher and staff plans alone, kept as ``<scale>-plans`` in the JSON.

The city is generated in memory; models are fitted on the events before the split date T
(``truth["params"]["split_date"]``) and judged on classes starting on or after T:

* **teacher plan** — every session of a test class is a topic slot (class × course main topic ×
  date). Plans by the model (predicted ratings), by declared expertise (``teacher_topics`` weight)
  and by the oracle (true ratings) come from the same solver under the same constraints (only
  teachers who declared the topic, at most ``--max-sessions`` per teacher per month, no teacher in
  two classes on one date); the historical assignment is ``class_sessions.teacher_id``. Score: mean
  TRUE rating (``true_teacher_rating`` at the class cohort's true mean rank level: the members'
  mean for rollcall classes, the target ranks' mean otherwise, as the simulator rates them).
* **staff plan** — one staff member per test class with staff, at most one running class at a
  time; model vs oracle vs experience-only vs historical ``classes.staff_id``.
* **rollcall** — test rollcall classes plus random inline requests (topics, target ranks,
  capacity, unit quotas, recent-hours cap). True benefit of a roster = sum of ``expected_gain``
  (true mastery at the class start, true learning rate, class topic weights, class or typical
  hours); the oracle is the same optimiser on the true gains under the same constraints.
* **latency** — one city-scale rollcall (candidates + roster) and a 50-class teacher plan.

Writes ``benchmarks/results/matching.json`` (one entry per scale) and prints Markdown tables.
``--quick``: the tiny city, ``QUICK_REQUESTS`` rollcall requests and a few latency repeats (seconds;
the targets are for the city).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ganxun.features.cohorts import (
    ReserveMatrix,
    class_cohorts,
    class_members,
    class_slots,
    class_topic_weights,
    rank_levels,
)
from ganxun.features.contracts import RANKS
from ganxun.features.history import learning_speed, prepost_gains, speed_prior
from ganxun.features.split import before as split_before
from ganxun.models.assignment import plan_staff, plan_teachers
from ganxun.models.matching import TeacherMatcher
from ganxun.models.rollcall import (
    ClassRequest,
    InfeasibleRoster,
    RollcallRanker,
    propose_roster,
    request_from_class,
)
from ganxun.models.staff_matching import StaffMatcher
from ganxun.simulation import expected_gain, generate, true_staff_rating, true_teacher_rating
from ganxun.simulation.choices import month_position
from ganxun.simulation.learning import apply_rate, gain_rate
from ganxun.training.config import TrainConfig
from ganxun.training.fitting import fit_all

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
import targets  # noqa: E402

ROOT = benchlib.ROOT
TARGETS = {
    "teacher": targets.threshold("matching.teacher_share"),
    "staff": targets.threshold("matching.staff_share"),
    "rollcall": targets.threshold("matching.rollcall_share"),
}
QUICK_REQUESTS, QUICK_REPEATS = 40, 5
#: Figures every run promises.
FIGURES = (
    "teacher_plan.plans.*.mean_true_rating",
    "staff_plan.plans.*.mean_true_rating",
    "teacher_plan.plans.*.share_of_oracle",
    "staff_plan.plans.*.share_of_oracle",
    "rollcall.benefit_share_of_oracle.*",
    "rollcall.constraint_violations.*",
    "rollcall.repeat_trainee_share.model",
    "rollcall.solved",
    "latency.rollcall.median_s",
    "latency.rollcall.p99_s",
    "latency.teacher_plan.median_s",
    "latency.teacher_plan.p99_s",
)
#: Rosters of the rollcall table: the model (as configured: ``rollcall.*`` of the training config),
#: the model with the learning speed (off by default since validation, docs §8), baselines and
#: the oracles / ceilings.
ROLLCALL_ROWS = (
    "model",
    "model_with_learning_speed",
    "random",
    "oracle_without_learning_rate",
    "oracle_mastery_x_rate_regressed_on_prepost_exams",
    "oracle_mastery_x_rate_regressed_on_all_observed",
    "oracle_learning_rate_where_prepost_exams",
    "oracle",
)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


# --- teacher plan ---------------------------------------------------------------------------------


def true_cohort_levels(tables, class_ids) -> pd.Series:
    """The level the simulator rates with: members' mean (rollcall), target ranks' mean (else)."""
    cl = tables["classes"].set_index("class_id").loc[list(class_ids)]
    members = class_members(tables, class_ids)
    ranks = tables["cadres"].set_index("cadre_id")["rank"]
    members_mean = (
        pd.Series(rank_levels(ranks.loc[members["cadre_id"]].to_numpy()), index=members.index)
        .groupby(members["class_id"].to_numpy())
        .mean()
    )
    target_mean = cl["target_ranks"].map(lambda t: float(np.mean(rank_levels(list(t)))))
    out = np.where(
        (cl["kind"] == "rollcall").to_numpy() & members_mean.reindex(cl.index).notna().to_numpy(),
        members_mean.reindex(cl.index).to_numpy(),
        target_mean.to_numpy(),
    )
    return pd.Series(out, index=cl.index)


def teacher_plan_bench(city, tm: TeacherMatcher, reserve, T, max_sessions: int) -> dict:
    t, truth = city.tables, city.truth
    cl = t["classes"]
    test_ids = cl.loc[cl["start_on"] >= T, "class_id"]
    slots = class_slots(t, test_ids)
    cohorts = class_cohorts(t, reserve, class_ids=slots["class_id"].unique())
    levels = true_cohort_levels(t, slots["class_id"].unique())
    tids = tm.teachers_.ids_
    n_s, n_t = len(slots), len(tids)
    declared = tm.declared_.reindex(
        pd.MultiIndex.from_arrays([np.tile(tids, n_s), np.repeat(slots["topic_id"], n_t)])
    )
    eligible = declared.notna().to_numpy().reshape(n_s, n_t)
    expertise = declared.fillna(0.0).to_numpy().reshape(n_s, n_t)
    lvl = levels.loc[slots["class_id"]].to_numpy()
    true = true_teacher_rating(
        truth, tids[None, :], slots["topic_id"].to_numpy()[:, None], lvl[:, None]
    )
    model, score_s = timed(
        tm.score_matrix,
        slots["topic_id"],
        cohorts.loc[slots["class_id"]].reset_index(drop=True),
        declared_only=True,
    )
    month = pd.to_datetime(slots["session_on"]).dt.to_period("M").astype(str).to_numpy()
    rows = {}
    plans = {}
    for name, scores in (("model", model), ("expertise-only", expertise), ("oracle", true)):
        plan, secs = timed(
            plan_teachers,
            scores,
            slots["session_on"].to_numpy(),
            slots["class_id"].to_numpy(),
            max_sessions,
            eligible=eligible,
            slot_periods=month,
        )
        plans[name] = plan
        on = plan.assignment >= 0
        rows[name] = {
            "mean_true_rating": float(true[np.flatnonzero(on), plan.assignment[on]].mean()),
            "filled": int(on.sum()),
            "unfilled": len(plan.unfilled),
            "solve_s": round(secs, 3),
            # "time_limit": the solver stopped early; its plan may ignore the scores (a plan of
            # the most filled slots), so a share of the oracle is then not a fair comparison
            "status": plan.status,
            "violations": teacher_violations(plan.assignment, slots, month, max_sessions),
        }
    hist = tm.teachers_.index(slots["teacher_id"])
    hist_rating = true_teacher_rating(truth, slots["teacher_id"], slots["topic_id"], lvl)
    rows["historical"] = {
        "mean_true_rating": float(hist_rating.mean()),
        "filled": n_s,
        "unfilled": 0,
        "solve_s": None,
        "violations": teacher_violations(hist, slots, month, max_sessions),
    }
    oracle = rows["oracle"]["mean_true_rating"]
    for r in rows.values():
        r["share_of_oracle"] = r["mean_true_rating"] / oracle
    return {
        "slots": n_s,
        "classes": int(slots["class_id"].nunique()),
        "teachers": n_t,
        "max_sessions_per_month": max_sessions,
        "score_matrix_s": round(score_s, 3),
        "plans": rows,
        "target": TARGETS["teacher"],
        "met": rows["model"]["share_of_oracle"] >= TARGETS["teacher"],
    }


def teacher_violations(assignment, slots, month, max_sessions) -> dict:
    frame = pd.DataFrame(
        {"t": assignment, "d": slots["session_on"], "c": slots["class_id"], "m": month}
    )
    frame = frame[frame["t"] >= 0]
    double = int((frame.groupby(["t", "d"])["c"].nunique() > 1).sum())
    over = int((frame.groupby(["t", "m"]).size() > max_sessions).sum())
    return {"double_booked_teacher_dates": double, "over_load_teacher_months": over}


# --- staff plan -----------------------------------------------------------------------------------


def staff_plan_bench(city, sm: StaffMatcher, reserve, T) -> dict:
    t, truth = city.tables, city.truth
    cl = t["classes"]
    test = cl[(cl["start_on"] >= T) & cl["staff_id"].notna()].reset_index(drop=True)
    cohorts = class_cohorts(t, reserve, class_ids=test["class_id"])
    topics = class_topic_weights(t, sm.topic_ids_).reindex(test["class_id"]).fillna(0.0)
    sids = sm.staff_.ids_
    # staff are rated by every member: the members' mean rank level
    lvl = cohorts["rank_mean"].to_numpy()
    true = true_staff_rating(truth, sids[None, :], lvl[:, None])
    model, _ = timed(sm.score_matrix, cohorts.reset_index(drop=True), topics)
    years = np.tile(sm.profiles_.loc[sids, "years"].to_numpy(float), (len(test), 1))
    rows = {}
    for name, scores in (("model", model), ("experience-only", years), ("oracle", true)):
        # the oracle gets four times the solver's time: it is the yardstick
        limit = 120.0 if name == "oracle" else 30.0
        plan, secs = timed(
            plan_staff, scores, test["start_on"], test["end_on"], 1, time_limit=limit
        )
        on = plan.assignment >= 0
        rows[name] = {
            "mean_true_rating": float(true[np.flatnonzero(on), plan.assignment[on]].mean()),
            "filled": int(on.sum()),
            "unfilled": len(plan.unfilled),
            "solve_s": round(secs, 3),
            # "time_limit": the solver stopped early; its plan may ignore the scores (a plan of
            # the most filled slots), so a share of the oracle is then not a fair comparison
            "status": plan.status,
            "violations": staff_violations(plan.assignment, test),
        }
    hist = true_staff_rating(truth, test["staff_id"], lvl)
    rows["historical"] = {
        "mean_true_rating": float(hist.mean()),
        "filled": len(test),
        "unfilled": 0,
        "solve_s": None,
        "violations": staff_violations(sm.staff_.index(test["staff_id"]), test),
    }
    oracle = rows["oracle"]["mean_true_rating"]
    for r in rows.values():
        r["share_of_oracle"] = r["mean_true_rating"] / oracle
    return {
        "classes": len(test),
        "staff": len(sids),
        "max_concurrent": 1,
        "plans": rows,
        "target": TARGETS["staff"],
        "met": rows["model"]["share_of_oracle"] >= TARGETS["staff"],
    }


def staff_violations(assignment, classes) -> dict:
    start = classes["start_on"].to_numpy()
    end = classes["end_on"].to_numpy()
    bad = 0
    for s in np.unique(assignment[assignment >= 0]):
        mine = np.flatnonzero(assignment == s)
        for i in mine:
            bad += int(((start[mine] <= start[i]) & (end[mine] >= start[i])).sum() > 1)
    return {"overlapping_class_starts": bad}


# --- rollcall -------------------------------------------------------------------------------------


class TrueGain:
    """Vectorised ``expected_gain`` over candidates (checked against the helper on a sample)."""

    def __init__(self, truth):
        self.truth = truth
        self.ids = pd.Index(np.asarray(truth["cadre_ids"]).astype(str))
        self.lr = (
            truth["cadres"].set_index("cadre_id").loc[self.ids, "learning_rate"].to_numpy(float)
        )
        self.median_lr = float(np.median(self.lr))
        self.topics = list(truth["topic_ids"])
        self.checked = False

    def __call__(self, cadre_ids, weights: dict, hours: float, start, blind=False) -> np.ndarray:
        m_all = self.truth["mastery"][month_position(self.truth, pd.Timestamp(start))]
        idx = self.ids.get_indexer(np.asarray(cadre_ids).astype(str))
        m = m_all[idx].astype(float)
        w = np.zeros(len(self.topics))
        for k, v in weights.items():
            w[self.topics.index(k)] = v
        w /= w.sum()
        lr = np.full(len(idx), self.median_lr) if blind else self.lr[idx]
        p = self.truth["params"]
        gain = (apply_rate(m, gain_rate(m, w[None, :], hours, lr, 1.0, 2, p)) - m).sum(axis=1)
        if not self.checked and len(idx) and not blind:
            ref = expected_gain(self.truth, m[0], w, hours, lr[0])
            assert abs(ref - gain[0]) < 1e-9, (ref, gain[0])
            self.checked = True
        return gain


def random_requests(city, rr: RollcallRanker, T, n: int, rng) -> list[tuple[ClassRequest, object]]:
    """Inline requests with random topics, ranks, capacity, quotas, hours caps and start dates."""
    t = city.tables
    units = t["cadres"]["unit_id"].unique()
    end = pd.Timestamp(city.truth["params"]["end"])
    topics = list(rr.topics_.ids_)
    out = []
    cadres = t["cadres"]
    for _ in range(n):
        k = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
        chosen = rng.choice(topics, size=k, replace=False)
        w = rng.dirichlet(np.full(k, 2.0)) if k > 1 else np.array([1.0])
        r1 = int(rng.integers(0, len(RANKS)))
        ranks = [RANKS[r1]]
        if rng.random() < 0.5:
            ranks.append(RANKS[r1 + 1 if r1 < len(RANKS) - 1 else r1 - 1])
        pool = cadres[cadres["rank"].isin(ranks)]
        cap_hi = max(2, min(60, len(pool) // 3))
        capacity = int(rng.integers(min(10, cap_hi), cap_hi + 1))
        quotas = None
        if rng.random() < 0.6:
            per_unit = max(1, int(np.ceil(capacity / 15)))
            counts = pool["unit_id"].value_counts()
            quotas = {u: per_unit for u in counts.index}
            if rng.random() < 0.3:  # a few units get a tighter or looser quota
                for u in rng.choice(units, size=min(5, len(units)), replace=False):
                    quotas[str(u)] = int(rng.integers(0, per_unit + 3))
        max_hours = [None, 60.0, 100.0, 150.0][int(rng.integers(0, 4))]
        if max_hours is not None:
            recent = pd.Series(rr.state_.recent_hours, index=rr.cadres_.ids_)
            pool = pool[recent.reindex(pool["cadre_id"]).to_numpy() <= max_hours]
        counts = pool["unit_id"].value_counts()
        room = int(sum(min(n, (quotas or {}).get(u, n)) for u, n in counts.items()))
        if room and rng.random() < 0.95:  # a few requests stay infeasible on purpose
            capacity = max(1, min(capacity, room))
        start = T + pd.Timedelta(days=int(rng.integers(0, max(1, (end - T).days - 10))))
        req = ClassRequest(
            topic_weights={str(a): float(b) for a, b in zip(chosen, w, strict=True)},
            target_ranks=tuple(ranks),
            capacity=capacity,
            unit_quotas=quotas,
            max_recent_hours=max_hours,
        )
        out.append((req, start))
    return out


def roster_violations(roster: pd.DataFrame, req: ClassRequest) -> int:
    bad = int(len(roster) > req.capacity)
    if req.target_ranks:
        bad += int((~roster["rank"].isin(req.target_ranks)).sum())
    if req.max_recent_hours is not None:
        bad += int((roster["recent_hours"].fillna(0) > req.max_recent_hours).sum())
    if req.unit_quotas:
        counts = roster["unit_id"].value_counts()
        bad += int(sum(n > req.unit_quotas[u] for u, n in counts.items() if u in req.unit_quotas))
    bad += int(roster["cadre_id"].duplicated().sum())
    return bad


def evidence_ceilings(
    gain: TrueGain, rr: RollcallRanker, train
) -> tuple[set, pd.Series, pd.Series]:
    """What the data can reveal of each cadre's learning rate, calibrated on the truth.

    Returns the cadres with pre/post exams before the split and two predictions of each cadre's
    learning rate (relative to the median), each a linear regression of the true log rate
    calibrated on the truth — which no model of the data can be, so they are ceilings:

    * from the pre/post evidence alone (the shrunk speed and the mean residual);
    * from everything the service observes of a cadre besides: that evidence plus general
      accuracy, the answers behind it, self-chosen hours and self-tests in the last year,
      training and rollcall hours in three years (the traits the seed story correlates with
      learning: ability, engagement, being called).
    """
    gains = prepost_gains(train)
    evidence = set(gains["cadre_id"])
    st = rr.state_
    ids = rr.cadres_.ids_
    speed = learning_speed(st.past_gain, st.n_past_gains, speed_prior(gains))
    log_lr = np.log(pd.Series(gain.lr, index=gain.ids).reindex(ids).to_numpy())
    has = st.n_past_gains > 0
    X = np.column_stack([np.ones(len(ids)), has, np.log(speed), st.past_gain * has])
    beta, *_ = np.linalg.lstsq(X, log_lr, rcond=None)
    total = st.total.sum(axis=1)
    accuracy = (st.correct.sum(axis=1) + 4 * st.mean_accuracy) / (total + 4)
    extra = [
        accuracy,
        np.log1p(total),
        np.log1p(np.nan_to_num(st.self_hours_1y)),
        np.log1p(np.nan_to_num(st.self_tests_1y)),
        np.log1p(st.hours_3y),
        np.log1p(st.rollcall_hours_3y),
    ]
    Xa = np.column_stack([X, *extra])
    beta_a, *_ = np.linalg.lstsq(Xa, log_lr, rcond=None)
    return (
        evidence,
        pd.Series(np.exp(X @ beta) / gain.median_lr, index=ids),
        pd.Series(np.exp(Xa @ beta_a) / gain.median_lr, index=ids),
    )


def rollcall_bench(
    city, rr: RollcallRanker, T, n_requests: int, seed: int, ablation: RollcallRanker | None = None
) -> dict:
    t, truth = city.tables, city.truth
    gain = TrueGain(truth)
    evidence, posterior, observed = evidence_ceilings(gain, rr, split_before(t, T))
    rng = np.random.default_rng(seed)
    cl = t["classes"]
    test = cl[(cl["start_on"] >= T) & (cl["kind"] == "rollcall")]
    enr = t["enrollments"]
    members = enr[enr["class_id"].isin(set(test["class_id"]))]
    # repeat trainees: top 10% of cadres by rollcall hours in the three years before T
    past = enr[
        (enr["source"] == "rollcall")
        & (enr["enrolled_on"] < T)
        & (enr["enrolled_on"] >= T - pd.DateOffset(years=3))
    ]
    hours = past.groupby("cadre_id")["hours"].sum().reindex(t["cadres"]["cadre_id"]).fillna(0.0)
    repeat = set(hours.index[(hours >= hours.quantile(0.9)) & (hours > 0)])

    requests = [
        (request_from_class(t, cid), start)
        for cid, start in zip(test["class_id"], test["start_on"], strict=True)
    ]
    requests += random_requests(city, rr, T, max(0, n_requests - len(requests)), rng)
    sums: dict[str, float] = {}
    hist_sums = {"model": 0.0, "oracle": 0.0, "historical": 0.0}
    repeat_counts = {"model": [0, 0], "oracle": [0, 0], "historical": [0, 0]}
    violations = {"model": 0, "oracle": 0}
    ratios, infeasible, n_done = [], 0, 0
    for req, start in requests:
        cand = rr.candidates(req)
        hours_req = req.hours or rr.typical_hours_
        true = gain(cand["cadre_id"], req.topic_weights, hours_req, start)
        blind = gain(cand["cadre_id"], req.topic_weights, hours_req, start, blind=True)
        kwargs = {
            "capacity": req.capacity,
            "unit_quotas": req.unit_quotas,
            "target_ranks": req.target_ranks or None,
            "max_recent_hours": req.max_recent_hours,
        }
        try:
            model_roster, _ = propose_roster(cand, **kwargs)
        except InfeasibleRoster:
            infeasible += 1
            continue
        n_done += 1
        value = pd.Series(true, index=cand["cadre_id"])
        oracle_roster, _ = propose_roster(cand.assign(benefit=true), **kwargs)
        has = cand["cadre_id"].isin(evidence).to_numpy()
        post = posterior.reindex(cand["cadre_id"]).to_numpy()
        seen = observed.reindex(cand["cadre_id"]).to_numpy()
        other = {
            "random": rng.random(len(cand)),
            "oracle_without_learning_rate": blind,
            "oracle_learning_rate_where_prepost_exams": np.where(has, true, blind),
            "oracle_mastery_x_rate_regressed_on_prepost_exams": blind * post,
            "oracle_mastery_x_rate_regressed_on_all_observed": blind * seen,
        }
        if ablation is not None:
            other["model_with_learning_speed"] = (
                ablation.candidates(req).set_index("cadre_id")["benefit"].reindex(cand["cadre_id"])
            ).to_numpy()
        got = {
            "model": value[model_roster["cadre_id"]].sum(),
            "oracle": value[oracle_roster["cadre_id"]].sum(),
        }
        for name, benefit in other.items():
            roster, _ = propose_roster(cand.assign(benefit=benefit), **kwargs)
            got[name] = value[roster["cadre_id"]].sum()
        for k, v in got.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        ratios.append(got["model"] / got["oracle"])
        violations["model"] += roster_violations(model_roster, req)
        violations["oracle"] += roster_violations(oracle_roster, req)
        for name, roster in (("model", model_roster), ("oracle", oracle_roster)):
            repeat_counts[name][0] += int(roster["cadre_id"].isin(repeat).sum())
            repeat_counts[name][1] += len(roster)
        if req.class_id is not None:
            hist = members.loc[members["class_id"] == req.class_id, "cadre_id"].unique()
            hist_value = gain(hist, req.topic_weights, hours_req, start).sum()
            hist_sums["model"] += float(got["model"])
            hist_sums["oracle"] += float(got["oracle"])
            hist_sums["historical"] += float(hist_value)
            repeat_counts["historical"][0] += int(pd.Series(hist).isin(repeat).sum())
            repeat_counts["historical"][1] += len(hist)
    share = {k: v / sums["oracle"] for k, v in sums.items()} if sums else {}
    return {
        "requests": len(requests),
        "test_classes": int(len(test)),
        "solved": n_done,
        "infeasible_raised": infeasible,
        "benefit_share_of_oracle": share,
        # how far from a random eligible roster to the oracle (issue 13's rollcall yardstick)
        "way_from_random": {
            k: (v - share["random"]) / (1.0 - share["random"]) for k, v in share.items()
        }
        if share.get("random") is not None and share["random"] < 1
        else {},
        "population_repeat_share": float(len(repeat) / max(len(hours), 1)),
        "mean_request_share": float(np.mean(ratios)) if ratios else None,
        "test_classes_share_of_oracle": {
            k: v / hist_sums["oracle"] if hist_sums["oracle"] else None
            for k, v in hist_sums.items()
        },
        "constraint_violations": violations,
        "repeat_trainee_share": {
            k: (v[0] / v[1] if v[1] else None) for k, v in repeat_counts.items()
        },
        "target": TARGETS["rollcall"],
        "met": share["model"] >= TARGETS["rollcall"],
    }


# --- latency --------------------------------------------------------------------------------------


def latency(city, rr: RollcallRanker, tm: TeacherMatcher, reserve, T, max_sessions, repeats):
    t = city.tables
    cadres = t["cadres"]
    rank_pool = cadres["rank"].value_counts()
    big = tuple(rank_pool.index[:2])  # the two largest ranks: the biggest candidate pool
    req = ClassRequest({"TP03": 0.6, "TP06": 0.4}, big, capacity=min(50, len(cadres) // 4))
    # as the service answers: reasons for the roster and the API's default 100 candidates
    rr.propose(req, explain_top=100)  # warm up
    roll = [timed(rr.propose, req, explain_top=100)[1] for _ in range(repeats)]
    cl = t["classes"]
    test_ids = cl.loc[cl["start_on"] >= T, "class_id"]
    classes = cl[cl["class_id"].isin(test_ids)]
    if len(classes) < 50:  # small cities: reuse earlier classes to reach 50
        classes = cl.sort_values("start_on").tail(50)
    chosen = classes["class_id"].head(50)
    slots = class_slots(t, chosen)
    cohorts = class_cohorts(t, reserve, class_ids=slots["class_id"].unique())
    month = pd.to_datetime(slots["session_on"]).dt.to_period("M").astype(str).to_numpy()

    def plan():
        scores = tm.score_matrix(
            slots["topic_id"],
            cohorts.loc[slots["class_id"]].reset_index(drop=True),
            declared_only=True,  # only declared teachers are eligible: score only them
        )
        return plan_teachers(
            scores,
            slots["session_on"].to_numpy(),
            slots["class_id"].to_numpy(),
            max_sessions,
            slot_periods=month,
        )

    plans = [timed(plan)[1] for _ in range(max(3, repeats // 10))]
    return {
        "rollcall": {
            "candidates": int(cadres["rank"].isin(big).sum()),
            "capacity": req.capacity,
            "runs": len(roll),
            "median_s": statistics.median(roll),
            "p99_s": float(np.percentile(roll, 99)),
        },
        "teacher_plan": {
            "classes": int(chosen.nunique()),
            "slots": len(slots),
            "runs": len(plans),
            "median_s": statistics.median(plans),
            "p99_s": float(np.percentile(plans, 99)),
        },
    }


# --- output ---------------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    lines = [f"### Matching and rollcall — scale {result['scale']}, seed {result['seed']}", ""]
    for key, title in (("teacher_plan", "Teacher plan"), ("staff_plan", "Staff plan")):
        r = result[key]
        lines += [
            f"**{title}** ({r.get('slots', r.get('classes'))} slots; target model ≥ "
            f"{r['target']:.0%} of oracle: {'met' if r['met'] else 'NOT met'})",
            "",
            "| plan | mean true rating | share of oracle | filled | unfilled | violations |",
            "|---|---|---|---|---|---|",
        ]
        for name, p in r["plans"].items():
            v = ", ".join(f"{a} {b}" for a, b in p["violations"].items())
            lines.append(
                f"| {name} | {p['mean_true_rating']:.3f} | {p['share_of_oracle']:.1%} | "
                f"{p['filled']} | {p['unfilled']} | {v} |"
            )
        lines.append("")
    if "rollcall" in result:  # not with --plans-only
        lines += [*_rollcall_lines(result), ""]
    fit = result["timings_s"]
    lines.append("Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in fit.items()))
    return "\n".join(lines)


def _rollcall_lines(result: dict) -> list[str]:
    lines: list[str] = []
    r = result["rollcall"]
    lines += [
        f"**Rollcall** ({r['solved']} requests solved of {r['requests']}, "
        f"{r['test_classes']} test classes, {r['infeasible_raised']} raised InfeasibleRoster; "
        f"target model ≥ {r['target']:.0%} of oracle: {'met' if r['met'] else 'NOT met'})",
        "",
        "| roster | true benefit share of oracle (all requests) | way from random to oracle | "
        "share on test classes | repeat-trainee share |",
        "|---|---|---|---|---|",
    ]
    for name in ("historical", *ROLLCALL_ROWS):
        a = r["benefit_share_of_oracle"].get(name)
        w = r.get("way_from_random", {}).get(name)
        b = r["test_classes_share_of_oracle"].get(name)
        c = r["repeat_trainee_share"].get(name)
        lines.append(
            f"| {name} | {'' if a is None else f'{a:.1%}'} | {'' if w is None else f'{w:.1%}'} | "
            f"{'' if b is None else f'{b:.1%}'} | {'' if c is None else f'{c:.1%}'} |"
        )
    lines += [
        "",
        f"Constraint violations: model {r['constraint_violations']['model']}, "
        f"oracle {r['constraint_violations']['oracle']}; mean per-request share "
        f"{r['mean_request_share']:.1%}; the population's repeat-trainee share "
        f"{r.get('population_repeat_share', float('nan')):.1%}.",
        "",
        "| latency | size | median s | p99 s |",
        "|---|---|---|---|",
    ]
    lat = result["latency"]
    lines.append(
        f"| rollcall (candidates + roster) | {lat['rollcall']['candidates']} candidates, "
        f"capacity {lat['rollcall']['capacity']} | {lat['rollcall']['median_s']:.3f} | "
        f"{lat['rollcall']['p99_s']:.3f} |"
    )
    lines.append(
        f"| teacher plan (scores + solve) | {lat['teacher_plan']['classes']} classes, "
        f"{lat['teacher_plan']['slots']} slots | {lat['teacher_plan']['median_s']:.3f} | "
        f"{lat['teacher_plan']['p99_s']:.3f} |"
    )
    return lines


def run(
    scale: str, seed: int, n_requests: int, max_sessions: int, repeats: int, plans_only=False
) -> dict:
    timings = {}
    city, timings["generate"] = timed(generate, scale, seed)
    T = pd.Timestamp(city.truth["params"]["split_date"])
    train = split_before(city.tables, T)
    fitted, timings["fit_reserve"] = timed(fit_all, train, T, TrainConfig(seed=seed))
    reserve = ReserveMatrix(fitted.knowledge.reserve, fitted.catalog.cadres, fitted.catalog.topics)
    tm, timings["fit_teacher"] = timed(TeacherMatcher(random_state=seed).fit, train, reserve, T)
    sm, timings["fit_staff"] = timed(StaffMatcher(random_state=seed).fit, train, reserve, T)
    teacher, timings["teacher_bench"] = timed(
        teacher_plan_bench, city, tm, reserve, T, max_sessions
    )
    staff, timings["staff_bench"] = timed(staff_plan_bench, city, sm, reserve, T)
    result = {
        "scale": scale,
        "seed": seed,
        "split_date": str(T.date()),
        "teacher_plan": teacher,
        "staff_plan": staff,
    }
    if not plans_only:
        settings = TrainConfig(seed=seed).rollcall.model_dump()
        rr, timings["fit_rollcall"] = timed(
            RollcallRanker(random_state=seed, **settings).fit, train, reserve, T
        )
        fast = RollcallRanker(random_state=seed, **{**settings, "use_learning_speed": True})
        with_speed = fast.fit(train, reserve, T)
        result["rollcall"], timings["rollcall_bench"] = timed(
            rollcall_bench, city, rr, T, n_requests, seed, with_speed
        )
        result["latency"], timings["latency_bench"] = timed(
            latency, city, rr, tm, reserve, T, max_sessions, repeats
        )
    return {
        **result,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run, add the result to ``matching.json`` and print it; the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="tiny", choices=["tiny", "city", "province"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--requests", type=int, default=200, help="rollcall requests (≥ 200)")
    parser.add_argument("--max-sessions", type=int, default=4, help="per teacher per month")
    parser.add_argument("--repeats", type=int, default=30, help="latency repetitions")
    parser.add_argument("--quick", action="store_true", help="the tiny city, few requests")
    parser.add_argument(
        "--plans-only", action="store_true", help="the teacher and staff plans alone (no rollcall)"
    )
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS, help="results folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.requests, args.repeats = "tiny", QUICK_REQUESTS, QUICK_REPEATS
        args.plans_only = False
    started = time.perf_counter()
    print(f"matching at {args.scale} (seed {args.seed}): generating and fitting…", flush=True)
    result = run(
        args.scale, args.seed, args.requests, args.max_sessions, args.repeats, args.plans_only
    )
    benchlib.finish(result, args.quick, started)
    path = Path(args.out) / "matching.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    # a plans-only run is kept beside the full one, not over it (the targets read the full one)
    stored[f"{args.scale}-plans" if args.plans_only else args.scale] = result
    benchlib.write(args.out, "matching", stored)
    print(markdown(result))
    if args.quick:
        benchlib.check_figures(result, FIGURES, "matching")
    return result


if __name__ == "__main__":
    main()
