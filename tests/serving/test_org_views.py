"""The organisation department's views of a cadre (issue 14) on the realistic tiny city.

Training dossier, hour compliance with 任职培训, the unit ledger and its Excel export, the
city summary, the selection reference; scopes and audit; leavers and the compulsory package in
recommendations; the forecast in rollcall reasons. Behaviour under retraining: a completed
脱产 class moves a cadre from at risk to on track, a promotion creates a 任职培训 due in 12
months.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from ganxun.serving.auth import read_audit
from ganxun.training.database import default_url, make_engine


@pytest.fixture(scope="module")
def real(trained_real):
    result, artifacts = trained_real
    return result, artifacts


@pytest.fixture(scope="module")
def client(real, open_client):
    return open_client(real[1])


@pytest.fixture(scope="module")
def predictor(client):
    return client.app.state.store.current


@pytest.fixture(scope="module")
def tables(real):
    return real[0].report.tables


def _in_service(predictor) -> pd.DataFrame:
    info = predictor.fitted.catalog.cadre_info
    return info[info["in_service"]]


# --- dossier ------------------------------------------------------------------------------------


def test_dossier_hours_equal_the_enrolments_per_year(client, predictor, tables):
    e = tables["enrollments"]
    e = e[e["enrolled_on"] < pd.Timestamp(predictor.fitted.asof)]
    busiest = e["cadre_id"].value_counts().index[:3].tolist()
    moved = tables["cadre_posts"]["cadre_id"].value_counts().index[:2].tolist()
    for cadre_id in dict.fromkeys(busiest + moved):
        r = client.get(f"/v1/cadres/{cadre_id}/dossier")
        assert r.status_code == 200, r.text
        d = r.json()
        mine = e[e["cadre_id"] == cadre_id]
        want = mine.groupby(mine["enrolled_on"].dt.year)["hours"].sum()
        got = {y["year"]: y["hours"] for y in d["years"] if y["hours"] > 0}
        assert set(got) == set(want.index)
        for year, hours in want.items():
            assert got[year] == pytest.approx(hours, abs=0.02)
            year_row = next(y for y in d["years"] if y["year"] == year)
            assert sum(c["hours"] for c in year_row["courses"]) == pytest.approx(hours, abs=0.05)
            assert sum(year_row["hours_by_source"].values()) == pytest.approx(hours, abs=0.05)
        assert d["total_hours"] == pytest.approx(mine["hours"].sum(), abs=0.05)
        posts = tables["cadre_posts"]
        held = posts[(posts["cadre_id"] == cadre_id) & (posts["from_on"] < predictor.fitted.asof)]
        assert len(d["posts"]) == max(len(held), 1)


def test_dossier_holds_classes_exams_radar_and_obligations(client, predictor, tables):
    from ganxun.features.history import prepost_gains

    gains = prepost_gains(tables)
    gains = gains[pd.to_datetime(gains["end_on"]) < pd.Timestamp(predictor.fitted.asof)]
    cadre_id = gains["cadre_id"].value_counts().index[0]
    d = client.get(f"/v1/cadres/{cadre_id}/dossier").json()
    exams = [x for y in d["years"] for x in y["exams"]]
    assert len(exams) == (gains["cadre_id"] == cadre_id).sum()
    mine = gains[gains["cadre_id"] == cadre_id].set_index("class_id")
    for x in exams:
        assert x["gain"] == pytest.approx(100 * mine.at[x["class_id"], "gain"], abs=0.11)
    classes = [c for y in d["years"] for c in y["classes"]]
    assert classes and all(c["name"] for c in classes)  # names as the data has them
    radar = [y for y in d["years"] if y["reserve"]]
    assert len(radar) >= 2 and all(len(y["reserve"]) == 12 for y in radar)
    today = {
        t["topic_id"]: t["reserve"]
        for t in client.get(f"/v1/cadres/{cadre_id}/knowledge").json()["topics"]
    }
    assert {t["topic_id"]: t["reserve"] for t in radar[-1]["reserve"]} == pytest.approx(
        today, abs=0.06
    )
    assert len(d["required"]) == 12 and d["reserve_note"]
    assert d["rules"] and {r["status"] for r in d["rules"]} <= {
        "已达标",
        "进度正常",
        "有风险",
        "已逾期",
    }


def test_dossier_as_excel(client, predictor):
    from openpyxl import load_workbook

    cadre_id = _in_service(predictor)["cadre_id"].iloc[0]
    r = client.get(f"/v1/cadres/{cadre_id}/dossier?format=xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["任职经历", "参训记录", "考试成绩", "年末知识储备", "学时达标"]
    d = client.get(f"/v1/cadres/{cadre_id}/dossier").json()
    courses = list(book["参训记录"].iter_rows(min_row=4, values_only=True))
    assert len(courses) == sum(len(y["courses"]) for y in d["years"])


# --- compliance ---------------------------------------------------------------------------------


def test_cadre_compliance_per_rule_with_the_classes_that_would_count(client, predictor):
    views = predictor._compliance_views if hasattr(predictor, "_compliance_views") else None
    s = predictor.fitted.compliance.standing
    cadre_id = s.loc[s["status"] == "有风险", "cadre_id"].iloc[0]
    r = client.get(f"/v1/cadres/{cadre_id}/compliance")
    assert r.status_code == 200
    body = r.json()
    mine = s[s["cadre_id"] == cadre_id]
    assert [x["rule_id"] for x in body["rules"]] == mine["rule_id"].tolist()
    for x, (_, row) in zip(body["rules"], mine.iterrows(), strict=True):
        assert x["p_met"] == pytest.approx(row["p_met"], abs=1e-3) and x["status"] == row["status"]
        for c in x["open_classes"]:  # published, open to the rank, before the period ends
            assert c["start_on"] >= body["asof"] and c["start_on"] < x["window_end"]
    assert views is None or views is predictor._compliance_views


def test_unit_ledger_matches_the_standing_and_its_excel_export(client, predictor):
    from openpyxl import load_workbook

    unit = _in_service(predictor)["unit_id"].value_counts().index[0]
    body = client.get(f"/v1/units/{unit}/compliance").json()
    s = predictor.fitted.compliance.standing
    members = set(_in_service(predictor).query("unit_id == @unit")["cadre_id"])
    rule_rows = [r for r in body["rows"] if not r["obligation"].startswith("任职培训")]
    assert len(rule_rows) == s["cadre_id"].isin(members).sum()
    assert sum(body["counts"].values()) == len(body["rows"])
    order = {"已逾期": 0, "有风险": 1, "待完成": 2, "进度正常": 3, "已达标": 4}
    assert [order[r["status"]] for r in body["rows"]] == sorted(
        order[r["status"]] for r in body["rows"]
    )
    r = client.get(f"/v1/units/{unit}/compliance?format=xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(r.content))["学时台账"]
    header = [c.value for c in sheet[3]]
    assert header[:4] == ["干部编号", "职级", "岗位类别", "培训要求"] and header[-1] == "状态"
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert len(rows) == len(body["rows"])
    for got, want in zip(rows, body["rows"], strict=True):
        assert got[0] == want["cadre_id"] and got[3] == want["obligation"]
        assert got[7] == pytest.approx(want["due"]) and got[8] == want["deadline"]
        assert got[10] == want["status"]
        assert (got[9] is None) == (want["p_met"] is None)


def test_summary_adds_up_and_is_for_org_keys_only(client, real, open_client, predictor):
    body = client.get("/v1/compliance/summary").json()
    total = body["total"]
    for key in ("cadres", "rule_lines", "at_risk", "overdue", "met", "on_track"):
        assert sum(g[key] for g in body["by_district"]) == total[key]
        assert sum(g[key] for g in body["by_level"]) == total[key]
    assert total["cadres"] == len(_in_service(predictor))
    unit = _in_service(predictor)["unit_id"].iloc[0]
    unit_client = open_client(real[1], "unit", unit)
    r = unit_client.get("/v1/compliance/summary")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_a_unit_key_reads_its_own_ledger_and_cadres_only(real, open_client, predictor):
    people = _in_service(predictor)
    mine, other = people["unit_id"].value_counts().index[:2]
    unit_client = open_client(real[1], "unit", mine)
    assert unit_client.get(f"/v1/units/{mine}/compliance").status_code == 200
    foreign = unit_client.get(f"/v1/units/{other}/compliance")
    unknown = unit_client.get("/v1/units/U9999/compliance")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
    assert foreign.json()["error"]["message"].replace(other, "X") == unknown.json()["error"][
        "message"
    ].replace("U9999", "X")
    stranger = people.loc[people["unit_id"] == other, "cadre_id"].iloc[0]
    own = people.loc[people["unit_id"] == mine, "cadre_id"].iloc[0]
    for path in ("dossier", "compliance"):
        assert unit_client.get(f"/v1/cadres/{own}/{path}").status_code == 200
        assert unit_client.get(f"/v1/cadres/{stranger}/{path}").status_code == 404
        assert unit_client.get(f"/v1/cadres/C999999/{path}").status_code == 404
    assert (
        open_client(real[1], "institution", "I001").get(f"/v1/units/{mine}/compliance").status_code
        == 403
    )
    assert open_client(real[1], "cadre", own).get(f"/v1/units/{mine}/compliance").status_code == 403


def test_every_profile_read_is_audited(client, real, predictor):
    cadre_id = _in_service(predictor)["cadre_id"].iloc[5]
    client.get(f"/v1/cadres/{cadre_id}/dossier")
    client.get(f"/v1/cadres/{cadre_id}/compliance")
    actions = {
        a["action"] for a in read_audit(make_engine(default_url(real[1])), cadre_id=cadre_id)
    }
    assert {"dossier", "compliance"} <= actions


# --- issue 13's serving gaps ---------------------------------------------------------------------


def test_a_cadre_who_left_gets_no_recommendations(client, predictor):
    info = predictor.fitted.catalog.cadre_info
    left = info.loc[~info["in_service"], "cadre_id"].tolist()
    assert left
    r = client.post(f"/v1/cadres/{left[0]}/recommendations", json={"k": 5})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "cadre_left" and "离任" in r.json()["error"]["message"]
    r = client.post("/v1/recommendations/batch", json={"cadre_ids": [left[0]], "k": 5})
    assert r.status_code == 409
    rows = predictor.fitted.catalog.cadres.index(left)
    assert (predictor.lists.ids[rows] == -1).all()  # the default lists skip them
    ex = client.get("/v1/examples").json()
    assert not {c["cadre_id"] for c in ex["cadres"]} & set(left)
    assert client.get(f"/v1/cadres/{left[0]}/dossier").json()["in_service"] is False


def test_the_compulsory_package_comes_apart_from_the_recommendations(client, predictor):
    due = predictor.fitted.compliance.mandatory
    cadre_id = due["cadre_id"].value_counts().index[0]
    body = client.post(f"/v1/cadres/{cadre_id}/recommendations", json={"k": 20}).json()
    want = set(due.loc[due["cadre_id"] == cadre_id, "course_id"])
    assert {m["course_id"] for m in body["mandatory"]} == want and want
    mandatory = predictor.fitted.catalog.course_info
    compulsory = set(mandatory.loc[mandatory["mandatory"], "course_id"])
    assert not {i["course_id"] for i in body["items"]} & compulsory


def test_rollcall_reasons_carry_the_forecast_and_the_report_counts_at_risk(client, predictor):
    classes = predictor.fitted.planning.tables["classes"]
    s = predictor.fitted.compliance.standing
    risky = set(s.loc[s["status"] == "有风险", "cadre_id"])
    used = 0
    for class_id in classes.loc[classes["kind"] == "rollcall", "class_id"].iloc[-8:]:
        body = client.post("/v1/rollcall", json={"class_id": class_id, "k": 300}).json()
        report = {c["constraint"]: c for c in body["constraints"]}
        assert "at_risk" in report
        marked = [c for c in body["roster"] if any("预计不达标" in r for r in c["reasons"])]
        assert report["at_risk"]["used"] == len(marked)
        assert {c["cadre_id"] for c in marked} <= risky
        assert report["at_risk"]["limit"] >= report["at_risk"]["used"]
        used += len(marked)
    assert used > 0  # some roster of the year's classes calls a cadre forecast to miss a rule


# --- selection ------------------------------------------------------------------------------------


def test_post_fit_ranks_with_evidence_and_says_it_is_a_reference(client, predictor):
    r = client.post("/v1/posts/fit", json={"post": {"rank": "副处", "category": "政法"}, "k": 500})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "不构成任用决定" in body["notice"] and body["method"]
    cands = body["candidates"]
    assert len(cands) == body["n_candidates"] > 20
    scores = [c["score"] for c in cands]
    assert scores == sorted(scores, reverse=True)
    assert [c["position"] for c in cands] == list(range(1, len(cands) + 1))
    assert {c["rank"] for c in cands} <= {"正科", "副处"}
    for c in cands:
        assert c["fit_low"] <= c["fit"] <= c["fit_high"]
        assert c["evidence"].startswith("依据：")
        assert c["thin_evidence"] == (c["evidence_level"] == "证据不足")
        assert len(c["shortfalls"]) == len(body["required"])
    thin = [c for c in cands if c["thin_evidence"]]
    other = [c for c in cands if not c["thin_evidence"]]
    assert thin and other
    assert all("证据不足" in c["evidence"] for c in thin)
    # thin evidence widens the interval (on average) instead of lowering the rank
    width = lambda group: np.mean([c["fit_high"] - c["fit_low"] for c in group])  # noqa: E731
    assert width(thin) > width(other)
    assert np.mean([c["position"] for c in thin]) < 0.75 * len(cands)


def test_post_fit_scopes_and_mistakes(client, real, open_client, predictor):
    people = _in_service(predictor)
    mine, other = people["unit_id"].value_counts().index[:2]
    unit_client = open_client(real[1], "unit", mine)
    post = {"rank": "正科", "category": "综合管理"}
    body = unit_client.post("/v1/posts/fit", json={"post": post}).json()
    assert {c["unit_id"] for c in body["candidates"]} == {mine}
    stranger = people.loc[people["unit_id"] == other, "cadre_id"].iloc[0]
    r1 = unit_client.post("/v1/posts/fit", json={"post": post, "cadre_ids": [stranger]})
    r2 = unit_client.post("/v1/posts/fit", json={"post": post, "cadre_ids": ["C999999"]})
    assert r1.status_code == r2.status_code == 404
    assert (
        unit_client.post("/v1/posts/fit", json={"post": post, "unit_ids": [other]}).status_code
        == 404
    )
    cadre_key = open_client(real[1], "cadre", stranger)
    assert cadre_key.post("/v1/posts/fit", json={"post": post}).status_code == 403
    bad_topic = client.post("/v1/posts/fit", json={"post": {**post, "topics": {"TPXX": 80}}})
    assert bad_topic.status_code == 422 and bad_topic.json()["error"]["code"] == "invalid_request"
    scale = client.post("/v1/posts/fit", json={"post": {**post, "topics": {"TP01": 180}}})
    assert scale.status_code == 422
    listed = client.post(
        "/v1/posts/fit",
        json={
            "post": {**post, "topics": {"TP01": 80, "TP03": 70}},
            "cadre_ids": people["cadre_id"].iloc[:5].tolist(),
        },
    ).json()
    assert listed["requirement_source"] == "request" and len(listed["candidates"]) == 5
    assert [t["topic_id"] for t in listed["required"]] == ["TP01", "TP03"]


# --- behaviour under retraining ---------------------------------------------------------------


def _offjob_class(tables, hours_needed: float):
    """A rollcall class taught in person, with enough hours of its courses."""
    from ganxun.features.obligations import _class_kinds

    kinds = _class_kinds(tables)
    sess = tables["class_sessions"].merge(tables["courses"][["course_id", "hours"]], on="course_id")
    per = sess.groupby("class_id")["hours"].sum()
    ok = [c for c, k in kinds.items() if "脱产" in k and per.get(c, 0) > 0]
    assert ok
    return max(ok, key=lambda c: per[c]), sess


def test_completing_an_offjob_class_moves_a_cadre_from_at_risk_to_on_track(tables, predictor):
    from ganxun.serving.compliance_views import ComplianceViews
    from ganxun.serving.predictor import Predictor
    from ganxun.training.fitting import fit_compliance

    asof = pd.Timestamp(predictor.fitted.asof)
    s = predictor.fitted.compliance.standing
    # an off-job (脱产) class counts toward both the 脱产 and the 集中 rules
    risky = s[s["kind"].isin(["脱产", "集中"]) & (s["status"] == "有风险")].sort_values("due")
    assert len(risky)
    row = risky.iloc[0]
    class_id, sess = _offjob_class(tables, row["due"])
    courses = sess[sess["class_id"] == class_id]
    # the class repeated until it covers what is missing: enrolments dated before the cut-off
    n = int(np.ceil(row["due"] / courses["hours"].sum()))
    new = pd.DataFrame(
        {
            "cadre_id": row["cadre_id"],
            "course_id": np.tile(courses["course_id"].to_numpy(), n),
            "class_id": class_id,
            "source": "rollcall",
            "enrolled_on": asof - pd.Timedelta(days=20),
            "completed_on": asof - pd.Timedelta(days=15),
            "progress": 1.0,
            "hours": np.tile(courses["hours"].to_numpy(float), n),
        }
    )
    more = {**tables, "enrollments": pd.concat([tables["enrollments"], new], ignore_index=True)}
    state = fit_compliance(more, asof)
    after = state.standing.set_index(["cadre_id", "rule_id"]).loc[(row["cadre_id"], row["rule_id"])]
    assert after["status"] in ("进度正常", "已达标") and after["p_met"] > row["p_met"]
    # and the service says so once it serves the retrained state
    fitted = predictor.fitted
    served = Predictor(type(fitted)(**{**vars(fitted), "compliance": state}), predictor.manifest)
    rules = ComplianceViews(served).cadre(row["cadre_id"])["rules"]
    assert next(r for r in rules if r["rule_id"] == row["rule_id"])["status"] in (
        "进度正常",
        "已达标",
    )


def test_a_promotion_creates_appointment_training_due_in_twelve_months(tables, predictor):
    from ganxun.serving.compliance_views import ComplianceViews
    from ganxun.serving.predictor import Predictor
    from ganxun.training.fitting import fit_compliance

    asof = pd.Timestamp(predictor.fitted.asof)
    people = _in_service(predictor)
    owed = set(predictor.fitted.compliance.appointment["cadre_id"])
    cadre_id = people.loc[
        (people["rank"] == "正科") & ~people["cadre_id"].isin(owed), "cadre_id"
    ].iloc[0]
    promoted_on = (asof - pd.Timedelta(days=60)).normalize()
    posts = tables["cadre_posts"].copy()
    mine = posts["cadre_id"] == cadre_id
    current = posts[mine].sort_values("from_on").iloc[-1] if mine.any() else None
    base = people.set_index("cadre_id").loc[cadre_id]
    if current is not None:
        posts.loc[current.name, "to_on"] = promoted_on - pd.Timedelta(days=1)
    else:  # a cadre the history does not mention: their cadres row becomes their first post
        posts = pd.concat(
            [
                posts,
                pd.DataFrame(
                    [
                        {
                            "cadre_id": cadre_id,
                            "unit_id": base["unit_id"],
                            "rank": "正科",
                            "category": base["category"],
                            "from_on": promoted_on - pd.Timedelta(days=3000),
                            "to_on": promoted_on - pd.Timedelta(days=1),
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
    new_post = {
        "cadre_id": cadre_id,
        "unit_id": base["unit_id"],
        "rank": "副处",
        "category": base["category"],
        "from_on": promoted_on,
        "to_on": pd.NaT,
    }
    posts = pd.concat([posts, pd.DataFrame([new_post])], ignore_index=True)
    state = fit_compliance({**tables, "cadre_posts": posts}, asof)
    due = state.appointment[state.appointment["cadre_id"] == cadre_id]
    assert len(due) == 1
    assert due["due_on"].iloc[0] == promoted_on + pd.DateOffset(months=12)
    assert due["status"].iloc[0] == "open" and due["remaining"].iloc[0] > 0
    fitted = predictor.fitted
    served = Predictor(type(fitted)(**{**vars(fitted), "compliance": state}), predictor.manifest)
    body = ComplianceViews(served).cadre(cadre_id)
    assert body["appointment"][0]["due_on"] == (promoted_on + pd.DateOffset(months=12)).date()
    assert (
        body["appointment"][0]["status"] == "待完成" and body["appointment"][0]["to_rank"] == "副处"
    )
