"""Cognitive diagnosis: per user × topic mastery from exam responses (知识储备度).

:class:`LogisticDiagnosis` is a regularised multidimensional logistic (MIRT-style) model over an
item → topic incidence matrix ``Q``; it gives the mastery profile, a confidence per cell and a cheap
online update. :class:`StackedDiagnosis` adds a LightGBM second stage over diagnostic features
(computed out-of-fold for its training rows) to predict responses more accurately, and exposes the
first stage's profile.

Indices are internal (0-based); ``-1`` marks a user or item not seen in training.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits


def _check_fitted(estimator, attribute: str) -> None:
    """``check_is_fitted`` for the per-event paths: one attribute look-up, no tag machinery."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def _softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow (faster than ``np.logaddexp(0, x)``)."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _check_q(Q) -> sp.csr_matrix:
    """Validate ``Q`` and return it row-normalised (each non-empty row sums to one)."""
    if not sp.issparse(Q):
        Q = np.asarray(Q)
        if Q.ndim != 2:
            raise ValueError(f"Q must be 2-D (n_items × n_topics), got shape {Q.shape}")
    Q = sp.csr_matrix(Q, dtype=np.float64)
    Q.sum_duplicates()
    Q.eliminate_zeros()
    if Q.nnz and (not np.isfinite(Q.data).all() or Q.data.min() < 0):
        raise ValueError("Q must be finite and non-negative (1 where the item tests the topic)")
    if Q.shape[1] == 0:
        raise ValueError("Q must have at least one topic column")
    rows = np.asarray(Q.sum(axis=1)).ravel()
    scale = np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)
    return sp.csr_matrix(sp.diags(scale) @ Q)


def _as_index(name: str, values, size: int, allow_unknown: bool) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer indices")
    arr = arr.astype(np.int64)
    low = -1 if allow_unknown else 0
    if arr.size and (arr.min() < low or arr.max() >= size):
        bad = arr[(arr < low) | (arr >= size)][0]
        allowed = f"[{low}, {size - 1}]"
        raise ValueError(f"{name} index {bad} is out of range {allowed}")
    return arr


def _check_same_length(**arrays) -> int:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {lengths}")
    return next(iter(lengths.values()))


def _check_responses(users, items, correct, n_users: int, n_items: int, sample_weight=None):
    """Validate a training set of responses; return (users, items, correct, weight)."""
    _check_same_length(
        users=np.asarray(users).ravel(),
        items=np.asarray(items).ravel(),
        correct=np.asarray(correct).ravel(),
        sample_weight=None if sample_weight is None else np.asarray(sample_weight).ravel(),
    )
    users = _as_index("users", users, n_users, allow_unknown=False)
    items = _as_index("items", items, n_items, allow_unknown=False)
    y = np.asarray(correct, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"correct must be 1-D, got shape {y.shape}")
    if y.size == 0:
        raise ValueError("at least one response is needed to fit")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("correct must be 0 or 1")
    if sample_weight is None:
        w = np.ones_like(y)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim != 1 or (w < 0).any() or not np.isfinite(w).all():
            raise ValueError("sample_weight must be 1-D, finite and non-negative")
    return users, items, y, w


def _check_fit_inputs(users, items, correct, Q, n_users, sample_weight):
    """Validate the arguments of ``fit``; return (row-normalised Q, users, items, y, weight)."""
    Qn = _check_q(Q)
    if int(n_users) < 1:
        raise ValueError(f"n_users must be positive, got {n_users}")
    checked = _check_responses(users, items, correct, int(n_users), Qn.shape[0], sample_weight)
    return (Qn, *checked)


