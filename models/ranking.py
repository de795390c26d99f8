"""The batch ranking shape every ranker answers with: ``(ids, scores)`` arrays of shape (n, k)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k(
    scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns per row of ``scores``, skipping excluded cells.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_items)
        Higher is better; ``-inf`` marks items that may not be returned.
    k : int
        How many items per row.
    exclude : csr_matrix of shape (n_rows, n_items), optional
        Non-zero cells are never returned (e.g. courses already taken).

    Returns
    -------
    ids, scores : ndarray of shape (n_rows, k)
        Item indices in descending score order. Rows with fewer than ``k`` allowed items are padded
        with ``-1`` ids and ``-inf`` scores.
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-D, got shape {s.shape}")
    if exclude is not None:
        rows, cols = exclude.nonzero()
        s[rows, cols] = -np.inf
    k = max(0, min(int(k), s.shape[1]))
    if k == 0:
        return np.empty((s.shape[0], 0), np.int64), np.empty((s.shape[0], 0))
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    part_scores = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    ids = np.take_along_axis(part, order, axis=1)
    best = np.take_along_axis(part_scores, order, axis=1)
    ids[~np.isfinite(best)] = -1
    return ids.astype(np.int64), best


def expand_to_groups(seen: sp.csr_matrix, groups: np.ndarray) -> sp.csr_matrix:
    """Widen each row's seen items to every item of the same group (near-duplicates).

    Parameters
    ----------
    seen : csr_matrix of shape (n_rows, n_items)
        Non-zero where the row has taken the item.
    groups : ndarray of shape (n_items,)
        Group index of each item; items of one group are re-issues of the same content.
    """
    groups = np.asarray(groups, dtype=np.int64)
    n_items = seen.shape[1]
    item_group = sp.csr_matrix(
        (np.ones(n_items), (np.arange(n_items), groups)), shape=(n_items, int(groups.max()) + 1)
    )
    taken_groups = (sp.csr_matrix(seen, dtype=float) @ item_group) > 0
    return sp.csr_matrix((taken_groups @ item_group.T) > 0, dtype=np.float64)


def count_listed(ids: np.ndarray, marked: sp.csr_matrix) -> int:
    """How many returned ids (``-1`` padding ignored) fall on non-zero cells of ``marked``."""
    ids = np.asarray(ids)
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    cols = ids.ravel()
    ok = cols >= 0
    return int((np.asarray(sp.csr_matrix(marked)[rows[ok], cols[ok]]).ravel() != 0).sum())
