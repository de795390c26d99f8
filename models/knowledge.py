"""Knowledge reserve (知识储备度) per cadre × topic.

:class:`ExposureReserve` is the baseline: a per-topic prior from decayed training hours, updated by
the cadre's own exam accuracy on the topic (a beta-binomial blend), with a confidence per cell.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted


def _check_same_shape(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=float) for a in arrays]
    shapes = {a.shape for a in out}
    if len(shapes) != 1 or out[0].ndim != 2:
        raise ValueError(f"expected 2-D arrays of one shape (cadres × topics), got {shapes}")
    if any((a < 0).any() for a in out):
        raise ValueError("hours and answer counts must be non-negative")
    return out


class ExposureReserve(BaseEstimator):
    """Baseline reserve from exposure and exam accuracy.

    The prior for topic ``k`` is ``base_k + lift_k * (1 - exp(-hours / hours_scale))``, fitted by
    weighted least squares of each cadre's accuracy on the topic; the reserve is the posterior mean
    ``(correct + prior_strength * prior) / (total + prior_strength)``.

    Parameters
    ----------
    prior_strength : float
        How many answers the exposure prior is worth.
    hours_scale : float
        Decayed hours at which exposure reaches 63% of its effect.
    """

    def __init__(self, prior_strength: float = 6.0, hours_scale: float = 30.0):
        self.prior_strength = prior_strength
        self.hours_scale = hours_scale

    def _exposure(self, hours: np.ndarray) -> np.ndarray:
        return 1.0 - np.exp(-hours / self.hours_scale)

    def fit(self, hours: np.ndarray, correct: np.ndarray, total: np.ndarray) -> ExposureReserve:
        """Fit the per-topic exposure prior.

        Parameters
        ----------
        hours, correct, total : ndarray of shape (n_cadres, n_topics)
            Decayed training hours, correct answers and answers per cell.
        """
        hours, correct, total = _check_same_shape(hours, correct, total)
        n_topics = hours.shape[1]
        x = self._exposure(hours)
        self.base_ = np.full(n_topics, 0.5)
        self.lift_ = np.zeros(n_topics)
        for k in range(n_topics):
            w = total[:, k]
            if (w > 0).sum() < 3:
                continue
            acc = correct[w > 0, k] / w[w > 0]
            design = np.column_stack([np.ones((w > 0).sum()), x[w > 0, k]])
            sw = np.sqrt(w[w > 0])
            coef, *_ = np.linalg.lstsq(design * sw[:, None], acc * sw, rcond=None)
            self.base_[k] = np.clip(coef[0], 0.02, 0.98)
            self.lift_[k] = np.clip(coef[1], 0.0, 0.98 - self.base_[k])
        self.n_topics_ = n_topics
        return self

    def prior(self, hours: np.ndarray) -> np.ndarray:
        """Exposure-only reserve for each cell."""
        if not hasattr(self, "lift_"):  # not check_is_fitted: this runs once per online event
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet.")
        return self.base_ + self.lift_ * self._exposure(np.asarray(hours, float))

    def predict(self, hours: np.ndarray, correct: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Reserve in [0, 1] per cadre × topic."""
        check_is_fitted(self)
        hours, correct, total = _check_same_shape(hours, correct, total)
        a = self.prior_strength
        return (correct + a * self.prior(hours)) / (total + a)

    def confidence(self, total: np.ndarray) -> np.ndarray:
        """Share of the estimate that rests on the cadre's own answers (0 = prior only)."""
        total = np.asarray(total, float)
        return total / (total + self.prior_strength)
