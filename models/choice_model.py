"""Tastes learned from self-chosen items: a multinomial-logit factor model with availability.

When users *choose* items from a catalogue that grows over time, each choice says "this one,
out of everything on offer that day". :func:`fit_choice_factors` fits

    P(user u picks item j on day t) ∝ exp(x_u · y_j + b_j + w · c_j(ctx))   over items published
                                                                            by day t

by sampled softmax. Each mini-batch of choices is contrasted with items drawn uniformly from
the catalogue, and items not yet published on the choice's day are masked out. User factors,
item factors and item biases are updated with Adam, lazily (only the rows a batch touches).

The optional context term ``w · c_j(ctx)`` holds known, time-varying signals of each choice's
situation (for courses: promoted that month by a class open to the cadre's rank). Its weights
``w`` are learned alongside, so that choices explained by their situation are not read as taste.

Unlike implicit ALS, which counts every item a user never touched as a weak negative (even items
published after the user's last visit), only items on offer at the time compete here, and
assigned (not chosen) items can be left out of the events.

:class:`ChoiceRetriever` serves the learned taste ``x_u · y_j`` as a candidate source of the
two-stage recommender, one set of factors per stage (the ranker's label cut-off and serving).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ganxun.models.retrieval import StagedRetriever


@dataclass(frozen=True)
class ChoiceFactors:
    """What :func:`fit_choice_factors` learned.

    Attributes
    ----------
    user_factors : ndarray of shape (n_users, factors)
        Zero rows for users without a choice.
    item_factors : ndarray of shape (n_items, factors)
    item_bias : ndarray of shape (n_items,)
        The item's appeal to everyone (popularity, quality), apart from tastes.
    context_weights : ndarray of shape (n_context_features,)
        Weight of each context signal (empty without context).
    """

    user_factors: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    context_weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def taste(self, users: np.ndarray) -> np.ndarray:
        """``x_u · y_j`` for each user in ``users`` (zeros for ids past the fitted users)."""
        users = np.asarray(users, dtype=np.int64)
        x = np.zeros((len(users), self.user_factors.shape[1]), np.float32)
        known = (users >= 0) & (users < len(self.user_factors))
        x[known] = self.user_factors[users[known]]
        return x @ self.item_factors.T


class _Adam:
    """Adam over the rows of one parameter array; ``rows=None`` updates every row.

    Lazy: a step updates the moments of the given rows only, with the bias correction of the
    global step count (rows a batch does not touch keep their moments).
    """

    def __init__(self, param: np.ndarray, learning_rate: float):
        self.param, self.lr = param, learning_rate
        self.m, self.v = np.zeros_like(param), np.zeros_like(param)
        self.t = 0

    def step(self, rows: np.ndarray | None, grad: np.ndarray) -> None:
        """One update of ``param[rows]`` (every row when ``rows`` is None) by ``grad``."""
        b1, b2 = 0.9, 0.999
        self.t += 1
        at = slice(None) if rows is None else rows
        m = self.m[at] * b1 + (1 - b1) * grad
        v = self.v[at] * b2 + (1 - b2) * grad * grad
        self.m[at], self.v[at] = m, v
        step = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        self.param[at] -= step * m / (np.sqrt(v) + 1e-8)


def _scatter_add(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """``out[index[r]] += values[r]`` for every row r, into an (n, width) float32 array."""
    order = np.argsort(index, kind="stable")
    indptr = np.searchsorted(index[order], np.arange(n + 1))
    pick = sp.csr_matrix((np.ones(len(index), np.float32), order, indptr), shape=(n, len(index)))
    return np.asarray(pick @ values, dtype=np.float32)


def fit_choice_factors(
    users,
    items,
    days,
    available_from,
    n_users: int,
    factors: int = 16,
    epochs: int = 5,
    negatives: int = 256,
    batch_size: int = 1024,
    learning_rate: float = 0.01,
    l2: float = 1e-4,
    random_state: int | None = 0,
    context_features=None,
    contexts=None,
) -> ChoiceFactors:
    """Fit user and item factors to choices by sampled softmax (see the module docstring).

    Parameters
    ----------
    users, items : array-like of int, shape (n_choices,)
        Who chose what (indices into ``range(n_users)`` and ``range(len(available_from))``).
    days : array-like of int, shape (n_choices,)
        Day number of each choice (any integer clock shared with ``available_from``).
    available_from : array-like of int, shape (n_items,)
        First day each item could be chosen.
    n_users : int
        Number of users (rows of the user factors).
    factors : int
        Dimension of the taste vectors.
    epochs : int
        Passes over the choices.
    negatives : int
        Items drawn uniformly per mini-batch to compete with its choices.
    batch_size : int
        Choices per mini-batch.
    learning_rate, l2 : float
        Adam step size and L2 penalty on the factors of the rows a batch touches.
    random_state : int or None
        Seed of the initialisation, shuffling and negative draws.
    context_features : array-like of shape (n_contexts, n_items, n_context_features), optional
        Known signals of each item in each situation (e.g. month × rank), added to the utility
        with learned weights.
    contexts : array-like of int, shape (n_choices,), optional
        The situation of each choice (index into ``context_features``); required with it.

    Returns
    -------
    ChoiceFactors
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    avail = np.asarray(available_from, dtype=np.int64)
    n_items = len(avail)
    if not (len(users) == len(items) == len(days)):
        raise ValueError("users, items and days must have one entry per choice")
    if len(users) and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"user indices must lie in [0, {n_users})")
    if len(items) and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"item indices must lie in [0, {n_items})")
    ctx_x, ctx = _check_context(context_features, contexts, len(users), n_items)
    if factors < 1 or epochs < 0 or negatives < 1 or batch_size < 1:
        raise ValueError("factors, negatives and batch_size must be positive, epochs >= 0")
    rng = np.random.default_rng(random_state)
    x = np.zeros((n_users, factors), np.float32)
    chosen = np.unique(users)
    x[chosen] = rng.normal(0.0, 0.1, (len(chosen), factors))
    y = rng.normal(0.0, 0.1, (n_items, factors)).astype(np.float32)
    b = np.zeros((n_items, 1), np.float32)
    w = np.zeros((1, ctx_x.shape[2]), np.float32)
    opt_x, opt_y, opt_b, opt_w = (_Adam(p, learning_rate) for p in (x, y, b, w))
    by_item = np.ascontiguousarray(ctx_x.transpose(1, 0, 2))  # (n_items, n_contexts, n_cf)
    for _ in range(epochs):
        order = rng.permutation(len(users))
        for lo in range(0, len(order), batch_size):
            batch = order[lo : lo + batch_size]
            u, j, t, c = users[batch], items[batch], days[batch], ctx[batch]
            neg = rng.integers(0, n_items, negatives)
            xu, yj, yn = x[u], y[j], y[neg]
            pos = np.einsum("bd,bd->b", xu, yj) + b[j, 0]  # the choices' utilities
            other = xu @ yn.T + b[neg, 0]  # the drawn items', (batch, negatives)
            if w.shape[1]:
                c_pos, c_neg = by_item[j, c], by_item[neg]
                pos += c_pos @ w[0]
                other += np.ascontiguousarray((c_neg @ w[0]).T)[c]
            offer = (avail[neg][None, :] <= t[:, None]) & (neg[None, :] != j[:, None])
            other[~offer] = -np.inf  # not on offer that day (or the choice itself)
            top = np.maximum(pos, other.max(axis=1))
            e_pos, e_neg = np.exp(pos - top), np.exp(other - top[:, None])
            total = (e_pos + e_neg.sum(axis=1)) * len(batch)
            g_pos = e_pos / total - 1.0 / len(batch)  # d mean(-log softmax) / d utilities
            g_neg = e_neg / total[:, None]
            grad_x = g_pos[:, None] * yj + g_neg @ yn + l2 * xu
            if w.shape[1]:
                by_context = _scatter_add(c, g_neg, len(ctx_x))  # (n_contexts, negatives)
                grad_w = g_pos @ c_pos + by_context.T.ravel() @ c_neg.reshape(-1, w.shape[1])
                opt_w.step(None, grad_w[None, :].astype(np.float32))
            touched = np.concatenate([j, neg])
            grad_y = _scatter_add(touched, np.vstack([g_pos[:, None] * xu, g_neg.T @ xu]), n_items)
            grad_b = np.bincount(touched, np.concatenate([g_pos, g_neg.sum(axis=0)]), n_items)
            hit = np.unique(touched)
            opt_y.step(hit, grad_y[hit] + l2 * y[hit])
            opt_b.step(hit, grad_b[hit, None].astype(np.float32))
            rows, inverse = np.unique(u, return_inverse=True)
            opt_x.step(rows, _scatter_add(inverse, grad_x, len(rows)))
    return ChoiceFactors(x, y, b[:, 0].copy(), w[0].copy())


