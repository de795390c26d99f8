from collections import Counter

import pytest

from ganxun.training.bundle import load_bundle


@pytest.fixture(scope="module")
def ctx(trained, open_client):
    fitted, _ = load_bundle(trained[0].bundle)
    classes = fitted.planning.tables["classes"]
    rollcall = classes[classes["kind"] == "rollcall"]
    sessions = fitted.planning.tables["class_sessions"]
    with_sessions = rollcall[rollcall["class_id"].isin(sessions["class_id"])]
    return {
        "org": open_client(trained[1]),
        "classes": with_sessions,
        "fitted": fitted,
        "art": trained[1],
    }


def test_teachers_per_slot_and_staff(ctx):
    c, cls = ctx["org"], ctx["classes"].iloc[0]
    body = c.post(f"/v1/classes/{cls['class_id']}/teachers", json={"k": 3}).json()
    assert body["slots"]
    for slot in body["slots"]:
        ratings = [t["predicted_rating"] for t in slot["teachers"]]
        assert 1 <= len(ratings) <= 3 and ratings == sorted(ratings, reverse=True)
        assert all(1 <= r <= 5 for r in ratings) and all(t["reasons"] for t in slot["teachers"])
    staff = c.post(f"/v1/classes/{cls['class_id']}/staff", json={"k": 3}).json()["staff"]
    assert len(staff) == 3 and staff[0]["predicted_rating"] >= staff[-1]["predicted_rating"]


def test_teacher_plan_respects_dates_and_load(ctx):
    ids = ctx["classes"]["class_id"].head(6).tolist()
    body = (
        ctx["org"]
        .post("/v1/plans/teachers", json={"class_ids": ids, "max_sessions_per_month": 3})
        .json()
    )
    filled = [s for s in body["slots"] if s["teacher_id"]]
    assert filled and body["unfilled"] == len(body["slots"]) - len(filled)
    per_date = Counter((s["teacher_id"], s["session_on"]) for s in filled)
    classes_per_date = {}
    for s in filled:
        classes_per_date.setdefault((s["teacher_id"], s["session_on"]), set()).add(s["class_id"])
    assert all(len(v) == 1 for v in classes_per_date.values())
    per_month = Counter((s["teacher_id"], s["session_on"][:7]) for s in filled)
    assert max(per_month.values()) <= 3 and per_date
    for s in body["slots"]:
        assert (s["teacher_id"] is None) == (s["unfilled_reason"] is not None)


def test_rollcall_roster_meets_every_constraint(ctx):
    cls = ctx["classes"].iloc[-1]
    r = ctx["org"].post("/v1/rollcall", json={"class_id": cls["class_id"], "max_recent_hours": 400})
    assert r.status_code == 200, r.text
    body = r.json()
    roster = body["roster"]
    assert len(roster) == int(cls["capacity"])
    assert {x["rank"] for x in roster} <= set(cls["target_ranks"])
    assert all(x["recent_hours"] <= 400 and x["eligible"] for x in roster)
    report = {x["constraint"]: x for x in body["constraints"]}
    assert report["capacity"]["used"] <= report["capacity"]["limit"]
    assert all(x["reasons"] for x in roster)


def test_inline_rollcall_with_quotas(ctx):
    info = ctx["fitted"].catalog.cadre_info
    units = info["unit_id"].value_counts().index[:4].tolist()
    quotas = dict.fromkeys(units, 1)
    body = {
        "topics": {"TP03": 0.7, "TP10": 0.3},
        "target_ranks": ["科员", "副科"],
        "capacity": 8,
        "unit_quotas": quotas,
    }
    r = ctx["org"].post("/v1/rollcall", json=body)
    assert r.status_code == 200, r.text
    roster = r.json()["roster"]
    per_unit = Counter(x["unit_id"] for x in roster)
    assert len(roster) == 8 and all(per_unit[u] <= 1 for u in units)
    # removing the top candidate brings in the next best, still within every constraint
    top = roster[0]["cadre_id"]
    again = (
        ctx["org"].post("/v1/rollcall", json={**body, "exclude_cadre_ids": [top]}).json()["roster"]
    )
    assert top not in {x["cadre_id"] for x in again} and len(again) == 8


@pytest.mark.parametrize(
    "body, words",
    [
        ({"topics": {"TP03": 1}, "target_ranks": ["副厅"], "capacity": 500}, "500 places"),
        ({"topics": {"TP99": 1}, "capacity": 5}, "TP99"),
        ({"capacity": 5}, "class_id"),
    ],
)
def test_impossible_requests_are_422_not_500(ctx, body, words):
    r = ctx["org"].post("/v1/rollcall", json=body)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]["message"]


