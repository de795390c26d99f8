"""The parts of the contract real exports need: posts, obligations, exams as kept, aliases."""

import pandas as pd

from ganxun.features.contracts import OPTIONAL_TABLES, TABLES, empty_table, validate


def _minimal() -> dict[str, pd.DataFrame]:
    raw = {name: empty_table(name) for name in TABLES if TABLES[name].required}
    raw["topics"] = pd.DataFrame({"topic_id": ["TP01"], "name_zh": ["理想信念"], "name_en": ["x"]})
    raw["units"] = pd.DataFrame(
        {"unit_id": ["U1"], "name": ["n"], "district": ["d"], "level": ["区县"], "sector": ["s"]}
    )
    raw["cadres"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C2"],
            "unit_id": ["U1", "U1"],
            "rank": ["科员", "副处"],
            "category": ["政法", "政法"],
            "birth_year": [1980, 1975],
            "gender": ["男", "女"],
            "education": ["本科", "硕士"],
            "appointed_on": ["2020-01-02", None],
        }
    )
    raw["institutions"] = pd.DataFrame({"institution_id": ["I1"], "name": ["n"], "kind": ["党校"]})
    raw["courses"] = pd.DataFrame(
        {
            "course_id": ["K1", "K2"],
            "title": ["a", "b"],
            "mode": ["面授", "网络"],
            "hours": [4.0, 2.0],
            "level": [1, 2],
            "institution_id": ["I1", "I1"],
            "teacher_id": [None, None],
            "published_on": ["2024-01-01", "2024-01-01"],
            "mandatory": ["否", "是"],
        }
    )
    raw["course_topics"] = pd.DataFrame(
        {"course_id": ["K1", "K2"], "topic_id": ["TP01", "TP01"], "weight": [1.0, 1.0]}
    )
    raw["items"] = pd.DataFrame({"item_id": ["Q1", "Q2"], "topic_id": ["TP01", "TP01"]})
    return raw


def test_optional_tables_may_be_absent_and_come_back_empty():
    report = validate(_minimal())
    assert report.fatal == []
    for name in OPTIONAL_TABLES:
        assert name in report.tables and report.tables[name].empty
        assert list(report.tables[name].columns) == list(TABLES[name].columns)
    assert {"cadre_posts", "training_rules", "exam_scores", "cadre_aliases"} <= set(OPTIONAL_TABLES)


def test_mandatory_flags_parse_yes_no_words_and_report_others():
    raw = _minimal()
    raw["courses"] = raw["courses"].assign(mandatory=["否", "maybe"])
    report = validate(raw)
    assert report.tables["courses"]["mandatory"].tolist() == [False]
    (bad,) = [p for p in report.problems if p.table == "courses"]
    assert (bad.row, bad.column) == (2, "mandatory") and "not a valid bool" in bad.reason
    raw["courses"] = raw["courses"].drop(columns="mandatory")
    assert validate(raw).tables["courses"]["mandatory"].isna().all()


def test_posts_date_order_and_unknown_units_are_named():
    raw = _minimal()
    raw["cadre_posts"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C1", "C2", "C2"],
            "unit_id": ["U1", "U1", "U1", "U9"],
            "rank": ["科员", "副科", "正科", "副处"],
            "category": ["政法", "政法", "政法", "政法"],
            "from_on": ["2018-01-01", "2023-05-01", "2019-01-01", "2022-01-01"],
            "to_on": ["2023-04-30", None, "2018-12-31", None],
        }
    )
    report = validate(raw)
    reasons = {(p.row, p.column): p.reason for p in report.problems if p.table == "cadre_posts"}
    assert reasons == {
        (3, "to_on"): "to_on is before from_on",
        (4, "unit_id"): "unknown units id 'U9'",
    }
    assert len(report.tables["cadre_posts"]) == 2


