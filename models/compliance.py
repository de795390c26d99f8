"""Hour-rule forecast (学时达标预测): will a cadre meet a rule by the end of its period.

:class:`ComplianceForecaster` is a gradient-boosted classifier (LightGBM, log-loss, so its
probabilities stay calibrated: the run report draws the calibration curve) over the standing of a
(cadre, rule) pair at a date (:data:`ganxun.features.obligations.FORECAST_FEATURES`: hours done and
still needed, the share of the period gone, the cadre's and their unit's recent pace projected
over the rest of the period, the classes already published for it, last period's outcome and
habits, rank, engagement), learned from past periods at several points of each. The boosted form
was chosen on the validation cut-off (docs/BENCHMARKS.md §8): the habits interact (a cadre behind
on hours with a backlog of open courses is not the same as one behind who rushed and met last
year), which a logistic regression cannot express. With few training rows it is a logistic
regression; with no past period to learn from, it falls back on the pace projection alone (a rule
nobody can learn yet is forecast from the cadre's own pace).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ganxun.features.obligations import FORECAST_FEATURES


def _design(rows: pd.DataFrame, features=FORECAST_FEATURES) -> np.ndarray:
    """Model inputs: ratios clipped and log-scaled, missing last-period outcomes as 0.5."""
    x = rows[list(features)].astype(float).copy()
    for c in ("pace_ratio", "unit_pace_ratio", "offer_ratio", "pace90_ratio"):
        if c in x:
            x[c] = np.log1p(x[c].clip(lower=0.0))
    x["last_window_met"] = x["last_window_met"].fillna(0.5)
    x["rank_level"] = x["rank_level"].fillna(x["rank_level"].median() if len(x) else 0.0)
    return x.fillna(0.0).to_numpy()


class ComplianceForecaster(BaseEstimator):
    """Probability that each (cadre, rule) standing is met by the end of its period.

    Parameters
    ----------
    C : float
        Inverse L2 strength of the logistic regression.
    min_rows : int
        Below this many training rows (or with one outcome only) the model is the pace rule.
    boosted_rows : int
        From this many training rows on, the model is LightGBM; below, the logistic regression.
    n_estimators, learning_rate, num_leaves, min_child_samples :
        LightGBM settings (``min_child_samples`` is capped at a twentieth of the rows).
    random_state : int

    Attributes
    ----------
    model_ : LGBMClassifier, LogisticRegression or None
    features_ : tuple of str
        The feature columns the model reads (those of the version that fitted it).
    n_training_rows_ : int
    met_rate_ : float
        Share of training rows that were met.
    """

    def __init__(
        self,
        C: float = 1.0,
        min_rows: int = 50,
        boosted_rows: int = 2000,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        random_state: int = 0,
    ):
        self.C = C
        self.min_rows = min_rows
        self.boosted_rows = boosted_rows
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def fit(self, rows: pd.DataFrame, met) -> ComplianceForecaster:
        """Learn from past standings ``rows`` and whether each was met by its period's end."""
        y = np.asarray(met, dtype=bool)
        if len(y) != len(rows):
            raise ValueError(f"rows and met differ in length: {len(rows)} and {len(y)}")
        self.n_training_rows_ = len(y)
        self.met_rate_ = float(y.mean()) if len(y) else 0.5
        self.model_ = None
        self.features_ = tuple(FORECAST_FEATURES)
        if len(y) >= self.min_rows and 0 < y.sum() < len(y):
            x = _design(rows, self.features_)
            if len(y) >= self.boosted_rows:
                from lightgbm import LGBMClassifier

                self.model_ = LGBMClassifier(
                    n_estimators=self.n_estimators,
                    learning_rate=self.learning_rate,
                    num_leaves=self.num_leaves,
                    min_child_samples=max(5, min(self.min_child_samples, len(y) // 20)),
                    random_state=self.random_state,
                    n_jobs=1,
                    verbose=-1,
                ).fit(x, y)
            else:
                self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(x, y)
        return self

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """P(met by the period's end) per row; rows already met get 1."""
        check_is_fitted(self, "met_rate_")
        if rows.empty:
            return np.zeros(0)
        done = rows["due"].to_numpy(float) <= 0
        if self.model_ is not None:
            # bundles fitted before the habit features read the nine columns they knew
            features = getattr(self, "features_", FORECAST_FEATURES[:9])
            p = self.model_.predict_proba(_design(rows, features))[:, 1]
        else:  # the pace rule: the projected hours against what is still needed
            margin = np.log(np.maximum(rows["pace_ratio"].to_numpy(float), 1e-3))
            p = 1.0 / (1.0 + np.exp(-4.0 * margin))
        return np.where(done, 1.0, p)


def pace_only(rows: pd.DataFrame) -> np.ndarray:
    """The baseline: met when the cadre's own recent pace covers what is still needed."""
    return np.where(
        rows["due"].to_numpy(float) <= 0, 1.0, np.minimum(rows["pace_ratio"], 5.0) / 5.0
    )


def status(p_met: np.ndarray, due: np.ndarray, window_end, at, risk: float = 0.5) -> np.ndarray:
    """Ledger status per row: 已达标 met, 进度正常 on track, 有风险 at risk, 已逾期 overdue."""
    over = pd.Timestamp(at) >= pd.to_datetime(window_end)
    return np.where(
        np.asarray(due) <= 0,
        "已达标",
        np.where(over, "已逾期", np.where(np.asarray(p_met) < risk, "有风险", "进度正常")),
    )