def _check_pairs(users, items, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate (user, item) query pairs; ``-1`` marks an unknown user or item."""
    _check_same_length(users=np.asarray(users).ravel(), items=np.asarray(items).ravel())
    return (
        _as_index("users", users, n_users, allow_unknown=True),
        _as_index("items", items, n_items, allow_unknown=True),
    )


def _expand(Qn: sp.csr_matrix, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, topic, weight) of every (response, topic) pair; items ``-1`` have no topics."""
    known = items >= 0
    sub = Qn[np.where(known, items, 0)]
    counts = np.diff(sub.indptr) * known
    keep = np.repeat(known, np.diff(sub.indptr))
    rows = np.repeat(np.arange(len(items)), counts)
    return rows, sub.indices[keep].astype(np.int64), sub.data[keep]


class LogisticDiagnosis(BaseEstimator):
    """Regularised multidimensional logistic model of exam responses over topics.

    The probability that user ``u`` answers item ``i`` correctly is

    ``logit P = a_i * (mean_{k in topics(i)} theta[u, k] - delta_i)``

    where ``theta[u, k]`` is the logit of the probability that ``u`` answers an item of average
    difficulty on topic ``k`` (so ``sigmoid(theta)`` is the mastery, the knowledge reserve), and
    ``delta_i`` is the item's difficulty relative to the mean difficulty of its topics. Items with
    no topics use the user's general ability only. Mastery is built hierarchically,

    ``theta[u, k] = prior[u, k] + c + m_k + g_u + sum_j e_j[group_j(u), k]
    + beta . x[u, k] + d[u, k]``

    with a global level ``c``, a topic level ``m_k`` (minus the topic's mean difficulty), the
    user's general ability ``g_u``, optional effects ``e_j`` per topic of the user's group in each
    grouping ``j`` (unit, category, rank …: users of a unit share its strong and weak topics),
    optional covariates ``x`` with learned coefficients ``beta`` and a topic-specific deviation
    ``d[u, k]``. The
    covariates may change with time: each answer uses their value when it was given (``X``),
    theta their value at the cut-off (``C``), so an old answer is read through the training the
    user had then (e.g. exposure to training on the topic). The Gaussian
    (L2) penalties shrink ``d`` and ``g`` to zero, so theta shrinks towards the prior plus the
    topic level — a user with few answers on a topic borrows from the prior, the user's other
    topics and the population. Without a prior, ``c + m_k`` is the population's mastery of the
    topic; with one, it only recalibrates the prior per topic (about zero when the prior is
    calibrated, so a user without answers gets ``sigmoid(prior)``). ``delta`` shrinks towards
    zero, i.e. each item's difficulty towards its topics' mean difficulty; ``a_i = exp(alpha_i)``
    (discrimination) shrinks towards one; ``l2_disc_mean`` also pins the mean of ``log a`` to
    zero, which fixes the scale of theta (otherwise a common inflation of every ``a`` trades off
    against the penalties on theta). The MAP estimate is found with L-BFGS-B on the sparse,
    vectorised negative log-likelihood and its analytic gradient.

    Parameters
    ----------
    l2_theta : float
        Prior precision of the topic-specific deviations ``d`` (larger = more shrinkage towards
        the prior / the user's general ability).
    l2_user : float
        Prior precision of the user's general ability ``g``.
    l2_item : float
        Prior precision of the item difficulty ``delta`` around its topics' mean difficulty.
    l2_topic : float
        Prior precision of the topic levels ``m`` around the global level.
    l2_group : float
        Prior precision of the group × topic effects ``e`` (with ``user_groups``).
    l2_covariate : float
        Prior precision of the covariate coefficients ``beta`` (with ``covariates``).
    discrimination : bool
        Whether to learn an item discrimination ``a_i``.
    l2_disc : float
        Prior precision of ``log a_i`` around zero.
    l2_disc_mean : float
        Precision (per item) pinning the mean of ``log a`` to zero; 0 leaves it free.
    max_iter : int
        Maximum number of L-BFGS-B iterations.
    tol : float
        Relative tolerance on the objective (``ftol`` of L-BFGS-B).

    Attributes
    ----------
    theta_ : ndarray of shape (n_users, n_topics)
        Logit mastery per user × topic.
    theta_unknown_ : ndarray of shape (n_topics,)
        Logit mastery used for an unknown user (``-1``).
    user_ability_ : ndarray of shape (n_users,)
        General ability ``g`` (logit).
    topic_level_ : ndarray of shape (n_topics,)
        Population logit mastery per topic, ``c + m`` (minus the topic's mean difficulty).
    item_difficulty_ : ndarray of shape (n_items,)
        ``delta``: difficulty relative to the item's topics (0 for items never answered).
    item_discrimination_ : ndarray of shape (n_items,)
        ``a`` (1 when ``discrimination=False`` or for items never answered).
    fisher_ : ndarray of shape (n_users, n_topics)
        Diagonal Fisher information of the answers about each theta cell.
    group_effects_ : list of ndarray of shape (n_groups_j, n_topics)
        ``e_j`` per grouping (empty without ``user_groups``).
    covariate_coef_ : ndarray of shape (n_covariates,)
        ``beta`` (empty without ``covariates``).
    n_users_, n_items_, n_topics_ : int
        Sizes seen in ``fit``.
    n_iter_ : int
        L-BFGS-B iterations used.
    """

    def __init__(
        self,
        l2_theta: float = 2.0,
        l2_user: float = 0.5,
        l2_item: float = 1.0,
        l2_topic: float = 1.0,
        l2_group: float = 4.0,
        l2_covariate: float = 0.01,
        discrimination: bool = True,
        l2_disc: float = 10.0,
        l2_disc_mean: float = 0.0,
        max_iter: int = 500,
        tol: float = 1e-8,
    ):
        self.l2_theta = l2_theta
        self.l2_user = l2_user
        self.l2_item = l2_item
        self.l2_topic = l2_topic
        self.l2_group = l2_group
        self.l2_covariate = l2_covariate
        self.discrimination = discrimination
        self.l2_disc = l2_disc
        self.l2_disc_mean = l2_disc_mean
        self.max_iter = max_iter
        self.tol = tol

    def fit(
        self,
        users,
        items,
        correct,
        Q,
        n_users: int,
        theta_prior=None,
        sample_weight=None,
        user_groups=None,
        covariates=None,
        covariate_init=None,
    ) -> LogisticDiagnosis:
        """Fit the model by penalised maximum likelihood.

        Parameters
        ----------
        users, items : array-like of int, shape (n_responses,)
            0-based user and item indices of each response.
        correct : array-like of shape (n_responses,)
            1 when the answer was correct, else 0.
        Q : sparse matrix or array of shape (n_items, n_topics)
            Item → topic incidence (non-zero where the item tests the topic). It may hold items
            that were never answered; they get their topics' mean difficulty.
        n_users : int
            Number of users (rows of ``theta_``); users without answers get the prior.
        theta_prior : array-like of shape (n_users, n_topics), optional
            Prior logit mastery (e.g. from training exposure) that theta shrinks towards.
        sample_weight : array-like of shape (n_responses,), optional
            Weight of each response in the likelihood.
        user_groups : array-like of int, shape (n_users,) or (n_users, n_groupings), optional
            Group index of each user in each grouping (``-1``: in no group of that grouping);
            each grouping adds a group × topic effect shared by its members, answers or not.
        covariates : tuple of (X, C), optional
            ``X`` of shape (n_responses, p): the covariates of each answer's (user, item) when it
            was given, averaged over the item's topics like theta; ``C`` of shape
            (n_users, n_topics, p): their values at the cut-off, which theta includes.
        covariate_init : array-like of shape (p,), optional
            Starting values of ``beta`` (zeros when omitted), e.g. 1 for a calibrated prior.

        Returns
        -------
        self : LogisticDiagnosis
        """
        for name in (
            "l2_theta",
            "l2_user",
            "l2_item",
            "l2_topic",
            "l2_group",
            "l2_covariate",
            "l2_disc",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        Qn, users, items, y, w = _check_fit_inputs(users, items, correct, Q, n_users, sample_weight)
        n_items, n_topics = Qn.shape
        n_users = int(n_users)
        prior = self._check_prior(theta_prior, n_users, n_topics)

        rows, topics, qw = _expand(Qn, items)
        has_topic = np.bincount(rows, minlength=len(items)) > 0
        # Only cells and items with answers get free parameters: the others sit at their prior
        # mean (zero) at the optimum, and leaving them out keeps L-BFGS fast.
        cells, cell = np.unique(users[rows] * n_topics + topics, return_inverse=True)
        seen_items, item = np.unique(items, return_inverse=True)
        prior_term = (
            np.bincount(rows, weights=qw * prior.ravel()[cells[cell]], minlength=len(items))
            if prior is not None
            else np.zeros(len(items))
        )
        groups, group_sizes = self._check_groups(user_groups, n_users)
        X, C = self._check_covariates(covariates, len(items), n_users, n_topics)
        n_cov = X.shape[1]
        n_cells, n_seen, disc = len(cells), len(seen_items), bool(self.discrimination)
        n_group = int(sum(group_sizes)) * n_topics
        sizes = [n_cells, n_users, n_topics, 1, n_seen, n_group, n_cov]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        n_linear = int(offsets[-1])
        n = len(items)
        # z = design @ x + prior_term is linear in (d, g, m, c, delta, e); a = exp(alpha) scales
        # it. e holds one effect per (group, topic) of every grouping of the users.
        values = [qw, qw, np.ones(n), np.ones(n), -np.ones(n)]
        row_ids = [rows, rows, np.arange(n), np.arange(n), np.arange(n)]
        col_ids = [
            cell,
            offsets[2] + topics,
            offsets[1] + users,
            np.full(n, offsets[3]),
            offsets[4] + item,
        ]
        first_level = offsets[5] + np.concatenate([[0], np.cumsum(group_sizes)[:-1]]) * n_topics
        for j in range(len(group_sizes)):
            level = groups[users[rows], j]
            member = level >= 0
            values.append(qw[member])
            row_ids.append(rows[member])
            col_ids.append(first_level[j] + level[member] * n_topics + topics[member])
        for j in range(n_cov):
            values.append(X[:, j])
            row_ids.append(np.arange(n))
            col_ids.append(np.full(n, offsets[6] + j))
        design = sp.csr_matrix(
            (np.concatenate(values), (np.concatenate(row_ids), np.concatenate(col_ids))),
            shape=(n, n_linear),
        )
        design_t = design.T.tocsr()
        penalty = np.concatenate(
            [
                np.full(n_cells, self.l2_theta),
                np.full(n_users, self.l2_user),
                np.full(n_topics, self.l2_topic),
                [0.0],
                np.full(n_seen, self.l2_item),
                np.full(n_group, self.l2_group),
                np.full(n_cov, self.l2_covariate),
                np.full(n_seen if disc else 0, self.l2_disc),
            ]
        )

        # Diagonal preconditioning: L-BFGS-B works on v = x * sqrt(h), h ≈ the Hessian diagonal
        # (p(1 - p) ≈ 0.2), so the global level, the users and sparse cells are on one scale.
        curvature = 0.2 * (design.multiply(design).T @ w)
        if disc:
            curvature = np.concatenate([curvature, 0.2 * np.bincount(item, w, minlength=n_seen)])
        scale = 1.0 / np.sqrt(curvature + penalty + 1e-3)
        center = float(self.l2_disc_mean)

        def objective(v):
            x = v * scale
            z = design @ x[:n_linear] + prior_term
            a = np.exp(x[n_linear:][item]) if disc else 1.0
            eta = a * z
            nll = np.dot(w, _softplus(eta) - y * eta)
            e = w * (expit(eta) - y)
            grad = design_t @ (e * a)
            if disc:
                grad = np.concatenate([grad, np.bincount(item, weights=e * eta, minlength=n_seen)])
            grad += penalty * x
            pen = 0.5 * np.dot(penalty * x, x)
            if disc and center:
                # log a is pinned to mean zero: a common scale of every item would trade off
                # against the penalties on theta (and the fixed scale of the prior) instead.
                mean_alpha = x[n_linear:].mean()
                pen += 0.5 * center * n_seen * mean_alpha**2
                grad[n_linear:] += center * mean_alpha
            return nll + pen, grad * scale

        x0 = np.zeros(n_linear + (n_seen if disc else 0))
        if n_cov and covariate_init is not None:
            x0[offsets[6] : offsets[7]] = np.broadcast_to(
                np.asarray(covariate_init, dtype=np.float64), (n_cov,)
            )
        known = prior_term + X @ x0[offsets[6] : offsets[7]]
        mean_y = np.clip(np.average(y, weights=w) if w.sum() > 0 else 0.5, 1e-3, 1 - 1e-3)
        x0[offsets[3]] = np.log(mean_y / (1 - mean_y)) - (
            np.average(known[has_topic]) if has_topic.any() else 0.0
        )
        # L-BFGS-B's small dense products slow down many-fold under threaded BLAS.
        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(
                objective,
                x0 / scale,
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-6},
            )
        result.x = result.x * scale
        d, g, m, c, delta, e, beta, alpha = np.split(result.x, offsets[1:])
        self.covariate_coef_ = beta
        bounds = np.cumsum([0, *group_sizes]) * n_topics
        self.group_effects_ = [
            e[lo:hi].reshape(-1, n_topics) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        shared = np.zeros((n_users, n_topics))
        for j, effect in enumerate(self.group_effects_):
            level = groups[:, j]
            shared[level >= 0] += effect[level[level >= 0]]
        if n_cov:
            shared += C @ beta
        base = (0.0 if prior is None else prior) + c[0] + m[None, :] + g[:, None] + shared
        theta = np.array(np.broadcast_to(base, (n_users, n_topics)))
        theta.reshape(-1)[cells] += d
        self.theta_ = theta
        mean_prior = 0.0 if prior is None else prior.mean(axis=0)
        self.theta_unknown_ = mean_prior + c[0] + m + shared.mean(axis=0)
        self.user_ability_ = g
        self.topic_level_ = c[0] + m
        self.global_level_ = float(c[0])
        self.item_difficulty_ = np.zeros(n_items)
        self.item_difficulty_[seen_items] = delta
        self.item_discrimination_ = np.ones(n_items)
        if disc:
            self.item_discrimination_[seen_items] = np.exp(alpha)
        self.Q_ = Qn
        self.n_users_, self.n_items_, self.n_topics_ = n_users, n_items, n_topics
        self.n_iter_ = int(result.nit)
        # Diagonal Fisher information of the answers about each theta cell.
        a = self.item_discrimination_[items]
        p = expit(self._logit(users, items))
        info = w * a * a * p * (1 - p)
        self.fisher_ = np.bincount(
            users[rows] * n_topics + topics,
            weights=info[rows] * qw * qw,
            minlength=n_users * n_topics,
        ).reshape(n_users, n_topics)
        return self

    @staticmethod
    def _check_covariates(covariates, n: int, n_users: int, n_topics: int):
        """Validate ``covariates``; return X (n_responses, p) and C (n_users, n_topics, p)."""
        if covariates is None:
            return np.zeros((n, 0)), np.zeros((n_users, n_topics, 0))
        X, C = (np.asarray(a, dtype=np.float64) for a in covariates)
        if X.ndim == 1:
            X = X[:, None]
        if C.ndim == 2:
            C = C[:, :, None]
        if X.shape[0] != n or C.shape[:2] != (n_users, n_topics) or X.shape[1] != C.shape[2]:
            raise ValueError(
                "covariates must be (X of shape (n_responses, p), C of shape "
                f"(n_users, n_topics, p)), got {X.shape} and {C.shape}"
            )
        if not (np.isfinite(X).all() and np.isfinite(C).all()):
            raise ValueError("covariates must be finite")
        return X, C

    @staticmethod
    def _check_groups(user_groups, n_users: int) -> tuple[np.ndarray, list[int]]:
        """Validate ``user_groups``; return it as (n_users, n_groupings) ints and level counts."""
        if user_groups is None:
            return np.zeros((n_users, 0), dtype=np.int64), []
        groups = np.asarray(user_groups)
        if groups.ndim == 1:
            groups = groups[:, None]
        if groups.ndim != 2 or groups.shape[0] != n_users:
            raise ValueError(
                f"user_groups must have shape (n_users, n_groupings) with n_users={n_users}, "
                f"got {groups.shape}"
            )
        if groups.size and not np.issubdtype(groups.dtype, np.integer):
            if not np.all(np.equal(np.mod(groups, 1), 0)):
                raise ValueError("user_groups must hold integer group indices")
        groups = groups.astype(np.int64)
        if groups.size and groups.min() < -1:
            raise ValueError("user_groups must be >= 0, or -1 for no group")
        sizes = [int(groups[:, j].max()) + 1 if len(groups) else 0 for j in range(groups.shape[1])]
        return groups, [max(size, 0) for size in sizes]

    @staticmethod
    def _check_prior(theta_prior, n_users: int, n_topics: int) -> np.ndarray | None:
        if theta_prior is None:
            return None
        prior = np.asarray(theta_prior, dtype=np.float64)
        if prior.shape != (n_users, n_topics):
            raise ValueError(
                f"theta_prior must have shape (n_users, n_topics) = {(n_users, n_topics)}, "
                f"got {prior.shape}"
            )
        if not np.isfinite(prior).all():
            raise ValueError("theta_prior must be finite (logit scale)")
        return prior

    def _theta_rows(self, users: np.ndarray) -> np.ndarray:
        """Theta rows of ``users`` (the unknown-user row for ``-1``)."""
        return np.where(
            (users >= 0)[:, None], self.theta_[np.maximum(users, 0)], self.theta_unknown_
        )

    def _logit(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Logit of P(correct) for validated index arrays."""
        rows, topics, qw = _expand(self.Q_, items)
        n = len(users)
        has_topic = np.bincount(rows, minlength=n) > 0
        theta = self.theta_.ravel()[np.maximum(users[rows], 0) * self.n_topics_ + topics]
        theta = np.where(users[rows] >= 0, theta, self.theta_unknown_[topics])
        z = np.bincount(rows, weights=qw * theta, minlength=n)
        # Items without topics (or unknown items): the user's general ability.
        ability = np.where(users >= 0, self.user_ability_[np.maximum(users, 0)], 0.0)
        general = self.global_level_ + ability
        if items.size and (items < 0).any():
            general = np.where(items >= 0, general, self._theta_rows(users).mean(axis=1))
        z = np.where(has_topic, z, general)
        known = items >= 0
        z = z - np.where(known, self.item_difficulty_[np.maximum(items, 0)], 0.0)
        a = np.where(known, self.item_discrimination_[np.maximum(items, 0)], 1.0)
        return a * z

    def decision_function(self, users, items) -> np.ndarray:
        """Logit of the probability of a correct answer for each (user, item) pair.

        Parameters
        ----------
        users, items : array-like of int, shape (n_pairs,)
            Indices; ``-1`` marks an unknown user (population/prior mastery) or item (no topics:
            the user's mean mastery).

        Returns
        -------
        ndarray of shape (n_pairs,)
        """
        _check_fitted(self, "theta_")
        users, items = _check_pairs(users, items, self.n_users_, self.n_items_)
        return self._logit(users, items)

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
        return expit(self.decision_function(users, items))

    def _user_index(self, users) -> np.ndarray:
        if users is None:
            return np.arange(self.n_users_)
        return _as_index("users", np.atleast_1d(users), self.n_users_, allow_unknown=True)

    def mastery(self, users=None) -> np.ndarray:
        """Knowledge reserve: P(correct) on an average-difficulty item of each topic.

        Parameters
        ----------
        users : array-like of int, optional
            User indices (``-1`` for an unknown user); all users when omitted.

        Returns
        -------
        ndarray of shape (n, n_topics)
            ``sigmoid(theta)`` in [0, 1].
        """
        _check_fitted(self, "theta_")
        return expit(self._theta_rows(self._user_index(users)))

    def theta_se(self, users=None) -> np.ndarray:
        """Approximate standard error of each theta cell (logit scale).

        The topic-specific precision is the diagonal Fisher information of the user's answers
        on the topic plus the prior precision ``l2_theta``.

        Parameters
        ----------
        users : array-like of int, optional
            User indices (``-1`` for an unknown user); all users when omitted.

        Returns
        -------
        ndarray of shape (n, n_topics)
        """
        _check_fitted(self, "theta_")
        return 1.0 / np.sqrt(self._fisher_rows(self._user_index(users)) + self.l2_theta)

    def confidence(self, users=None) -> np.ndarray:
        """Share of each cell's precision that comes from the user's own answers, in [0, 1].

        ``fisher / (fisher + l2_theta)``: 0 for a topic the user never answered (the estimate is
        the prior), approaching 1 as answers on the topic accumulate.

        Parameters
        ----------
        users : array-like of int, optional
            User indices (``-1`` for an unknown user); all users when omitted.

        Returns
        -------
        ndarray of shape (n, n_topics)
        """
        _check_fitted(self, "theta_")
        info = self._fisher_rows(self._user_index(users))
        return info / (info + self.l2_theta)

    def _fisher_rows(self, users: np.ndarray) -> np.ndarray:
        return np.where((users >= 0)[:, None], self.fisher_[np.maximum(users, 0)], 0.0)

    def partial_update(self, user: int, item: int, correct: int, lr: float | None = None):
        """Update one user's mastery from one new answer without refitting (Elo-style).

        Each topic ``k`` of the item moves by ``step * a_i * q_ik * (correct - p)``, where ``p``
        is the predicted probability before the answer. With ``lr=None`` the step is the
        cell's current posterior variance ``1 / (fisher + l2_theta)`` — one Newton step, so
        well-measured cells move less — and the cell's Fisher information grows by the answer's.
        Other topics and other users are unchanged.

        Parameters
        ----------
        user, item : int
            Indices of a known user and item.
        correct : int
            1 when the answer was correct, else 0.
        lr : float, optional
            Fixed step size (Elo ``K`` on the logit scale) instead of the Newton step.

        Returns
        -------
        ndarray of shape (n_topics,)
            The user's new mastery row.
        """
        _check_fitted(self, "theta_")
        u, i = (
            self._one_index("user", user, self.n_users_),
            self._one_index("item", item, self.n_items_),
        )
        if correct not in (0, 1, True, False):
            raise ValueError(f"correct must be 0 or 1, got {correct}")
        start, end = self.Q_.indptr[i], self.Q_.indptr[i + 1]
        topics, qw = self.Q_.indices[start:end], self.Q_.data[start:end]
        a = self.item_discrimination_[i]
        # the logit of _logit for one known pair, without the sparse row gathering
        if len(topics):
            z = float(qw @ self.theta_[u, topics])
        else:
            z = self.global_level_ + float(self.user_ability_[u])
        p = float(expit(a * (z - self.item_difficulty_[i])))
        if lr is None:
            step = 1.0 / (self.fisher_[u, topics] + self.l2_theta)
        else:
            step = float(lr)
        self.theta_[u, topics] += step * a * qw * (float(correct) - p)
        self.fisher_[u, topics] += a * a * qw * qw * p * (1 - p)
        return expit(self.theta_[u])

    @staticmethod
    def _one_index(name: str, value, size: int) -> int:
        """One known 0-based index (the scalar fast path of :func:`_as_index`)."""
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            index = int(value)
            if not 0 <= index < size:
                raise ValueError(f"{name} index {index} is out of range [0, {size - 1}]")
            return index
        return int(_as_index(name, [value], size, allow_unknown=False)[0])

    def shift_prior(self, user: int, delta: np.ndarray) -> np.ndarray:
        """Move one user's theta by a change of their prior (e.g. new training hours).

        Cells the user's answers already pin down move less: the shift is weighted by
        ``1 - confidence``. Other users are unchanged.

        Parameters
        ----------
        user : int
            Index of a known user.
        delta : ndarray of shape (n_topics,)
            Change of the prior on the logit scale.

        Returns
        -------
        ndarray of shape (n_topics,)
            The user's new mastery row.
        """
        _check_fitted(self, "theta_")
        u = int(_as_index("user", [user], self.n_users_, allow_unknown=False)[0])
        delta = np.asarray(delta, dtype=np.float64)
        if delta.shape != (self.n_topics_,):
            raise ValueError(f"delta must have shape ({self.n_topics_},), got {delta.shape}")
        self.theta_[u] += delta * (1.0 - self.confidence([u])[0])
        return expit(self.theta_[u])

    def shift_covariates(self, user: int, delta) -> np.ndarray:
        """Move one user's theta by a change of their covariates (e.g. new training hours).

        ``theta[u] += delta @ beta``: the same effect the covariates have in the fit, in full
        (new training changes the mastery, whatever the old answers said).
        Other users are unchanged.

        Parameters
        ----------
        user : int
            Index of a known user.
        delta : ndarray of shape (n_topics,) or (n_topics, n_covariates)
            Change of the user's covariates per topic.

        Returns
        -------
        ndarray of shape (n_topics,)
            The user's new mastery row.
        """
        _check_fitted(self, "theta_")
        u = self._one_index("user", user, self.n_users_)
        coef = getattr(self, "covariate_coef_", np.zeros(0))
        delta = np.asarray(delta, dtype=np.float64)
        if delta.ndim == 1:
            delta = delta[:, None]
        if delta.shape != (self.n_topics_, len(coef)) or not len(coef):
            raise ValueError(
                f"delta must have shape ({self.n_topics_}, {len(coef)}) for a model fitted with "
                f"{len(coef)} covariates, got {delta.shape}"
            )
        self.theta_[u] += delta @ coef
        return expit(self.theta_[u])


class _ResponseCounts:
    """Answer counts and correct counts per user, item, topic and user × topic."""

    def __init__(self, users, items, y, w, Qn: sp.csr_matrix, n_users: int):
        n_items, n_topics = Qn.shape
        rows, topics, _ = _expand(Qn, items)
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
    rows, topics, qw = _expand(first.Q_, items)
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
        Qn, users, items, y, w = _check_fit_inputs(users, items, correct, Q, n_users, sample_weight)
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
            eval_users, eval_items = _check_pairs(eval_users, eval_items, n_users, n_items)
            eval_y = np.asarray(eval_correct, dtype=np.float64)
            _check_same_length(users=eval_users, correct=eval_y)
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
        users, items = _check_pairs(users, items, self.n_users_, self.n_items_)
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
        users, items = _check_pairs(users, items, self.n_users_, self.n_items_)
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
