"""Learning to rank: a LightGBM LambdaRank model over per-(user, candidate) feature rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted


class LambdaRanker(BaseEstimator):
    """Gradient-boosted trees trained with the LambdaRank objective, one query group per user.

    Parameters
    ----------
    n_estimators : int
        Boosting rounds.
    learning_rate : float
        Shrinkage of each tree.
    num_leaves : int
        Leaves per tree.
    min_child_samples : int
        Minimum rows in a leaf.
    subsample, colsample_bytree : float
        Row (per round) and feature (per tree) sampling fractions.
    reg_lambda : float
        L2 penalty on leaf values.
    lambdarank_truncation_level : int
        Positions of each list whose pairs drive the gradient; set a little above the list length
        that is evaluated (k = 10 → about 20).
    objective : {"lambdarank", "rank_xendcg"}
        LightGBM ranking objective; ``rank_xendcg`` (a listwise cross-entropy surrogate of nDCG)
        is often as good and steadier on few, small queries.
    monotone : dict of str to int, optional
        Feature name -> +1 (the score may only rise with the feature) or -1 (only fall); a policy
        for features whose direction is known, e.g. a knowledge gap on the course's topics.
        Names not among the features are ignored.
    n_jobs : int
        LightGBM threads.
    random_state : int or None
        Seed of row/feature sampling; training is run in LightGBM's deterministic mode.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    feature_names_in_ : ndarray of str
    feature_importances_ : ndarray of shape (n_features,)
        Total gain of the splits on each feature, normalised to sum to 1.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 100,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        lambdarank_truncation_level: int = 20,
        objective: str = "lambdarank",
        monotone: dict[str, int] | None = None,
        n_jobs: int = 1,
        random_state: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.lambdarank_truncation_level = lambdarank_truncation_level
        self.objective = objective
        self.monotone = monotone
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y, groups, *, feature_names: Sequence[str] | None = None) -> LambdaRanker:
        """Fit on feature rows grouped into queries (one query = one user's candidate list).

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Feature rows; NaN means missing.
        y : array-like of shape (n_rows,)
            Non-negative integer relevance (1 = the user engaged with the candidate).
        groups : array-like of shape (n_rows,)
            Query id of each row; rows are regrouped stably, so they need not be contiguous.
        feature_names : sequence of str, optional
            Names of the columns (default: the DataFrame's columns, else ``f0, f1, ...``).

        Returns
        -------
        self
        """
        import lightgbm

        if self.objective not in ("lambdarank", "rank_xendcg"):
            raise ValueError(
                f"objective must be 'lambdarank' or 'rank_xendcg', not {self.objective}"
            )
        names = _feature_names(X, feature_names)
        x = _as_float(X)
        y = np.asarray(y)
        groups = np.asarray(groups)
        if x.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {x.shape}")
        if not (len(x) == len(y) == len(groups)):
            raise ValueError(
                f"X, y and groups must have the same length: {len(x)}, {len(y)}, {len(groups)}"
            )
        if len(x) == 0:
            raise ValueError("cannot fit a ranker on zero rows")
        if len(names) != x.shape[1]:
            raise ValueError(f"{len(names)} feature names for {x.shape[1]} columns")
        if not np.all(np.isfinite(y)) or y.min() < 0 or not np.all(y == np.round(y)):
            raise ValueError("y must hold non-negative integer relevance labels")
        if len(groups) > 1 and np.any(groups[1:] < groups[:-1]):
            order = np.argsort(groups, kind="stable")
            x, y, groups = x[order], y[order], groups[order]
        _, sizes = np.unique(groups, return_counts=True)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        params = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "lambdarank_truncation_level": self.lambdarank_truncation_level,
            "num_threads": self.n_jobs,
            "seed": int(seed),
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        if self.monotone:
            bad = {k: v for k, v in self.monotone.items() if v not in (-1, 0, 1)}
            if bad:
                raise ValueError(f"monotone directions must be -1, 0 or 1, got {bad}")
            params["monotone_constraints"] = [int(self.monotone.get(n, 0)) for n in names]
            params["monotone_constraints_method"] = "advanced"
        data = lightgbm.Dataset(
            x,
            label=y.astype(np.float64),
            group=sizes,
            feature_name=[_safe(n) for n in names],
            free_raw_data=True,
        )
        self.booster_ = lightgbm.train(params, data, num_boost_round=self.n_estimators)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = x.shape[1]
        gain = self.booster_.feature_importance(importance_type="gain").astype(np.float64)
        self.feature_importances_ = gain / gain.sum() if gain.sum() > 0 else gain
        return self

    def predict(self, X) -> np.ndarray:
        """Ranking score of each row (comparable within a query; higher is better)."""
        x = self._check_X(X)
        if len(x) == 0:
            return np.empty(0)
        return np.asarray(self.booster_.predict(x, num_threads=self.n_jobs), dtype=np.float64)

    def contributions(self, X) -> np.ndarray:
        """Per-feature additive contributions (TreeSHAP) to each row's score.

        Returns
        -------
        ndarray of shape (n_rows, n_features + 1)
            The last column is the expected value; each row sums to :meth:`predict`.
        """
        x = self._check_X(X)
        if len(x) == 0:
            return np.empty((0, self.n_features_in_ + 1))
        return np.asarray(
            self.booster_.predict(x, pred_contrib=True, num_threads=self.n_jobs), dtype=np.float64
        )

    def importance_table(self) -> dict[str, float]:
        """Feature name → normalised gain importance, most important first."""
        check_is_fitted(self)
        order = np.argsort(-self.feature_importances_, kind="stable")
        return {str(self.feature_names_in_[i]): float(self.feature_importances_[i]) for i in order}

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self)
        x = _as_float(X)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (n_rows, {self.n_features_in_}), got {x.shape}")
        return x


