"""Offline ranking and scoring metrics (pure functions over arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score


def _hits(ranked: np.ndarray, relevant: Sequence[set[int]]) -> np.ndarray:
    return np.array(
        [[i in rel for i in row] for row, rel in zip(ranked, relevant, strict=True)], bool
    )


def ranking_metrics(
    ranked: np.ndarray, relevant: Sequence[set[int]], k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k, Recall@k, Precision@k and MAP@k over users with at least one relevant item.

    Parameters
    ----------
    ranked : ndarray of shape (n_users, >=k)
        Recommended item indices per user, best first (``-1`` pads short lists).
    relevant : sequence of set of int
        The held-out items of each user.
    k : int
        Cut-off of the list.
    """
    ranked = np.asarray(ranked)[:, :k]
    keep = np.array([len(r) > 0 for r in relevant], bool)
    if not keep.any():
        return {
            f"ndcg@{k}": float("nan"),
            f"recall@{k}": float("nan"),
            f"precision@{k}": float("nan"),
            f"map@{k}": float("nan"),
            "users": 0,
        }
    ranked = ranked[keep]
    relevant = [r for r, ok in zip(relevant, keep, strict=True) if ok]
    hits = _hits(ranked, relevant).astype(float)
    n_rel = np.array([len(r) for r in relevant], float)
    discount = 1.0 / np.log2(np.arange(2, ranked.shape[1] + 2))
    dcg = (hits * discount).sum(axis=1)
    ideal = np.array([discount[: int(min(n, ranked.shape[1]))].sum() for n in n_rel])
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, ranked.shape[1] + 1)
    return {
        f"ndcg@{k}": float(np.mean(dcg / ideal)),
        f"recall@{k}": float(np.mean(hits.sum(axis=1) / n_rel)),
        f"precision@{k}": float(np.mean(hits.sum(axis=1) / k)),
        f"map@{k}": float(np.mean((precision_at * hits).sum(axis=1) / n_rel)),
        "users": int(len(relevant)),
    }


def auc(y_true: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC, or NaN when only one class is present."""
    y_true = np.asarray(y_true)
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return float(roc_auc_score(y_true, p))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two flat arrays (NaN when fewer than 3 pairs)."""
    a, b = np.ravel(a), np.ravel(b)
    if len(a) < 3:
        return float("nan")
    return float(spearmanr(a, b).statistic)
