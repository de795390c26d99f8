"""A class from need to evaluation over the API: needs, design, evaluation, equity, scopes."""

import pandas as pd
import pytest

from ganxun.training.bundle import load_bundle


@pytest.fixture(scope="module")
def ctx(trained, open_client):
    fitted, _ = load_bundle(trained[0].bundle)
    classes = fitted.planning.tables["classes"]
    table = fitted.planning.evaluation
    ended = classes[
        (classes["end_on"] < pd.Timestamp(fitted.asof))
        & classes["class_id"].isin(set(table.classes["class_id"]))
    ]
    return {
        "org": open_client(trained[1]),
        "art": trained[1],
        "fitted": fitted,
        "classes": classes,
        "ended": ended,
    }


def _other_institution(ctx, class_row):
    others = ctx["classes"][ctx["classes"]["institution_id"] != class_row["institution_id"]]
    return others.iloc[0]


def test_class_needs_describe_the_cohort(ctx):
    cls = ctx["ended"].iloc[0]
    r = ctx["org"].get(f"/v1/classes/{cls['class_id']}/needs")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cohort"]["source"] == "members" and body["cohort"]["size"] > 0
    assert len(body["topics"]) == 12
    gaps = [t["mean_gap"] for t in body["topics"]]
    assert gaps == sorted(gaps, reverse=True)
    for w in body["weak_topics"]:
        assert sum(w["counts"]) == body["cohort"]["size"] and len(w["edges"]) == 11
    assert sum(t["weight"] for t in body["suggested_topics"]) == pytest.approx(1.0, abs=0.011)
    assert all(t["reasons"] and t["name"] for t in body["suggested_topics"])
    assert all(0 < c["share"] <= 1 and c["title"] for c in body["taken_courses"])


def test_needs_of_units_and_of_a_draft_roster(ctx, open_client):
    info = ctx["fitted"].catalog.cadre_info
    unit = info["unit_id"].value_counts().index[0]
    r = ctx["org"].post("/v1/needs", json={"unit_ids": [unit], "ranks": ["科员", "副科"]})
    assert r.status_code == 200, r.text
    assert r.json()["cohort"]["source"] == "units_ranks"
    draft = info["cadre_id"].head(12).tolist()
    r = ctx["org"].post("/v1/needs", json={"cadre_ids": draft})
    assert r.status_code == 200 and r.json()["cohort"]["size"] == 12
    bad = ctx["org"].post("/v1/needs", json={"cadre_ids": ["C999999"]})
    assert bad.status_code == 422 and "C999999" in bad.json()["error"]["message"]
    assert ctx["org"].post("/v1/needs", json={}).status_code == 422
    inst = open_client(ctx["art"], "institution", ctx["classes"]["institution_id"].iloc[0])
    assert inst.post("/v1/needs", json={"cadre_ids": draft}).status_code == 403
    assert inst.post("/v1/needs", json={"ranks": ["正科"]}).status_code == 200


def test_institution_keys_read_only_their_own_classes(ctx, open_client):
    cls = ctx["ended"].iloc[0]
    other = _other_institution(ctx, cls)
    inst = open_client(ctx["art"], "institution", cls["institution_id"])
    for path in ("needs", "evaluation"):
        assert inst.get(f"/v1/classes/{cls['class_id']}/{path}").status_code == 200
        theirs = inst.get(f"/v1/classes/{other['class_id']}/{path}")
        unknown = inst.get(f"/v1/classes/B99999/{path}")
        assert theirs.status_code == unknown.status_code == 404
        assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
        assert (
            theirs.json()["error"]["message"].replace(other["class_id"], "B99999")
            == (unknown.json()["error"]["message"])
        )
    unit = open_client(ctx["art"], "unit", "U0001")
    assert unit.get(f"/v1/classes/{cls['class_id']}/evaluation").status_code == 403
    assert inst.get("/v1/rollcall/equity?start=2025-01-01&end=2026-01-01").status_code == 403
    assert (
        inst.post(
            "/v1/classes/design", json={"capacity": 5, "month": "2026-11", "days": 3}
        ).status_code
        == 403
    )


def test_evaluation_reports_gains_ratings_attendance_and_gaps(ctx):
    cls = ctx["ended"].iloc[0]
    body = ctx["org"].get(f"/v1/classes/{cls['class_id']}/evaluation").json()
    assert body["effect"]["measured"] > 0 and body["effect"]["classes_compared"] >= 2
    assert body["effect"]["value_added"] == pytest.approx(
        body["effect"]["gain"] - body["effect"]["expected_gain"], abs=2e-4
    )
    assert body["topics"] and all(t["name"] for t in body["topics"])
    assert len(body["member_gains"]) == body["effect"]["measured"]
    att = body["attendance"]
    assert att["members"] > 0 and 0 <= att["sessions_completed_share"] <= 1
    for p in body["ratings"]:
        assert p["role"] in ("teacher", "staff") and 1 <= p["corrected_mean"] <= 5
    assert all(s["gap"] >= 5 for s in body["still_short"])