def test_exact_duplicate_answers_and_ratings_are_reported_not_counted_twice():
    raw = _minimal()
    raw["responses"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C1", "C1", "C2"],
            "item_id": ["Q1", "Q1", "Q1", "Q1"],
            "answered_on": ["2024-03-01"] * 4,
            "correct": [1, 1, 0, 1],
            "class_id": [None] * 4,
            "phase": ["self", "self", "self", "pre"],
        }
    )
    report = validate(raw)
    (dup,) = [p for p in report.problems if p.table == "responses"]
    assert (dup.row, dup.reason) == (2, "exact duplicate of row 1")
    kept = report.tables["responses"]
    assert len(kept) == 3 and kept["phase"].tolist() == ["self", "self", "pre"]


def test_total_score_exams_check_score_against_maximum():
    raw = _minimal()
    raw["exam_scores"] = pd.DataFrame(
        {
            "cadre_id": ["C1", "C2", "C2"],
            "exam_id": ["E1", "E1", "E2"],
            "class_id": [None, None, None],
            "topic_id": ["TP01", None, "TP01"],
            "score": [78, 120, 40],
            "max_score": [100, 100, 50],
            "taken_on": ["2024-06-01"] * 3,
        }
    )
    report = validate(raw)
    (bad,) = [p for p in report.problems if p.table == "exam_scores"]
    assert (bad.row, bad.column) == (2, "score") and "above max_score" in bad.reason
    assert report.tables["exam_scores"]["phase"].isna().all()  # optional column


def test_source_system_ids_are_mapped_and_conflicting_aliases_named():
    raw = _minimal()
    raw["cadre_aliases"] = pd.DataFrame(
        {
            "source_system": ["lms", "lms", "exam", "exam", "hr"],
            "source_id": ["L-1", "L-2", "X-7", "X-7", "H-1"],
            "cadre_id": ["C1", "C2", "C1", "C2", "C404"],
        }
    )
    raw["enrollments"] = pd.DataFrame(
        {
            "cadre_id": ["L-1", "C2", "X-7", "nobody"],
            "course_id": ["K1", "K1", "K2", "K2"],
            "class_id": [None] * 4,
            "source": ["self", "self", "mandatory", "self"],
            "enrolled_on": ["2024-02-01"] * 4,
            "completed_on": [None] * 4,
            "progress": [0.5] * 4,
            "hours": [2.0] * 4,
        }
    )
    report = validate(raw)
    alias_problems = {(p.row, p.reason) for p in report.problems if p.table == "cadre_aliases"}
    assert alias_problems == {
        (3, "points at two cadres (C1, C2)"),
        (4, "points at two cadres (C1, C2)"),
        (5, "unknown cadres id 'C404'"),
    }
    enr = report.tables["enrollments"]
    assert enr["cadre_id"].tolist() == ["C1", "C2"]  # L-1 mapped; X-7 conflicting; nobody unknown
    assert enr["source"].tolist() == ["self", "self"]
    unknown = {p.row: p.reason for p in report.problems if p.table == "enrollments"}
    assert unknown == {3: "unknown cadres id 'X-7'", 4: "unknown cadres id 'nobody'"}


def test_training_rules_check_ranks_and_kind():
    raw = _minimal()
    raw["training_rules"] = pd.DataFrame(
        {
            "rule_id": ["R1", "R2", "R3"],
            "ranks": ["副处|正处|副厅", "科员|处长", "科员"],
            "period_years": [5, 1, 1],
            "min_hours": [550, 90, 50],
            "kind": ["脱产", "集中", "自学"],
            "after_promotion_months": [12, None, None],
        }
    )
    report = validate(raw)
    rules = report.tables["training_rules"]
    assert rules["rule_id"].tolist() == ["R1"]
    assert rules["ranks"].iloc[0] == ("副处", "正处", "副厅")
    reasons = {(p.row, p.column) for p in report.problems if p.table == "training_rules"}
    assert reasons == {(2, "ranks"), (3, "kind")}


def test_online_sessions_may_have_no_teacher(tiny_city):
    t = dict(tiny_city.tables)
    s = t["class_sessions"].copy()
    s.loc[s.index[0], "teacher_id"] = None
    t["class_sessions"] = s
    report = validate(t)
    assert [p for p in report.problems if p.table == "class_sessions"] == []
    assert report.tables["class_sessions"]["teacher_id"].isna().sum() == 1