class RankerBag:
    """Fitted rankers whose scores are averaged (bagging over label splits and seeds).

    Exposes what :class:`LambdaRanker` offers once fitted: ``predict`` (mean score),
    ``contributions`` (mean TreeSHAP contributions, which still sum to the mean score),
    ``feature_importances_`` and ``importance_table`` (mean normalised gain).

    Parameters
    ----------
    rankers : sequence of LambdaRanker
        Fitted on the same feature columns.
    """

    def __init__(self, rankers: Sequence[LambdaRanker]):
        if not rankers:
            raise ValueError("a RankerBag needs at least one ranker")
        names = [tuple(r.feature_names_in_) for r in rankers]
        if len(set(names)) != 1:
            raise ValueError("the rankers of a bag must share their feature columns")
        self.rankers = list(rankers)
        self.feature_names_in_ = rankers[0].feature_names_in_
        self.n_features_in_ = rankers[0].n_features_in_
        self.feature_importances_ = np.mean([r.feature_importances_ for r in rankers], axis=0)

    def predict(self, X) -> np.ndarray:
        """Mean ranking score of the rankers for each row."""
        return np.mean([r.predict(X) for r in self.rankers], axis=0)

    def contributions(self, X) -> np.ndarray:
        """Mean per-feature contributions; the last column is the mean expected value."""
        return np.mean([r.contributions(X) for r in self.rankers], axis=0)

    def importance_table(self) -> dict[str, float]:
        """Feature name → mean normalised gain importance, most important first."""
        order = np.argsort(-self.feature_importances_, kind="stable")
        return {str(self.feature_names_in_[i]): float(self.feature_importances_[i]) for i in order}


def _as_float(X) -> np.ndarray:
    """A float32/float64 array without copying one that already is (rows can be many)."""
    x = np.asarray(X)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


def _feature_names(X, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        return [str(n) for n in names]
    columns = getattr(X, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    n = np.shape(X)[1] if np.ndim(X) == 2 else 0
    return [f"f{i}" for i in range(n)]


def _safe(name: str) -> str:
    """LightGBM rejects some characters in feature names (JSON specials)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
