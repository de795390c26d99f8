"""The selection reference's fit, interval and evidence (models/post_fit.py)."""

import numpy as np
import pandas as pd
import pytest

from ganxun.models.post_fit import (
    evidence_level,
    evidence_weight,
    fit_interval,
    ranking_score,
    requirement_fit,
)


def test_fit_is_the_share_of_the_requirement_met():
    targets = np.array([0.8, 0.6, 0.0])
    reserve = np.array([[0.8, 0.6, 0.1], [0.4, 0.9, 0.9], [0.0, 0.0, 0.0]])
    fit = requirement_fit(reserve, targets)
    assert fit.tolist() == pytest.approx([1.0, 1 - 0.4 / 1.4, 0.0])
    with pytest.raises(ValueError):
        requirement_fit(reserve, np.zeros(3))


def test_ranking_score_orders_what_the_fit_ties_and_keeps_its_order():
    targets = np.array([0.6, 0.6])
    reserve = np.array([[0.7, 0.7], [0.9, 0.9], [0.3, 0.6], [0.5, 0.5]])
    fit, score = requirement_fit(reserve, targets), ranking_score(reserve, targets)
    assert fit[0] == fit[1] == 1.0 and score[1] > score[0]  # further above the targets
    assert np.argsort(-score).tolist() == [1, 0, 3, 2]


def test_the_interval_widens_with_the_uncertainty_and_holds_the_estimate():
    targets = np.full(12, 0.7)
    reserve = np.full((2, 12), 0.65)
    low, high = fit_interval(reserve, np.array([[0.2] * 12, [0.5] * 12]), targets, [0.1, 0.8])
    fit = requirement_fit(reserve, targets)
    assert (high - low)[1] > 2 * (high - low)[0]
    assert (low <= fit + 1e-9).all() and (fit <= high + 1e-9).all()


def test_evidence_counts_answers_on_the_required_topics():
    targets = np.array([0.5, 0.5, 0.0])
    answers = np.array([[0, 0, 30], [3, 0, 0], [5, 9, 0]])
    weight = evidence_weight(answers, targets)
    assert weight.tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert evidence_level(weight).tolist() == ["证据不足", "证据一般", "证据充分"]


def test_thin_evidence_is_not_ranked_below_equally_fit_candidates():
    """Candidates known only through the prior are ranked by their estimate, not pushed down.

    The estimate of a thin-evidence candidate is noisier and shrunk towards the population, but
    unbiased for the group; ranked by the score of the estimate (not by the mean fit over the
    posterior, which the convex shortfall would lower for every uncertain candidate), thin and
    well-evidenced candidates of equal true fit sit at the same rank on average.
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_selection import rank_gap

    rng = np.random.default_rng(0)
    n, k = 4000, 12
    targets = np.full(k, 0.65)
    ability = rng.normal(0, 1, n)
    true_theta = ability[:, None] + rng.normal(0, 0.5, (n, k))
    thin = rng.random(n) < 0.3
    est_theta = np.where(
        thin[:, None],
        0.4 * true_theta + rng.normal(0, 0.6, (n, k)),  # shrunk prior estimate
        true_theta + rng.normal(0, 0.3, (n, k)),
    )
    true = requirement_fit(1 / (1 + np.exp(-true_theta)), targets)
    score = ranking_score(1 / (1 + np.exp(-est_theta)), targets)
    gap, weight = rank_gap(score, true, thin)
    assert weight > 500 and gap > -0.05
    # the mean fit over a wide posterior would push the thin ones down
    se = np.where(thin, 2.0, 0.3)[:, None] * np.ones(k)
    draws = est_theta[None] + se[None] * rng.standard_normal((100, n, k))
    mean_fit = requirement_fit(1 / (1 + np.exp(-draws)), targets).mean(axis=0)
    assert rank_gap(mean_fit, true, thin)[0] < gap - 0.05
    assert pd.Series(score).notna().all()
