"""Hour-rule forecast (学时达标预测): will a cadre meet a rule by the end of its period.

:class:`ComplianceForecaster` is a logistic regression over the standing of a (cadre, rule) pair
at a date (:data:`ganxun.features.obligations.FORECAST_FEATURES`: hours done and still needed, the
share of the period gone, the cadre's and their unit's recent pace projected over the rest of the
period, the classes already published for it, last period's outcome, rank, the share of their
recent enrolments they completed), learned from past periods at several points of each. A
logistic model keeps the probabilities calibrated (the run report draws the calibration curve)
and its coefficients readable; with no past period to learn from, it falls back on the pace
projection alone (a rule nobody can learn yet is forecast from the cadre's own pace).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ganxun.features.obligations import FORECAST_FEATURES


def _design(rows: pd.DataFrame) -> np.ndarray:
    """Model inputs: ratios clipped and log-scaled, missing last-period outcomes as 0.5."""
    x = rows[list(FORECAST_FEATURES)].astype(float).copy()
    for c in ("pace_ratio", "unit_pace_ratio", "offer_ratio"):
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

    Attributes
    ----------
    model_ : LogisticRegression or None
    n_training_rows_ : int
    met_rate_ : float
        Share of training rows that were met.
    """

    def __init__(self, C: float = 1.0, min_rows: int = 50):
        self.C = C
        self.min_rows = min_rows

    def fit(self, rows: pd.DataFrame, met) -> ComplianceForecaster:
        """Learn from past standings ``rows`` and whether each was met by its period's end."""
        y = np.asarray(met, dtype=bool)
        if len(y) != len(rows):
            raise ValueError(f"rows and met differ in length: {len(rows)} and {len(y)}")
        self.n_training_rows_ = len(y)
        self.met_rate_ = float(y.mean()) if len(y) else 0.5
        self.model_ = None
        if len(y) >= self.min_rows and 0 < y.sum() < len(y):
            self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(_design(rows), y)
        return self

    def predict_proba(self, rows: pd.DataFrame) -> np.ndarray:
        """P(met by the period's end) per row; rows already met get 1."""
        check_is_fitted(self, "met_rate_")
        if rows.empty:
            return np.zeros(0)
        done = rows["due"].to_numpy(float) <= 0
        if self.model_ is not None:
            p = self.model_.predict_proba(_design(rows))[:, 1]
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
