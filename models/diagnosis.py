"""Cognitive diagnosis: per user × topic mastery from exam responses (知识储备度).

:class:`LogisticDiagnosis` is a regularised multidimensional logistic (MIRT-style) model over an
item → topic incidence matrix ``Q``; it gives the mastery profile, a confidence per cell and a cheap
online update. :class:`ganxun.models.stacked_diagnosis.StackedDiagnosis` adds a LightGBM second
stage.

Indices are internal (0-based); ``-1`` marks a user or item not seen in training.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from ganxun.models.responses import (
    as_index,
    check_fit_inputs,
    check_fitted,
    check_pairs,
    expand_topics,
    softplus,
)


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

    With ``guessing = c > 0`` the answers follow the three-parameter form with a guessing floor,
    ``P = c + (1 - c) * sigmoid(a_i * (theta - delta_i))``: a multiple-choice item is answered
    correctly by chance with probability ``c`` (1 / number of options). The floor is given, not
    learned: once theta is shrunk, a floor and the shrinkage both flatten the response curve, so
    the data identify it poorly (fitted freely it collapses towards 0 on simulated 3PL answers);
    set it from the exam format or choose it on validation answers. The mastery stays
    ``sigmoid(theta)``: the knowledge, not luck.

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
    guessing : float
        Guessing floor of every item, in [0, 1); 0 is the two-parameter model.
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
    item_guessing_ : ndarray of shape (n_items,)
        Guessing floor of each item (``guessing``).
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
        guessing: float = 0.0,
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
        self.guessing = guessing
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
        Qn, users, items, y, w = check_fit_inputs(users, items, correct, Q, n_users, sample_weight)
        n_items, n_topics = Qn.shape
        n_users = int(n_users)
        prior = self._check_prior(theta_prior, n_users, n_topics)

        rows, topics, qw = expand_topics(Qn, items)
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
        if not 0.0 <= self.guessing < 1.0:
            raise ValueError(f"guessing must be in [0, 1), got {self.guessing}")
        guess = self.guessing > 0
        gamma = float(np.log(self.guessing / (1.0 - self.guessing))) if guess else 0.0
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
            if guess:
                nll, e = _floor_terms(eta, y, w, gamma)
            else:
                nll = np.dot(w, softplus(eta) - y * eta)
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
        self.item_guessing_ = np.full(n_items, float(self.guessing))
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
        info = (
            w * a * a * _information(expit(self._logit(users, items)), self.item_guessing_[items])
        )
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
        rows, topics, qw = expand_topics(self.Q_, items)
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
        """Logit of the probability of knowing the answer (before any guessing floor).

        Parameters
        ----------
        users, items : array-like of int, shape (n_pairs,)
            Indices; ``-1`` marks an unknown user (population/prior mastery) or item (no topics:
            the user's mean mastery).

        Returns
        -------
        ndarray of shape (n_pairs,)
        """
        check_fitted(self, "theta_")
        users, items = check_pairs(users, items, self.n_users_, self.n_items_)
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
            P(correct) in (0, 1), the guessing floor included.
        """
        check_fitted(self, "theta_")
        users, items = check_pairs(users, items, self.n_users_, self.n_items_)
        s = expit(self._logit(users, items))
        floor = self._floor(items)
        return floor + (1.0 - floor) * s

    def _floor(self, items: np.ndarray) -> np.ndarray:
        """Guessing floor of each item (0 for unknown items and for models without one)."""
        guess = getattr(self, "item_guessing_", None)
        if guess is None:
            return np.zeros(len(items))
        return np.where(items >= 0, guess[np.maximum(items, 0)], 0.0)

    def _user_index(self, users) -> np.ndarray:
        if users is None:
            return np.arange(self.n_users_)
        return as_index("users", np.atleast_1d(users), self.n_users_, allow_unknown=True)

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
        check_fitted(self, "theta_")
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
        check_fitted(self, "theta_")
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
        check_fitted(self, "theta_")
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
        check_fitted(self, "theta_")
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
        s = float(expit(a * (z - self.item_difficulty_[i])))
        c = float(self._floor(np.array([i]))[0])
        p = c + (1.0 - c) * s
        if lr is None:
            step = 1.0 / (self.fisher_[u, topics] + self.l2_theta)
        else:
            step = float(lr)
        # d log-likelihood / d logit: (correct - p) without a floor; a correct answer says less
        # when it may have been a guess
        score = (1.0 - s) * (1.0 - c) * s / p if correct else -s
        self.theta_[u, topics] += step * a * qw * score
        self.fisher_[u, topics] += a * a * qw * qw * float(_information(np.array([s]), c)[0])
        return expit(self.theta_[u])

    @staticmethod
    def _one_index(name: str, value, size: int) -> int:
        """One known 0-based index (the scalar fast path of :func:`as_index`)."""
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            index = int(value)
            if not 0 <= index < size:
                raise ValueError(f"{name} index {index} is out of range [0, {size - 1}]")
            return index
        return int(as_index(name, [value], size, allow_unknown=False)[0])

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
        check_fitted(self, "theta_")
        u = int(as_index("user", [user], self.n_users_, allow_unknown=False)[0])
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
        check_fitted(self, "theta_")
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


def _floor_terms(eta, y, w, gamma: float):
    """Negative log-likelihood of answers with a guessing floor, and its gradient in ``eta``.

    ``P = c + (1 - c) * s`` with ``s = sigmoid(eta)`` and ``c = sigmoid(gamma)``; the gradient
    is already weighted by ``w``.
    """
    s = expit(eta)
    c = float(expit(gamma))
    log_1mp = -softplus(np.array(gamma)) - softplus(eta)  # log(1 - c) + log(1 - s)
    log_p = np.logaddexp(-softplus(np.array(-gamma)), -softplus(np.array(gamma)) - softplus(-eta))
    nll = -np.dot(w, y * log_p + (1.0 - y) * log_1mp)
    p = np.exp(log_p)
    e = w * ((1.0 - y) * s - y * (1.0 - c) * s * (1.0 - s) / p)
    return nll, e


def _information(s: np.ndarray, c) -> np.ndarray:
    """Fisher information of one answer about its logit, with floor ``c``: ``p'^2 / p(1-p)``."""
    c = np.asarray(c, dtype=float)
    p = c + (1.0 - c) * s
    slope = (1.0 - c) * s * (1.0 - s)
    return slope * slope / np.maximum(p * (1.0 - p), 1e-12)
