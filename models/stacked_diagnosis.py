"""A two-stage response model: the logistic diagnosis, then LightGBM over diagnostic features.

:class:`StackedDiagnosis` predicts responses more accurately than :class:`LogisticDiagnosis` alone
(features computed out-of-fold for its training rows) and exposes the first stage's profile.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ganxun.models.diagnosis import LogisticDiagnosis
from ganxun.models.responses import (
    check_fit_inputs,
    check_pairs,
    check_same_length,
    expand_topics,
)


class _ResponseCounts:
    """Answer counts and correct counts per user, item, topic and user × topic."""

    def __init__(self, users, items, y, w, Qn: sp.csr_matrix, n_users: int):
        n_items, n_topics = Qn.shape
        rows, topics, _ = expand_topics(Qn, items)
        cells = users[rows] * n_topics + topics
        self.mean = float(np.average(y, weights=w)) if w.sum() > 0 else 0.5
        self.user = np.bincount(users, weights=w, minlength=n_users)
        self.user_correct = np.bincount(users, weights=w * y, minlength=n_users)
        self.item = np.bincount(items, weights=w, minlength=n_items)
        self.item_correct = np.bincount(items, weights=w * y, minlength=n_items)
        self.topic = np.bincount(topics, weights=w[rows], minlength=n_topics)
        self.topic_correct = np.bincount(topics, weights=(w * y)[rows], minlength=n_topics)
        size = n_users * n_topics
        self.cell = np.bincount(cells, weights=w[rows], minlength=size).reshape(n_users, n_topics)
        self.cell_correct = np.bincount(cells, weights=(w * y)[rows], minlength=size).reshape(
            n_users, n_topics
        )

    def add(self, user: int, item: int, correct: float, topics: np.ndarray) -> None:
        """Count one more answer."""
        self.user[user] += 1
        self.user_correct[user] += correct
        self.item[item] += 1
        self.item_correct[item] += correct
        self.topic[topics] += 1
        self.topic_correct[topics] += correct
        self.cell[user, topics] += 1
        self.cell_correct[user, topics] += correct


FEATURE_NAMES = (
    "logit",
    "item_difficulty",
    "item_discrimination",
    "topic_level",
    "user_ability",
    "user_topic_theta",
    "user_topic_fisher",
    "user_count",
    "user_accuracy",
    "item_count",
    "item_accuracy",
    "user_topic_count",
    "user_topic_accuracy",
    "topic_count",
    "topic_accuracy",
    "n_topics",
)


def _features(
    first: LogisticDiagnosis,
    counts: _ResponseCounts,
    users: np.ndarray,
    items: np.ndarray,
    smoothing: float,
) -> np.ndarray:
    """Diagnostic features of (user, item) pairs (columns in :data:`FEATURE_NAMES` order).

    Topic-level features are averaged over the item's topics (weights of the normalised ``Q``
    row); accuracies are shrunk towards the overall accuracy by ``smoothing`` pseudo-answers.
    ``-1`` users and items get the population values and zero counts.
    """
    n = len(users)
    rows, topics, qw = expand_topics(first.Q_, items)
    u, i = np.maximum(users, 0), np.maximum(items, 0)
    ku, ki, kr = users >= 0, items >= 0, users[rows] >= 0

    def over_topics(values: np.ndarray) -> np.ndarray:
        return np.bincount(rows, weights=qw * values, minlength=n)

    def accuracy(correct: np.ndarray, count: np.ndarray) -> np.ndarray:
        return (correct + smoothing * counts.mean) / (count + smoothing)

    def per_user(values: np.ndarray) -> np.ndarray:
        return np.where(ku, values[u], 0.0)

    def per_item(values: np.ndarray, default: float = 0.0) -> np.ndarray:
        return np.where(ki, values[i], default)

    def per_cell(values: np.ndarray) -> np.ndarray:
        return np.where(kr, values[u[rows], topics], 0.0)

    theta = np.where(kr, first.theta_[u[rows], topics], first.theta_unknown_[topics])
    user_count, item_count = per_user(counts.user), per_item(counts.item)
    cell_count = per_cell(counts.cell)
    columns = [
        first._logit(users, items),
        per_item(first.item_difficulty_),
        per_item(first.item_discrimination_, 1.0),
        over_topics(first.topic_level_[topics]),
        per_user(first.user_ability_),
        over_topics(theta),
        over_topics(per_cell(first.fisher_)),
        user_count,
        accuracy(per_user(counts.user_correct), user_count),
        item_count,
        accuracy(per_item(counts.item_correct), item_count),
        over_topics(cell_count),
        over_topics(accuracy(per_cell(counts.cell_correct), cell_count)),
        over_topics(counts.topic[topics]),
        over_topics(accuracy(counts.topic_correct[topics], counts.topic[topics])),
        np.bincount(rows, minlength=n).astype(np.float64),
    ]
    return np.column_stack(columns)


class StackedDiagnosis(BaseEstimator):
    """LightGBM second stage over diagnostic features of a :class:`LogisticDiagnosis`.

    The features of a (user, item) pair are the first stage's logit, the item's shrunk
    difficulty and discrimination, its topics' level, the user's general ability and mastery,
    Fisher information, answer counts and (smoothed) accuracy on the item's topics, and the
    user's, item's and topics' answer counts and accuracy (see :data:`FEATURE_NAMES`). The
    features of the training rows are computed out-of-fold: the responses are split into
    ``n_folds`` folds and each fold's features come from a first stage and counts fitted on the
    other folds, so the booster never sees a logit that has already seen the answer it predicts.
    At prediction time the features come from the first stage and counts fitted on all training
    responses. The mastery profile is the first stage's.

    Parameters
    ----------
    first_stage : LogisticDiagnosis, optional
        Unfitted first-stage template (cloned); ``LogisticDiagnosis()`` when omitted.
    n_folds : int
        Folds for the out-of-fold features of the training rows.
    n_estimators : int
        Maximum number of boosting rounds.
    learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_lambda
        LightGBM parameters.
    smoothing : float
        Pseudo-answers at the overall accuracy added to every accuracy feature.
    early_stopping_rounds : int
        Patience of early stopping when ``fit`` gets an ``eval_set``.
    n_jobs : int, optional
        LightGBM threads: one when omitted, all cores for ``-1``.
    random_state : int, RandomState or None
        Seeds the folds and LightGBM's bagging.

    Attributes
    ----------
    first_stage_ : LogisticDiagnosis
        First stage fitted on all training responses.
    booster_ : lightgbm.Booster
        Second stage (binary objective).
    best_iteration_ : int
        Boosting rounds used (chosen on ``eval_set`` when given).
    feature_names_ : list of str
        Names of the second-stage features.
    n_users_, n_items_, n_topics_ : int
        Sizes seen in ``fit``.
    """

    def __init__(
        self,
        first_stage: LogisticDiagnosis | None = None,
        n_folds: int = 5,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 100,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        smoothing: float = 2.0,
        early_stopping_rounds: int = 100,
        n_jobs: int | None = None,
        random_state=None,
    ):
        self.first_stage = first_stage
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.smoothing = smoothing
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _first(self) -> LogisticDiagnosis:
        return clone(self.first_stage) if self.first_stage is not None else LogisticDiagnosis()

    def fit(
        self,
        users,
        items,
        correct,
        Q,
        n_users: int,
        theta_prior=None,
        sample_weight=None,
        eval_set=None,
    ) -> StackedDiagnosis:
        """Fit the first stage out-of-fold and on all responses, then the LightGBM stage.

        Parameters
        ----------
        users, items, correct, Q, n_users, theta_prior, sample_weight
            As in :meth:`LogisticDiagnosis.fit`.
        eval_set : tuple of (users, items, correct), optional
            Held-out responses (never the test set) for early stopping of the booster; their
            features come from the first stage fitted on all training responses, as at
            prediction time.

        Returns
        -------
        self : StackedDiagnosis
        """
        if int(self.n_folds) < 2:
            raise ValueError(f"n_folds must be at least 2, got {self.n_folds}")
        Qn, users, items, y, w = check_fit_inputs(users, items, correct, Q, n_users, sample_weight)
        n_items, n_topics = Qn.shape
        n_users = int(n_users)
        if len(y) < self.n_folds:
            raise ValueError(f"need at least n_folds={self.n_folds} responses, got {len(y)}")
        rng = check_random_state(self.random_state)
        fold_seed, boost_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))

        def stage(index: np.ndarray) -> tuple[LogisticDiagnosis, _ResponseCounts]:
            first = self._first().fit(
                users[index], items[index], y[index], Q, n_users, theta_prior, w[index]
            )
            counts = _ResponseCounts(users[index], items[index], y[index], w[index], Qn, n_users)
            return first, counts

        X = np.empty((len(y), len(FEATURE_NAMES)))
        folds = KFold(int(self.n_folds), shuffle=True, random_state=fold_seed)
        for rest, fold in folds.split(X):
            first, counts = stage(rest)
            X[fold] = _features(first, counts, users[fold], items[fold], self.smoothing)
        self.first_stage_, self.counts_ = stage(np.arange(len(y)))
        self.n_users_, self.n_items_, self.n_topics_ = n_users, n_items, n_topics

        params = {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            # scikit-learn semantics: None is one thread, -1 all cores (LightGBM's 0).
            "num_threads": 1 if self.n_jobs is None else max(int(self.n_jobs), 0),
            "seed": boost_seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }
        names = list(FEATURE_NAMES)
        train_set = lgb.Dataset(X, y, weight=w, feature_name=names, free_raw_data=True)
        valid_sets, callbacks = [], []
        if eval_set is not None:
            eval_users, eval_items, eval_correct = eval_set
            eval_users, eval_items = check_pairs(eval_users, eval_items, n_users, n_items)
            eval_y = np.asarray(eval_correct, dtype=np.float64)
            check_same_length(users=eval_users, correct=eval_y)
            eval_X = _features(
                self.first_stage_, self.counts_, eval_users, eval_items, self.smoothing
            )
            valid_sets = [lgb.Dataset(eval_X, eval_y, feature_name=names, reference=train_set)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_ = lgb.train(
            params,
            train_set,
            num_boost_round=int(self.n_estimators),
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        best = self.booster_.best_iteration if eval_set is not None else 0
        self.best_iteration_ = int(best) if best > 0 else int(self.n_estimators)
        self.feature_names_ = names
        return self

    def _features(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return _features(self.first_stage_, self.counts_, users, items, self.smoothing)

    def features(self, users, items) -> pd.DataFrame:
        """Second-stage features of (user, item) pairs, from the fully fitted first stage.

        Parameters
        ----------
        users, items : array-like of int, shape (n_pairs,)
            Indices; ``-1`` marks an unknown user or item.

        Returns
        -------
        DataFrame of shape (n_pairs, n_features)
        """
        check_is_fitted(self)
        users, items = check_pairs(users, items, self.n_users_, self.n_items_)
        return pd.DataFrame(self._features(users, items), columns=self.feature_names_)

    def predict_proba(self, users, items) -> np.ndarray:
        """Probability of a correct answer for each (user, item) pair.

        Parameters
        ----------
        users, items : array-like of int, shape (n_pairs,)
            Indices; ``-1`` marks an unknown user or item.

        Returns
        -------
        ndarray of shape (n_pairs,)
            P(correct) in (0, 1).
        """
        check_is_fitted(self)
        users, items = check_pairs(users, items, self.n_users_, self.n_items_)
        if len(users) == 0:
            return np.empty(0)
        X = self._features(users, items)
        return self.booster_.predict(X, num_iteration=self.best_iteration_)

    def mastery(self, users=None) -> np.ndarray:
        """Knowledge reserve of the first stage (see :meth:`LogisticDiagnosis.mastery`)."""
        check_is_fitted(self)
        return self.first_stage_.mastery(users)

    def confidence(self, users=None) -> np.ndarray:
        """Confidence of the first stage (see :meth:`LogisticDiagnosis.confidence`)."""
        check_is_fitted(self)
        return self.first_stage_.confidence(users)

    def theta_se(self, users=None) -> np.ndarray:
        """Standard error of the first stage's theta (see :meth:`LogisticDiagnosis.theta_se`)."""
        check_is_fitted(self)
        return self.first_stage_.theta_se(users)

    def partial_update(self, user: int, item: int, correct: int, lr: float | None = None):
        """Update the first stage and the answer counts from one new answer (no refit).

        Parameters
        ----------
        user, item, correct, lr
            As in :meth:`LogisticDiagnosis.partial_update`.

        Returns
        -------
        ndarray of shape (n_topics,)
            The user's new mastery row.
        """
        check_is_fitted(self)
        row = self.first_stage_.partial_update(user, item, correct, lr=lr)
        Q = self.first_stage_.Q_
        topics = Q.indices[Q.indptr[item] : Q.indptr[item + 1]]
        self.counts_.add(int(user), int(item), float(correct), topics)
        return row