def test_a_class_not_ended_by_the_cut_off_is_422(ctx):
    from ganxun.serving.class_life import class_life

    store = ctx["org"].app.state.store
    views = class_life(store.current).views
    cls = ctx["ended"].iloc[-1]["class_id"]
    views.classes = views.classes.copy()
    views.classes.loc[cls, "end_on"] = pd.Timestamp(ctx["fitted"].asof) + pd.Timedelta(days=3)
    try:
        r = ctx["org"].get(f"/v1/classes/{cls}/evaluation")
    finally:
        views.classes.loc[cls, "end_on"] = ctx["ended"].iloc[-1]["end_on"]
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_ended"
    assert "尚未结束" in r.json()["error"]["message"]


def test_period_equity_shares_and_concentration(ctx):
    r = ctx["org"].get("/v1/rollcall/equity", params={"start": "2024-01-01", "end": "2027-01-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["classes"] > 0 and body["seats"] > 0
    assert sum(u["seat_share"] for u in body["units"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(u["need_share"] for u in body["units"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(d["seat_share"] for d in body["districts"]) == pytest.approx(1.0, abs=1e-3)
    assert all(u["name"] for u in body["units"])
    assert 0 <= body["concentration"]["gini"] <= 1
    bad = ctx["org"].get("/v1/rollcall/equity", params={"start": "2026-01-01", "end": "2025-01-01"})
    assert bad.status_code == 422


def test_rollcall_takes_a_fairness_bound_and_reports_equity(ctx):
    body = {"topics": {"TP03": 0.6, "TP10": 0.4}, "capacity": 12, "fairness_bound": 1.5}
    r = ctx["org"].post("/v1/rollcall", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    fair = [c for c in out["constraints"] if c["constraint"] == "fairness"]
    assert fair and fair[0]["limit"] == 1.5
    assert out["equity"]["units"] and out["equity"]["districts"]
    seats = {u["unit_id"]: u["seats"] for u in out["equity"]["units"]}
    assert sum(seats.values()) == 12


def test_design_returns_a_complete_draft_class(ctx):
    goal = {"target_ranks": ["科员", "副科"], "capacity": 15, "month": "2026-11", "days": 5}
    r = ctx["org"].post("/v1/classes/design", json=goal)
    assert r.status_code == 200, r.text
    d = r.json()
    assert [s["step"] for s in d["steps"]] == [
        "pool_needs",
        "topics",
        "roster",
        "refine_topics",
        "sessions",
        "teachers",
        "staff",
    ]
    assert d["start_on"] == "2026-11-02" and d["end_on"] == "2026-11-06"  # the first Monday
    assert len(d["roster"]) == 15 and {c["rank"] for c in d["roster"]} <= {"科员", "副科"}
    assert d["sessions"] and sum(s["hours"] for s in d["sessions"]) <= d["hours"]
    assert {s["topic_id"] for s in d["sessions"]} <= {t["topic_id"] for t in d["topics"]}
    assert all(s["reasons"] and s["topic_name"] for s in d["sessions"])
    assert all(s["teacher_id"] and s["teacher_reasons"] for s in d["sessions"] if s["teacher_id"])
    assert d["staff"] is None or d["staff"]["reasons"]
    for c in d["constraints"]:
        if isinstance(c["limit"], int | float) and isinstance(c["used"], int | float):
            assert c["used"] <= c["limit"], c
    assert d["equity"]["units"]


@pytest.mark.parametrize(
    ("goal", "constraint"),
    [
        (
            {"target_ranks": ["副厅"], "capacity": 2000, "month": "2026-11", "days": 5},
            "target_ranks",
        ),
        ({"capacity": 60, "month": "2026-11", "days": 5, "fairness_bound": 0.05}, "fairness"),
        ({"capacity": 10, "month": "2026-11", "days": 2, "hours": 40}, "hours"),
        (
            {
                "unit_ids": ["U0001"],
                "target_ranks": ["副厅"],
                "capacity": 5,
                "month": "2026-11",
                "days": 3,
            },
            "target_ranks",
        ),
    ],
)
def test_an_impossible_goal_is_422_naming_the_constraint(ctx, goal, constraint):
    r = ctx["org"].post("/v1/classes/design", json=goal)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "infeasible" and err["message"].startswith(constraint), err


@pytest.mark.parametrize(
    "goal",
    [
        {"capacity": 10, "days": 3},  # no date
        {"capacity": 10, "month": "2026-13", "days": 3},
        {"capacity": 10, "month": "2026-11", "start_on": "2026-11-02", "days": 3},
        {"capacity": 10, "month": "2026-11"},  # no length
        {"capacity": 10, "month": "2026-11", "days": 3, "topics": {"TP99": 1.0}},
        {"capacity": 10, "month": "2026-11", "days": 3, "unit_ids": ["U9999"]},
        {"capacity": 10, "month": "2026-11", "days": 3, "fairness_bound": 0},
    ],
)
def test_malformed_goals_are_422_not_500(ctx, goal):
    r = ctx["org"].post("/v1/classes/design", json=goal)
    assert r.status_code == 422, r.text
    assert set(r.json()["error"]) == {"code", "message"}
