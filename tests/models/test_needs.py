import numpy as np
import pandas as pd
import pytest

from ganxun.models.needs import cohort_needs, suggest_topic_weights, taken_courses


def test_a_cohort_weak_on_one_topic_gets_that_topic():
    rng = np.random.default_rng(0)
    reserve = rng.uniform(0.6, 0.9, (50, 4))
    reserve[:, 2] = rng.uniform(0.2, 0.4, 50)  # everyone is short on the third topic
    targets = np.full((50, 4), 0.7)
    needs = cohort_needs(reserve, targets, ["A", "B", "C", "D"], names=["甲", "乙", "丙", "丁"])
    assert needs["topic_id"].iloc[0] == "C" and needs["share_short"].iloc[0] == 1.0
    w = suggest_topic_weights(needs)
    assert max(w, key=w.get) == "C"
    assert sum(w.values()) == pytest.approx(1.0)


def test_without_a_topic_most_lack_the_largest_gap_is_chosen():
    reserve = np.array([[0.5, 0.9], [0.9, 0.95]])
    needs = cohort_needs(reserve, np.full((2, 2), 0.8), ["A", "B"])
    assert suggest_topic_weights(needs, min_share_short=0.9) == {"A": 1.0}


def test_taken_courses_are_counted_once_per_cadre():
    e = pd.DataFrame({"cadre_id": ["a", "a", "b", "c"], "course_id": ["K1", "K1", "K1", "K2"]})
    got = taken_courses(e, ["a", "b"])
    assert got.to_dict("records") == [{"course_id": "K1", "cadres": 2, "share": 1.0}]
