"""Checks and small helpers shared by the response models of :mod:`ganxun.models.diagnosis`.

Validation of (user, item, correct) arrays and of the item → topic matrix ``Q``, with errors that
say what was wrong, and the expansion of responses to (response, topic) pairs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError


def check_fitted(estimator, attribute: str) -> None:
    """``check_is_fitted`` for the per-event paths: one attribute look-up, no tag machinery."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` without overflow (faster than ``np.logaddexp(0, x)``)."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def check_q(Q) -> sp.csr_matrix:
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


def as_index(name: str, values, size: int, allow_unknown: bool) -> np.ndarray:
    """Integer indices in ``[0, size)`` (or ``-1`` for unknown when allowed), else a ValueError."""
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


def check_same_length(**arrays) -> int:
    """The common length of the arrays given (None skipped), else a ValueError naming each."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {lengths}")
    return next(iter(lengths.values()))


def check_responses(users, items, correct, n_users: int, n_items: int, sample_weight=None):
    """Validate a training set of responses; return (users, items, correct, weight)."""
    check_same_length(
        users=np.asarray(users).ravel(),
        items=np.asarray(items).ravel(),
        correct=np.asarray(correct).ravel(),
        sample_weight=None if sample_weight is None else np.asarray(sample_weight).ravel(),
    )
    users = as_index("users", users, n_users, allow_unknown=False)
    items = as_index("items", items, n_items, allow_unknown=False)
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


def check_fit_inputs(users, items, correct, Q, n_users, sample_weight):
    """Validate the arguments of ``fit``; return (row-normalised Q, users, items, y, weight)."""
    Qn = check_q(Q)
    if int(n_users) < 1:
        raise ValueError(f"n_users must be positive, got {n_users}")
    checked = check_responses(users, items, correct, int(n_users), Qn.shape[0], sample_weight)
    return (Qn, *checked)


def check_pairs(users, items, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate (user, item) query pairs; ``-1`` marks an unknown user or item."""
    check_same_length(users=np.asarray(users).ravel(), items=np.asarray(items).ravel())
    return (
        as_index("users", users, n_users, allow_unknown=True),
        as_index("items", items, n_items, allow_unknown=True),
    )


def expand_topics(
    Qn: sp.csr_matrix, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, topic, weight) of every (response, topic) pair; items ``-1`` have no topics."""
    known = items >= 0
    sub = Qn[np.where(known, items, 0)]
    counts = np.diff(sub.indptr) * known
    keep = np.repeat(known, np.diff(sub.indptr))
    rows = np.repeat(np.arange(len(items)), counts)
    return rows, sub.indices[keep].astype(np.int64), sub.data[keep]
