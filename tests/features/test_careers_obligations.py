"""Post history and hour rules on a handmade world whose answers can be worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from ganxun.features.careers import posts_as_of, posts_at, promotions, service_dates
from ganxun.features.contracts import TABLES, empty_table, validate
from ganxun.features.obligations import (
    DEFAULT_RULES,
    appointment_training,
    compliance,
    forecast_rows,
    hour_kinds,
    mandatory_courses,
    mandatory_due,
    period_window,
)


@pytest.fixture()
def world() -> dict[str, pd.DataFrame]:
    raw = {name: empty_table(name) for name in TABLES if TABLES[name].required}
    raw["topics"] = pd.DataFrame({"topic_id": ["TP01"], "name_zh": ["理想信念"], "name_en": ["x"]})
    raw["units"] = pd.DataFrame(
        {
            "unit_id": ["U1", "U2"],
            "name": ["a", "b"],
            "district": ["d", "d"],
            "level": ["区县", "区县"],
            "sector": ["s", "s"],
        }
    )
    raw["cadres"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C2", "C3", "C4"],
            "unit_id": ["U2", "U1", "U1", "U1"],
            "rank": ["副处", "科员", "副科", "正科"],
            "category": ["政法"] * 4,
            "birth_year": [1975, 1990, 1985, 1980],
            "gender": [None] * 4,
            "education": [None] * 4,
            "appointed_on": [None] * 4,
        }
    )
    raw["cadre_posts"] = pd.DataFrame(
        {
            # C1: 正科 in U1, promoted to 副处 in U2 on 2025-07-01
            # C2: hired 2025-03-01; C3: left 2025-06-30; C4: no history (cadres row holds)
            "cadre_id": ["C1", "C1", "C2", "C3"],
            "unit_id": ["U1", "U2", "U1", "U1"],
            "rank": ["正科", "副处", "科员", "副科"],
            "category": ["政法"] * 4,
            "from_on": ["2020-01-01", "2025-07-01", "2025-03-01", "2019-01-01"],
            "to_on": ["2025-06-30", None, None, "2025-06-30"],
        }
    )
    raw["institutions"] = pd.DataFrame({"institution_id": ["I1"], "name": ["n"], "kind": ["党校"]})
    raw["courses"] = pd.DataFrame(
        {
            "course_id": ["K1", "K2", "K3", "K4"],
            "title": ["面授课", "网络课", "必修一", "必修一（第二版）"],
            "mode": ["面授", "网络", "网络", "网络"],
            "hours": [40.0, 10.0, 5.0, 5.0],
            "level": [1, 1, 1, 1],
            "institution_id": ["I1"] * 4,
            "teacher_id": [None] * 4,
            "published_on": ["2024-01-01", "2024-01-01", "2025-01-05", "2025-02-01"],
            "mandatory": [None, None, "是", "是"],
        }
    )
    raw["course_topics"] = pd.DataFrame(
        {"course_id": ["K1", "K2", "K3", "K4"], "topic_id": ["TP01"] * 4, "weight": [1.0] * 4}
    )
    raw["classes"] = pd.DataFrame(
        {
            "class_id": ["B1", "B2"],
            "name": ["调训班", "网络班"],
            "institution_id": ["I1", "I1"],
            "kind": ["rollcall", "online"],
            "start_on": ["2025-09-01", "2025-04-01"],
            "end_on": ["2025-09-10", "2025-05-01"],
            "capacity": [30, 100],
            "target_ranks": ["副处", "科员|副科"],
            "staff_id": [None, None],
        }
    )
    raw["items"] = pd.DataFrame({"item_id": ["Q1"], "topic_id": ["TP01"]})
    raw["enrollments"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C1", "C4", "C4", "C2", "C4"],
            "course_id": ["K1", "K2", "K1", "K2", "K3", "K3"],
            "class_id": ["B1", None, None, "B2", None, None],
            "source": ["rollcall", "self", "self", "self", "mandatory", "mandatory"],
            "enrolled_on": [
                "2025-09-01",
                "2025-01-10",
                "2025-02-01",
                "2025-04-02",
                "2025-03-05",
                "2025-03-01",
            ],
            "completed_on": [
                "2025-09-10",
                "2025-01-20",
                "2025-02-02",
                "2025-04-20",
                None,
                "2025-03-02",
            ],
            "progress": [1.0, 1.0, 1.0, 1.0, 0.4, 1.0],
            "hours": [40.0, 10.0, 40.0, 10.0, 2.0, 5.0],
        }
    )
    report = validate(raw)
    assert report.problems == []
    return report.tables


def test_the_post_held_at_a_date(world):
    before = posts_at(world, "2025-05-01").set_index("cadre_id")
    after = posts_at(world, "2025-08-01").set_index("cadre_id")
    assert before.loc["C1", ["unit_id", "rank"]].tolist() == ["U1", "正科"]
    assert after.loc["C1", ["unit_id", "rank"]].tolist() == ["U2", "副处"]
    assert before.loc["C3", "in_service"] and not after.loc["C3", "in_service"]
    assert not posts_at(world, "2025-01-01").set_index("cadre_id").loc["C2", "in_service"]
    assert after.loc["C4", "in_service"] and after.loc["C4", "rank"] == "正科"


def test_promotions_hires_and_leavers(world):
    promo = promotions(world)
    assert promo[["cadre_id", "from_rank", "to_rank"]].values.tolist() == [["C1", "正科", "副处"]]
    assert promo["promoted_on"].iloc[0] == pd.Timestamp("2025-07-01")
    dates = service_dates(world)
    assert dates.loc["C2", "hired_on"] == pd.Timestamp("2025-03-01")
    assert dates.loc["C3", "left_on"] == pd.Timestamp("2025-06-30")
    assert pd.isna(dates.loc["C1", "left_on"])


def test_tables_as_of_a_date_hold_only_what_was_known(world):
    known = posts_as_of(world, pd.Timestamp("2025-05-01"))
    cad = known["cadres"].set_index("cadre_id")
    assert "C2" in cad.index  # hired before
    assert cad.loc["C1", "rank"] == "正科"  # not yet promoted
    assert known["cadre_posts"]["to_on"].isna().all()  # C3 leaves later: still open then
    early = posts_as_of(world, pd.Timestamp("2025-02-01"))
    assert "C2" not in set(early["cadres"]["cadre_id"])  # hired after


def test_hour_kinds_follow_class_kind_and_mode(world):
    kinds = hour_kinds(world)
    # C1 K1 in rollcall class face-to-face: 脱产 and 集中; C1 K2 online self: 网络;
    # C4 K1 face-to-face but no class: nothing; C4 K2 in an online class: 集中 and 网络
    assert kinds.values.tolist() == [
        [True, True, False],
        [False, False, True],
        [False, False, False],
        [False, True, True],
        [False, False, True],
        [False, False, True],
    ]


def test_compliance_prorates_a_promotion_and_counts_kinds(world):
    got = compliance(world, "2025-12-01").set_index(["cadre_id", "rule_id"])
    county = got.loc[("C1", "R-county-5y")]
    start, end = period_window("2025-12-01", 5)
    assert (start, end) == (pd.Timestamp("2023-01-01"), pd.Timestamp("2028-01-01"))
    share = (end - pd.Timestamp("2025-07-01")).days / (end - start).days
    assert county["required"] == pytest.approx(round(550 * share, 1))
    assert county["hours"] == 40.0 and not county["met"]
    township = got.loc[("C4", "R-township-1y")]
    assert (township["required"], township["hours"]) == (90.0, 10.0)
    online = got.loc[("C4", "R-online-1y")]
    assert online["hours"] == 15.0  # K2 in the online class and the mandatory K3
    assert ("C3", "R-township-1y") not in got.index  # left: no obligation
    assert ("C1", "R-township-1y") not in got.index  # a 副处 now


def test_the_forecast_reads_whether_the_last_window_was_met(world):
    rules = DEFAULT_RULES.copy()
    rules.loc[rules["kind"] == "网络", "min_hours"] = 12.0  # 2025: C4 had 15 online hours, C1 10
    rows = forecast_rows({**world, "training_rules": rules}, "2026-03-01")
    last = rows[rows["rule_id"] == "R-online-1y"].set_index("cadre_id")["last_window_met"]
    assert last["C4"] == 1.0 and last["C1"] == 0.0


def test_a_promotion_without_the_hours_is_due_within_twelve_months(world):
    due = appointment_training(world, "2025-12-01")
    row = due[due["rule_id"] == "R-county-5y"].iloc[0]
    assert row["cadre_id"] == "C1"
    assert row["due_on"] == pd.Timestamp("2026-07-01")
    assert row["missing"] == 550.0  # no 脱产 hours in the five years before the promotion
    assert row["done"] == 40.0 and row["remaining"] == 510.0
    assert row["status"] == "open"
    late = appointment_training(world, "2026-08-01")
    assert late[late["rule_id"] == "R-county-5y"]["status"].iloc[0] == "overdue"


def test_the_mandatory_package_is_due_until_done(world):
    must = mandatory_courses(world)
    assert must[["K3", "K4"]].all() and not must[["K1", "K2"]].any()
    due = mandatory_due(world, "2025-06-01")
    # K3 and its re-issue K4 are one course: C4 completed it; C2 started but did not finish;
    # C3 is still in service in June; C1 has not taken it
    pending = set(zip(due["cadre_id"], due["course_id"], strict=True))
    assert ("C4", "K3") not in pending and ("C4", "K4") not in pending
    assert pending == {("C2", "K3"), ("C1", "K3"), ("C3", "K3")}  # K4 is K3 again
    assert set(mandatory_due(world, "2025-08-01")["cadre_id"]) == {"C1", "C2"}


def test_default_rules_follow_the_2023_regulation():
    rules = DEFAULT_RULES.set_index("rule_id")
    assert rules.loc["R-county-5y", ["min_hours", "kind"]].tolist() == [550.0, "脱产"]
    assert rules.loc["R-township-1y", ["min_hours", "kind"]].tolist() == [90.0, "集中"]
    assert np.array_equal(rules["after_promotion_months"].fillna(0).to_numpy(), [12, 12, 0])


def test_the_forecast_reads_how_much_of_a_cadres_recent_enrolments_they_completed(world):
    at = pd.Timestamp("2026-03-01")
    e = world["enrollments"]
    recent = e[(e["enrolled_on"] < at) & (e["enrolled_on"] >= at - pd.Timedelta(days=365))]
    done = recent["completed_on"].notna() & (recent["completed_on"] < at)
    cadre = done.groupby(recent["cadre_id"]).mean().idxmax()
    mine = recent[recent["cadre_id"] == cadre]
    expected = float((mine["completed_on"].notna() & (mine["completed_on"] < at)).mean())
    assert expected > 0
    rows = forecast_rows(world, at).set_index("cadre_id")
    assert rows.loc[[cadre], "completion_rate"].eq(expected).all()
    # a cadre who stops completing what they enrol in reads as less engaged
    dropped = e.assign(completed_on=e["completed_on"].where(e["cadre_id"] != cadre))
    again = forecast_rows({**world, "enrollments": dropped}, at).set_index("cadre_id")
    assert (again.loc[[cadre], "completion_rate"] == 0.0).all()
    assert rows["completion_rate"].between(0, 1).all()


def test_the_forecast_reads_last_years_habit_and_the_open_backlog(world):
    rules = DEFAULT_RULES.copy()
    rules.loc[rules["kind"] == "网络", "min_hours"] = 12.0
    tables = {**world, "training_rules": rules}
    rows = forecast_rows(tables, "2026-04-01")
    online = rows[rows["rule_id"] == "R-online-1y"].set_index("cadre_id")
    # C4's 2025 online hours: K3 (5, done 2025-03-02) and K2 (10, done 2025-04-20)
    assert online.loc["C4", "last_window_ratio"] == pytest.approx(15 / 12)
    # by the same point of 2025 (365 days before 2026-04-01) only K3 was done
    assert online.loc["C4", "same_point_last"] == pytest.approx(5 / 12)
    assert rows[["last_window_ratio", "same_point_last"]].le(3.0).all().all()
    # K2, enrolled 2025-04-02, was still open on 2025-04-10; C2 never finished K3
    spring = forecast_rows(tables, "2025-04-10").set_index("cadre_id")
    assert spring.loc[["C4"], "open_share"].eq(1 / 3).all()
    assert spring.loc[["C2"], "open_share"].eq(1.0).all()
    summer = forecast_rows(tables, "2025-06-01").set_index("cadre_id")
    assert summer.loc[["C4"], "open_share"].eq(0.0).all()
