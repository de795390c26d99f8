import numpy as np
import pytest
from scipy.stats import spearmanr

from ganxun.models.quality import RatingQuality


def _simulate(seed=0, n_raters=300, n_targets=40, n=3000):
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 0.6, n_targets)
    lenient = rng.normal(0, 0.8, n_raters)
    # lenient raters rate the weak targets more often: the raw mean is biased
    raters = rng.integers(0, n_raters, n)
    weak = quality < 0
    targets = np.where(
        (lenient[raters] > 0.5) & (rng.random(n) < 0.7),
        rng.choice(np.flatnonzero(weak), n),
        rng.integers(0, n_targets, n),
    )
    scores = np.clip(
        np.round(3.5 + quality[targets] + lenient[raters] + rng.normal(0, 0.5, n)), 1, 5
    )
    return raters, targets, scores, quality, lenient


def test_corrects_for_lenient_raters_better_than_the_raw_mean():
    raters, targets, scores, quality, lenient = _simulate()
    model = RatingQuality().fit(raters, targets, scores, 300, 40)
    ours = spearmanr(model.quality_, quality).statistic
    raw = spearmanr(model.raw_mean_, quality).statistic
    assert ours > raw + 0.05
    assert spearmanr(model.leniency_, lenient).statistic > 0.6


def test_few_ratings_are_shrunk_towards_the_mean():
    targets = np.array([0] * 5 + [1] + [2] * 6)
    scores = np.array([5.0] * 6 + [1.0] * 6)
    raters = np.arange(len(scores))
    model = RatingQuality(rater_shrinkage=1e9).fit(raters, targets, scores, 12, 4)
    q = model.quality_
    assert q[0] > q[1] > model.mean_ == q[3] > q[2]  # one 5 counts less than five 5s
    assert model.confidence()[3] == 0 and model.confidence()[0] > model.confidence()[1]


def test_validates_inputs():
    with pytest.raises(ValueError, match="same length"):
        RatingQuality().fit(np.array([0]), np.array([0, 1]), np.array([3.0]))