def _check_context(features, contexts, n_choices: int, n_items: int):
    """The context arrays as (n_contexts, n_items, n_features) float32 and (n_choices,) int."""
    if features is None and contexts is None:
        return np.zeros((1, n_items, 0), np.float32), np.zeros(n_choices, np.int64)
    if features is None or contexts is None:
        raise ValueError("context_features and contexts go together")
    feats = np.asarray(features, dtype=np.float32)
    ctx = np.asarray(contexts, dtype=np.int64)
    if feats.ndim != 3 or feats.shape[1] != n_items:
        raise ValueError(f"context_features must have shape (n_contexts, {n_items}, n_features)")
    if len(ctx) != n_choices:
        raise ValueError("contexts must have one entry per choice")
    if len(ctx) and (ctx.min() < 0 or ctx.max() >= len(feats)):
        raise ValueError(f"contexts must lie in [0, {len(feats)})")
    return feats, ctx


class ChoiceRetriever(StagedRetriever):
    """Candidate source scoring items by a user's learned taste ``x_u · y_j``.

    Parameters
    ----------
    factors : dict of str to ChoiceFactors
        Per stage (``"fit"``: fitted on the choices before the ranker's label cut-off,
        ``"recommend"``: before the serving cut-off); users past the fitted ones score zero.
    """

    calibrated = True  # utilities on the logit scale at both stages: the ranker reads them raw

    def __init__(self, factors: dict | None = None):
        self.factors = factors

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if not self.factors or self.stage_ not in self.factors:
            raise ValueError(f"ChoiceRetriever needs factors for stage {self.stage_!r}")
        self.factors_ = self.factors[self.stage_]
        if self.factors_.item_factors.shape[0] != user_items.shape[1]:
            raise ValueError(
                f"the factors cover {self.factors_.item_factors.shape[0]} items, "
                f"the interactions {user_items.shape[1]}"
            )

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return self.factors_.taste(ids)
