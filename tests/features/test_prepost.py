"""Pre/post gains read exams as they are kept: phase labels, dates near the ends, totals."""

import numpy as np
import pandas as pd
import pytest

from ganxun.features.history import TOTAL_SCORE_ANSWERS, prepost_gains


def _tables(responses, exam_scores=None):
    classes = pd.DataFrame(
        {
            "class_id": ["B1", "B2"],
            "start_on": pd.to_datetime(["2025-03-03", "2025-06-02"]),
            "end_on": pd.to_datetime(["2025-03-12", "2025-06-06"]),
        }
    )
    out = {"classes": classes, "responses": responses}
    if exam_scores is not None:
        out["exam_scores"] = exam_scores
    return out


def _answers(rows):
    frame = pd.DataFrame(rows, columns=["cadre_id", "class_id", "answered_on", "correct", "phase"])
    frame["answered_on"] = pd.to_datetime(frame["answered_on"])
    return frame


def test_labels_decide_and_unlabelled_answers_fall_by_date():
    r = _answers(
        [
            # C1: labelled exams a few days off the class ends; C2: unlabelled, near the ends
            ("C1", "B1", "2025-02-27", 0, "pre"),
            ("C1", "B1", "2025-02-27", 0, "pre"),
            ("C1", "B1", "2025-03-20", 1, "post"),
            ("C1", "B1", "2025-03-20", 1, "final"),
            ("C2", "B1", "2025-03-04", 1, None),
            ("C2", "B1", "2025-03-04", 0, None),
            ("C2", "B1", "2025-03-14", 1, None),
            ("C2", "B1", "2025-03-14", 1, None),
            ("C2", "B1", "2025-03-15", 0, "self"),  # a self-test is not the class's exam
            ("C3", "B1", "2025-03-04", 1, "pre"),  # no post-exam: no gain
        ]
    )
    g = prepost_gains(_tables(r)).set_index("cadre_id")
    assert set(g.index) == {"C1", "C2"}
    assert (g.loc["C1", "pre"], g.loc["C1", "post"]) == (0.0, 1.0)
    assert (g.loc["C2", "pre"], g.loc["C2", "post"], g.loc["C2", "n_post"]) == (0.5, 1.0, 2.0)
    assert g["gain"].to_dict() == {"C1": 1.0, "C2": 0.5}


def test_total_score_exams_count_as_answers():
    r = _answers([("C1", "B2", "2025-06-02", 0, "pre")])
    x = pd.DataFrame(
        {
            "cadre_id": ["C1", "C2", "C2"],
            "exam_id": ["E1", "E1", "E2"],
            "class_id": ["B2", "B2", "B2"],
            "topic_id": [None, None, None],
            "score": [80.0, 40.0, 90.0],
            "max_score": [100.0, 100.0, 100.0],
            "taken_on": pd.to_datetime(["2025-06-08", "2025-06-01", "2025-06-09"]),
            "phase": [None, "pre", "post"],
        }
    )
    g = prepost_gains(_tables(r, x)).set_index("cadre_id")
    assert g.loc["C1", "pre"] == 0.0 and g.loc["C1", "post"] == pytest.approx(0.8)
    assert g.loc["C1", "n_post"] == TOTAL_SCORE_ANSWERS
    assert g.loc["C2", "gain"] == pytest.approx(0.5)


def test_class_exam_answers_place_each_answer_before_or_after_the_class(tiny_real):
    from ganxun.features.history import class_exam_answers, prepost_gains

    a = class_exam_answers(tiny_real.tables)
    assert set(a["phase"]) <= {0, 1} and a["weight"].gt(0).all()
    assert a["correct"].between(0, 1).all()
    totals = a[a["item_id"].isna()]
    assert (totals["weight"] > 1).all()  # a total score stands for several answers
    # the same rows prepost_gains reads: its pre/post shares come back
    g = prepost_gains(tiny_real.tables).set_index(["class_id", "cadre_id"])
    x = (
        a.assign(p=a["correct"] * a["weight"])
        .groupby(["class_id", "cadre_id", "phase"])[["p", "weight"]]
        .sum()
    )
    share = (x["p"] / x["weight"]).unstack("phase").reindex(g.index)
    assert np.allclose(share[0], g["pre"]) and np.allclose(share[1], g["post"])
