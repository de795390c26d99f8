import numpy as np
import pandas as pd
import pytest

from ganxun.models.class_evaluation import class_effects, member_gains, value_added


def test_a_harder_post_exam_is_not_read_as_forgetting():
    # every member knows the same before and after; the post-exam items are harder
    rows = []
    for c in range(30):
        rows += [("B1", f"C{c}", 0, 1, 1.0, 0.8)] * 4 + [("B1", f"C{c}", 0, 0, 1.0, 0.8)]
        rows += [("B1", f"C{c}", 1, 1, 1.0, 0.4)] * 2 + [("B1", f"C{c}", 1, 0, 1.0, 0.4)] * 3
    a = pd.DataFrame(rows, columns=["class_id", "cadre_id", "phase", "correct", "weight", "p"])
    raw = a.groupby("phase")["correct"].mean()
    assert raw[1] < raw[0]  # the raw means say the class made people worse
    gains = member_gains(a, a["p"].to_numpy())
    assert gains["gain"].abs().max() == pytest.approx(0.0, abs=1e-12)


def test_value_added_compares_with_classes_of_similar_cohorts():
    rng = np.random.default_rng(0)
    n = 60
    effects = pd.DataFrame(
        {
            "class_id": [f"B{i}" for i in range(n)],
            "pre_residual": rng.normal(0, 0.1, n),
            "rank_level": rng.uniform(0, 5, n),
            "hours": rng.uniform(20, 60, n),
            "n_topics": rng.integers(1, 4, n).astype(float),
            "measured": 30,
        }
    )
    true_effect = rng.normal(0, 0.05, n)
    # weaker cohorts gain more whatever the class: that is not the class's merit
    effects["gain"] = 0.1 - 0.8 * effects["pre_residual"] + true_effect
    got = value_added(effects)
    raw_rho = np.corrcoef(effects["gain"], true_effect)[0, 1]
    fair_rho = np.corrcoef(got["value_added"], true_effect)[0, 1]
    assert fair_rho > raw_rho and fair_rho > 0.9
    assert got["percentile"].between(0, 1).all()


def test_class_effects_average_members():
    g = pd.DataFrame(
        {"class_id": ["B1", "B1", "B2"], "gain": [0.1, 0.3, 0.0], "pre_residual": [0, 0, 0]}
    )
    e = class_effects(g).set_index("class_id")
    assert e.loc["B1", "gain"] == pytest.approx(0.2) and e.loc["B1", "measured"] == 2


def test_topic_gains_and_peer_comparison():
    from ganxun.models.class_evaluation import peer_comparison, topic_gains

    rows = []
    for cls, lift in (("B1", 0.4), ("B2", 0.1), ("B3", 0.2)):
        for c in range(10):
            rows += [
                (cls, f"C{c}", "TP01", 0, 0.5, 1.0),
                (cls, f"C{c}", "TP01", 1, 0.5 + lift, 1.0),
            ]
    a = pd.DataFrame(
        rows, columns=["class_id", "cadre_id", "topic_id", "phase", "correct", "weight"]
    )
    t = topic_gains(a, np.full(len(a), 0.5))
    assert t.set_index("class_id").loc["B1", "gain"] == pytest.approx(0.4)
    p = peer_comparison(t, "B1").iloc[0]
    assert p["peer_mean"] == pytest.approx(0.15) and p["percentile"] == 1.0
    assert p["peer_classes"] == 2
