"""Exams: the probability of a correct answer, self-tests and the items of class exams."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.simulation.common import index_of, logit, sigmoid
from ganxun.simulation.params import N_TOPICS, NEVER


def p_correct_rows(m_rows: np.ndarray, w_rows: np.ndarray, a, b, params: dict) -> np.ndarray:
    """P(correct) for (cadre mastery row, item topic-weight row) pairs, shapes (n, K)."""
    theta = params["exam_scale"] * np.sum(logit(m_rows) * w_rows, axis=-1) + params["exam_shift"]
    return sigmoid(a * (theta - b))


def p_correct(truth: dict, tables_items: pd.DataFrame, cadre_idx, item_ids, month_index):
    """True probability that cadres answer items correctly, from the mastery of a month.

    ``sigmoid(a_i * (exam_scale * mean over the item's topics of logit(m[c, k]) + exam_shift
    - b_i))``. Self-tests of month ``i`` (0-based) were answered with ``month_index = i`` (the state
    at the start of the month), so this reproduces their probabilities exactly.

    Parameters
    ----------
    truth : dict
        ``City.truth``.
    tables_items : DataFrame
        The ``items`` table (item_id, topic_id; one row per tested topic).
    cadre_idx : array-like of int
        Row indices into ``truth["cadre_ids"]``.
    item_ids : array-like of str
        Items, broadcastable with ``cadre_idx`` (and ``month_index``).
    month_index : int or array-like of int
        Index into ``truth["mastery"]`` (0 = initial, i = end of month i).

    Returns
    -------
    ndarray of float
        Probabilities in (0, 1), in the broadcast shape.
    """
    if tables_items is None:
        raise ValueError("p_correct needs the items table (item_id, topic_id)")
    ti = truth["items"]
    item_vocab = ti["item_id"].to_numpy().astype(str)
    w = np.zeros((len(item_vocab), N_TOPICS))
    w[
        index_of(tables_items["item_id"], item_vocab),
        index_of(tables_items["topic_id"], truth["topic_ids"]),
    ] = 1.0
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    c, i, mi = np.broadcast_arrays(np.asarray(cadre_idx), np.asarray(item_ids), month_index)
    ii = index_of(i.ravel(), item_vocab)
    mastery = np.asarray(truth["mastery"])
    m_rows = mastery[np.asarray(mi).ravel().astype(int), np.asarray(c).ravel().astype(int)]
    p = p_correct_rows(
        m_rows.astype(float),
        w[ii],
        ti["discrimination"].to_numpy(dtype=float)[ii],
        ti["difficulty"].to_numpy(dtype=float)[ii],
        truth["params"],
    )
    return p.reshape(c.shape)


class ExamsMixin:
    """Exams of the simulation: self-tests and the items of a class's exams."""

    def _answer(self, cadres, m_rows, items, days, cls) -> None:
        """Record answers of (cadre, item) pairs drawn from mastery rows ``m_rows``."""
        prob = p_correct_rows(m_rows, self.i_w[items], self.i_a[items], self.i_b[items], self.p)
        correct = (self.rng.random(len(items)) < prob).astype(np.int64)
        self.resp.add(cadre=cadres, item=items, day=days, correct=correct, cls=cls)

    def _self_tests(self, i: int) -> None:
        rng, q = self.rng, self.p["self_test_items"]
        who = np.flatnonzero(rng.random(self.n) < self.p["self_test_rate"])
        for lo in range(0, len(who), 5000):
            part = who[lo : lo + 5000]
            items = np.argpartition(rng.random((len(part), self.n_items)), q, axis=1)[:, :q]
            days = rng.integers(self.month_start[i], self.month_end[i] + 1, len(part))
            cadres = np.repeat(part, q)
            self._answer(cadres, self.m[cadres], items.ravel(), np.repeat(days, q), NEVER)

    def _exam_items(self, c: int) -> np.ndarray:
        lo, hi = self.p["exam_items"]
        w = self.i_tested @ self.b_w[c]
        size = min(int(self.rng.integers(lo, hi + 1)), int((w > 0).sum()))
        return self.rng.choice(self.n_items, size, replace=False, p=w / w.sum())