def test_quotas_below_capacity_name_the_constraint(ctx):
    info = ctx["fitted"].catalog.cadre_info
    quotas = dict.fromkeys(info["unit_id"].unique().tolist(), 0)
    r = ctx["org"].post(
        "/v1/rollcall", json={"topics": {"TP01": 1}, "capacity": 5, "unit_quotas": quotas}
    )
    assert r.status_code == 422 and "unit_quotas" in r.json()["error"]["message"]


def test_class_scopes(ctx, open_client):
    cls = ctx["classes"].iloc[0]
    own = open_client(ctx["art"], "institution", cls["institution_id"])
    other = open_client(ctx["art"], "institution", "I-NONE")
    unit = open_client(ctx["art"], "unit", "U0001")
    url = f"/v1/classes/{cls['class_id']}/teachers"
    assert own.post(url, json={}).status_code == 200
    assert other.post(url, json={}).status_code == 404  # as for a class that does not exist
    assert unit.post(url, json={}).status_code == 403
    assert own.post("/v1/rollcall", json={"class_id": cls["class_id"]}).status_code == 403
    assert ctx["org"].post("/v1/classes/NOPE/teachers", json={}).status_code == 404


CLASS_CALLS = {
    "teachers": lambda c, cls: c.post(f"/v1/classes/{cls}/teachers", json={"k": 1}),
    "staff": lambda c, cls: c.post(f"/v1/classes/{cls}/staff", json={"k": 1}),
    "plan": lambda c, cls: c.post("/v1/plans/teachers", json={"class_ids": [cls]}),
    "rollcall": lambda c, cls: c.post("/v1/rollcall", json={"class_id": cls}),
}
# role -> endpoint -> (status for a class of the key's institution, for another institution's)
CLASS_MATRIX = {
    "org": {
        "teachers": (200, 200),
        "staff": (200, 200),
        "plan": (200, 200),
        "rollcall": (200, 200),
    },
    "institution": {
        "teachers": (200, 404),
        "staff": (200, 404),
        "plan": (200, 404),
        "rollcall": (403, 403),  # calling cadres to a class is the organisation department's
    },
    "unit": {
        "teachers": (403, 403),
        "staff": (403, 403),
        "plan": (403, 403),
        "rollcall": (403, 403),
    },
    "cadre": {
        "teachers": (403, 403),
        "staff": (403, 403),
        "plan": (403, 403),
        "rollcall": (403, 403),
    },
}


@pytest.mark.parametrize("role", sorted(CLASS_MATRIX))
@pytest.mark.parametrize("endpoint", sorted(CLASS_CALLS))
def test_class_scope_matrix(ctx, open_client, role, endpoint):
    classes = ctx["classes"]
    mine = classes.iloc[0]
    theirs = classes[classes["institution_id"] != mine["institution_id"]].iloc[0]
    scope = {
        "org": None,
        "institution": mine["institution_id"],
        "unit": str(ctx["fitted"].catalog.units.ids_[0]),
        "cadre": str(ctx["fitted"].catalog.cadres.ids_[0]),
    }[role]
    client = ctx["org"] if role == "org" else open_client(ctx["art"], role, scope)
    own = CLASS_CALLS[endpoint](client, mine["class_id"])
    other = CLASS_CALLS[endpoint](client, theirs["class_id"])
    assert (own.status_code, other.status_code) == CLASS_MATRIX[role][endpoint], (
        own.text,
        other.text,
    )
    for answer in (own, other):
        if answer.status_code == 403:
            assert answer.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", ["institution", "unit", "cadre"])
@pytest.mark.parametrize("endpoint", sorted(CLASS_CALLS))
def test_unknown_and_other_institutions_classes_get_the_same_answer(
    ctx, open_client, role, endpoint
):
    classes = ctx["classes"]
    mine = classes.iloc[0]
    theirs = classes[classes["institution_id"] != mine["institution_id"]].iloc[0]["class_id"]
    scope = {
        "institution": mine["institution_id"],
        "unit": str(ctx["fitted"].catalog.units.ids_[0]),
        "cadre": str(ctx["fitted"].catalog.cadres.ids_[0]),
    }[role]
    client = open_client(ctx["art"], role, scope)
    outside = CLASS_CALLS[endpoint](client, theirs)
    unknown = CLASS_CALLS[endpoint](client, "B99999")
    assert outside.status_code == unknown.status_code and outside.status_code in (403, 404)
    assert outside.text.replace(theirs, "X") == unknown.text.replace("B99999", "X")
