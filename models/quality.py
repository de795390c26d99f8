"""Quality of courses, teachers and staff from ratings, corrected for rater leniency.

Ratings follow ``score = mu + leniency[rater] + effect[target] + noise``. Both random effects are
estimated by alternating ridge updates (closed form per group), so a target rated by few cadres is
shrunk towards the mean and a target rated only by lenient cadres does not look better than it is.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


class RatingQuality(BaseEstimator):
    """Leniency-corrected, shrunk quality per rated target.

    Parameters
    ----------
    target_shrinkage : float
        Ridge penalty on target effects, in ratings: a target needs this many ratings for half of
        its raw deviation to count.
    rater_shrinkage : float
        Ridge penalty on rater leniencies.
    n_iter : int
        Alternating updates.
    """

    def __init__(
        self, target_shrinkage: float = 5.0, rater_shrinkage: float = 3.0, n_iter: int = 30
    ):
        self.target_shrinkage = target_shrinkage
        self.rater_shrinkage = rater_shrinkage
        self.n_iter = n_iter

    def fit(
        self,
        raters: np.ndarray,
        targets: np.ndarray,
        scores: np.ndarray,
        n_raters: int | None = None,
        n_targets: int | None = None,
    ) -> RatingQuality:
        """Estimate rater leniency and target quality.

        Parameters
        ----------
        raters, targets : ndarray of int
            Index of the rater and of the rated target of each rating (0-based).
        scores : ndarray of float
            The ratings (e.g. 1–5).
        n_raters, n_targets : int, optional
            Sizes of the index spaces (default: one more than the largest index).
        """
        raters = np.asarray(raters, dtype=np.int64)
        targets = np.asarray(targets, dtype=np.int64)
        y = np.asarray(scores, dtype=float)
        if not (len(raters) == len(targets) == len(y)):
            raise ValueError("raters, targets and scores must have the same length")
        if len(y) and (raters.min() < 0 or targets.min() < 0):
            raise ValueError("rater and target indices must be non-negative")
        n_raters = int(n_raters if n_raters is not None else (raters.max() + 1 if len(y) else 0))
        n_targets = int(
            n_targets if n_targets is not None else (targets.max() + 1 if len(y) else 0)
        )
        self.mean_ = float(y.mean()) if len(y) else 0.0
        lenient = np.zeros(n_raters)
        effect = np.zeros(n_targets)
        n_t = np.bincount(targets, minlength=n_targets).astype(float)
        n_r = np.bincount(raters, minlength=n_raters).astype(float)
        for _ in range(self.n_iter):
            resid = y - self.mean_ - lenient[raters]
            effect = np.bincount(targets, resid, n_targets) / (n_t + self.target_shrinkage)
            resid = y - self.mean_ - effect[targets]
            lenient = np.bincount(raters, resid, n_raters) / (n_r + self.rater_shrinkage)
        self.effect_ = effect
        self.leniency_ = lenient
        self.n_ratings_ = n_t
        self.raw_mean_ = np.where(
            n_t > 0, np.bincount(targets, y, n_targets) / np.maximum(n_t, 1), np.nan
        )
        return self

    @property
    def quality_(self) -> np.ndarray:
        """Corrected expected score of each target for an average rater."""
        check_is_fitted(self, "effect_")
        return self.mean_ + self.effect_

    def confidence(self) -> np.ndarray:
        """Share of each target's estimate that rests on its own ratings (0 = prior only)."""
        check_is_fitted(self, "effect_")
        return self.n_ratings_ / (self.n_ratings_ + self.target_shrinkage)
