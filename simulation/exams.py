"""Exams: the probability of a correct answer, self-tests and the exams of rollcall classes.

Realism switches here, each from a stream of its own:

* ``guessing`` gives every item a guessing floor ``c`` (3PL): multiple-choice items
  ``c ≈ 0.15–0.3``, true/false items ``c ≈ 0.5``, open items ``c ≈ 0``
  (``truth["items"]`` gains ``format`` and ``guessing``);
* ``selective_self_tests``: the monthly self-test rate is higher for cadres with more mastery and
  activity (same mean);
* ``exam_formats``: some classes have no pre-test; pre-tests fall within a week before to a day
  after the start, post-tests from a day before the end to ten days after (never on the start or
  end day itself); some classes label
  their answers pre/post (``final`` without a pre-test), some self-tests are labelled ``self``;
  some classes keep only totals (``exam_scores``, one per exam or per class topic, no answers).
  ``truth["class_effects"]`` keeps per class and topic the members' true mean gain from the
  class, ``truth["exams"]`` / ``truth["exam_items"]`` every class exam and its items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import RESPONSE_PHASES
from ganxun.simulation.common import index_of, logit, make_ids, sigmoid
from ganxun.simulation.params import (
    EXAM_FORMATS_STREAM,
    GUESSING_STREAM,
    N_TOPICS,
    NEVER,
    TOPIC_IDS,
)

PRE, POST, FINAL, SELF = (RESPONSE_PHASES.index(x) for x in ("pre", "post", "final", "self"))
ITEM_FORMATS = ("multiple_choice", "true_false", "open")
EXAM_KEPT = ("items", "total", "by_topic")  # how a class keeps an exam


def p_correct_rows(m_rows: np.ndarray, w_rows: np.ndarray, a, b, params: dict, c=None):
    """P(correct) for (cadre mastery row, item topic-weight row) pairs, shapes (n, K).

    ``c`` is the guessing floor of each item (3PL: ``c + (1 - c) * sigmoid(...)``), or None.
    """
    theta = params["exam_scale"] * np.sum(logit(m_rows) * w_rows, axis=-1) + params["exam_shift"]
    p = sigmoid(a * (theta - b))
    return p if c is None else c + (1.0 - c) * p


def p_correct(truth: dict, tables_items: pd.DataFrame, cadre_idx, item_ids, month_index):
    """True probability that cadres answer items correctly, from the mastery of a month.

    ``c_i + (1 - c_i) * sigmoid(a_i * (exam_scale * mean over the item's topics of logit(m[c, k])
    + exam_shift - b_i))``, with the guessing floor ``c_i = truth["items"]["guessing"]`` when the
    city has one (``guessing`` switch), else 0. Self-tests of month ``i`` (0-based) were answered
    with ``month_index = i`` (the state at the start of the month), so this reproduces their
    probabilities exactly.

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
    guess = ti["guessing"].to_numpy(dtype=float)[ii] if "guessing" in ti.columns else None
    p = p_correct_rows(
        m_rows.astype(float),
        w[ii],
        ti["discrimination"].to_numpy(dtype=float)[ii],
        ti["difficulty"].to_numpy(dtype=float)[ii],
        truth["params"],
        guess,
    )
    return p.reshape(c.shape)


def _formats(rng: np.random.Generator, q: dict, n: int) -> tuple[np.ndarray, ...]:
    """Exam formats of ``n`` classes: pre-test, pre/post days, labelled, how results are kept."""
    pre = rng.random(n) >= q["no_pre_share"]
    pre_day = _near(rng, q["pre_days"], n)
    post_day = _near(rng, q["post_days"], n)
    labelled = rng.random(n) < q["labelled_share"]
    totals = rng.random(n) < q["totals_share"]
    by_topic = rng.random(n) < q["by_topic_share"]
    return pre, pre_day, post_day, labelled, np.where(totals, np.where(by_topic, 2, 1), 0)


def _near(rng: np.random.Generator, days: list[int], n: int) -> np.ndarray:
    """Day offsets in ``[days[0], days[1]]`` other than 0 (near the class day, never on it)."""
    off = rng.integers(days[0], days[1], n)
    return off + (off >= 0)


class ExamsMixin:
    """Exams of the simulation: self-tests and the exams of rollcall classes."""

    def _guessing(self) -> None:
        """Item formats and guessing floors (``guessing`` switch; ``i_c`` is None when off)."""
        self.i_c = self.i_format = None
        if "guessing" not in self.realism:
            return
        q, rng = self.p["guessing"], np.random.default_rng([self.seed, GUESSING_STREAM])
        self.i_format = rng.choice(len(ITEM_FORMATS), self.n_items, p=q["format_share"])
        lo, hi = np.asarray(q["floor"]).T
        self.i_c = np.round(rng.uniform(lo[self.i_format], hi[self.i_format]), 3)

    def _exam_formats(self) -> None:
        """Per rollcall class: pre-test or not, exam days, labels and how results are kept."""
        self.formats = "exam_formats" in self.realism
        n = self.n_classes
        self.class_gain = np.zeros((n, N_TOPICS), np.float32)
        self.class_pre = np.zeros((n, N_TOPICS), np.float32)
        self.class_size = np.zeros(n, np.int64)
        self.exam_log: list[tuple] = []
        if not self.formats:
            return
        q = self.p["exam_formats"]
        rng = self.x_rng = np.random.default_rng([self.seed, EXAM_FORMATS_STREAM])
        n_plan = int((self.b_tier >= 0).sum())  # the 必修 plan's classes come last
        blocks = [_formats(rng, q, size) for size in (n - n_plan, n_plan)]
        pre, pre_day, post_day, labelled, kept = (
            np.concatenate([b[j] for b in blocks]) for j in range(5)
        )
        self.x_pre, self.x_pre_day, self.x_post_day = pre, pre_day, post_day
        self.x_labelled, self.x_kept = labelled, kept

    def _draw_correct(self, m_rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Draw 0/1 answers of (mastery row, item) pairs."""
        c = None if self.i_c is None else self.i_c[items]
        prob = p_correct_rows(m_rows, self.i_w[items], self.i_a[items], self.i_b[items], self.p, c)
        return (self.rng.random(len(items)) < prob).astype(np.int64)

    def _self_test_rate(self):
        """The monthly self-test chance: one rate, or per cadre (``selective_self_tests``)."""
        rate = self.p["self_test_rate"]
        if "selective_self_tests" not in self.realism:
            return rate
        q = self.p["selective_self_tests"]
        level = logit(self.m).mean(axis=1)
        z_m = (level - level.mean()) / max(level.std(), 1e-9)
        z_a = (self.activity - self.activity.mean()) / max(self.activity.std(), 1e-9)
        w = np.exp(q["mastery"] * z_m + q["activity"] * z_a)
        return np.minimum(rate * w / w.mean(), q["max_rate"])

    def _self_tests(self, i: int) -> None:
        rng, q = self.rng, self.p["self_test_items"]
        who = np.flatnonzero(rng.random(self.n) < self._self_test_rate())
        if self.careers:
            who = who[self._staying(who, self.month_end[i])]
        for lo in range(0, len(who), 5000):
            part = who[lo : lo + 5000]
            items = np.argpartition(rng.random((len(part), self.n_items)), q, axis=1)[:, :q]
            days = rng.integers(self.month_start[i], self.month_end[i] + 1, len(part))
            cadres = np.repeat(part, q)
            correct = self._draw_correct(self.m[cadres], items.ravel())
            phase = NEVER
            if self.formats:
                share = self.p["exam_formats"]["self_labelled_share"]
                phase = np.repeat(np.where(self.x_rng.random(len(part)) < share, SELF, NEVER), q)
            self.resp.add(
                cadre=cadres,
                item=items.ravel(),
                day=np.repeat(days, q),
                correct=correct,
                cls=NEVER,
                phase=phase,
            )

    def _exam_items(self, c: int) -> np.ndarray:
        lo, hi = self.p["exam_items"]
        w = self.i_tested @ self.b_w[c]
        size = min(int(self.rng.integers(lo, hi + 1)), int((w > 0).sum()))
        return self.rng.choice(self.n_items, size, replace=False, p=w / w.sum())

    def _class_exams(self, c: int, members: np.ndarray, before: np.ndarray, after: np.ndarray):
        """The pre- and post-test of a rollcall class; ``before``/``after``: members' mastery."""
        pre_items, post_items = self._exam_items(c), self._exam_items(c)
        n_m = len(members)
        self.class_size[c] = n_m
        self.class_pre[c] = before.mean(axis=0)
        self.class_gain[c] = (after - before).mean(axis=0)
        for phase, items, rows in ((PRE, pre_items, before), (POST, post_items, after)):
            q = len(items)
            correct = self._draw_correct(np.repeat(rows, q, axis=0), np.tile(items, n_m))
            if not self.formats:
                day = self.b_start[c] if phase == PRE else self.b_end[c]
                cadres = np.repeat(members, q)
                self.resp.add(
                    cadre=cadres,
                    item=np.tile(items, n_m),
                    day=day,
                    correct=correct,
                    cls=c,
                    phase=NEVER,
                )
            elif phase == POST or self.x_pre[c]:
                self._kept_exam(c, phase, members, items, correct.reshape(n_m, q))

    def _kept_exam(self, c: int, phase: int, members, items, correct: np.ndarray) -> None:
        """Record one class exam as the class keeps it: answers, a total, or totals by topic."""
        if phase == PRE:
            day = max(self.start_day, self.b_start[c] + self.x_pre_day[c])
        else:
            end = self.b_end[c]
            day = min(self.end_day, end + self.x_post_day[c])
            pre = max(self.start_day, self.b_start[c] + self.x_pre_day[c]) if self.x_pre[c] else 0
            day = max(day, pre + 1)  # after the pre-test
            if day == end:  # moved onto the end day: a day later, or earlier if the window ends
                day = end + 1 if end < self.end_day else max(end - 1, pre + 1)
        label = (FINAL if not self.x_pre[c] else phase) if self.x_labelled[c] else NEVER
        exam = 2 * c + (phase == POST)
        kept = int(self.x_kept[c])
        self.exam_log.append((exam, c, phase, day, kept, self.x_labelled[c], items))
        n_m, q = correct.shape
        if kept == 0:
            self.resp.add(
                cadre=np.repeat(members, q),
                item=np.tile(items, n_m),
                day=day,
                correct=correct.ravel(),
                cls=c,
                phase=label,
            )
            return
        max_score = self.p["exam_formats"]["max_score"]
        if kept == 1:
            score = np.round(max_score * correct.sum(axis=1) / q, 1)
            self.exam_rows.add(
                cadre=members,
                exam=exam,
                cls=c,
                topic=NEVER,
                score=score,
                max=max_score,
                day=day,
                phase=label,
            )
            return
        topics = np.flatnonzero(self.b_w[c] > 0)
        tested = self.i_tested[items][:, topics]
        keep = tested.sum(axis=0) > 0
        topics, tested = topics[keep], tested[:, keep]
        score = correct @ tested
        self.exam_rows.add(
            cadre=np.repeat(members, len(topics)),
            exam=exam,
            cls=c,
            topic=np.tile(topics, n_m),
            score=score.ravel(),
            max=np.tile(tested.sum(axis=0), n_m),
            day=day,
            phase=label,
        )

    def _exams_truth(self) -> dict[str, pd.DataFrame]:
        """Truth of ``exam_formats``: class effects, every class exam and its items."""
        classes = np.array(make_ids("B", 5, self.n_classes), dtype=object)
        exams = np.array(make_ids("E", 6, 2 * self.n_classes), dtype=object)
        cj, ck = np.nonzero((self.b_w > 0) & (self.class_size > 0)[:, None])
        log = self.exam_log
        phase = np.array(RESPONSE_PHASES, dtype=object)
        return {
            "class_effects": pd.DataFrame(
                {
                    "class_id": classes[cj],
                    "topic_id": np.array(TOPIC_IDS, dtype=object)[ck],
                    "weight": self.b_w[cj, ck],
                    "members": self.class_size[cj],
                    "mean_mastery_before": self.class_pre[cj, ck].astype(float),
                    "mean_gain": self.class_gain[cj, ck].astype(float),
                }
            ),
            "exams": pd.DataFrame(
                {
                    "exam_id": exams[[e[0] for e in log]],
                    "class_id": classes[[e[1] for e in log]],
                    "phase": phase[[e[2] for e in log]],
                    "taken_on": pd.to_datetime(np.array([e[3] for e in log], "datetime64[D]")),
                    "kept_as": np.array(EXAM_KEPT, dtype=object)[[e[4] for e in log]],
                    "labelled": np.array([bool(e[5]) for e in log]),
                }
            ),
            "exam_items": pd.DataFrame(
                {
                    "exam_id": exams[np.repeat([e[0] for e in log], [len(e[6]) for e in log])],
                    "item_id": np.array(make_ids("Q", 5, self.n_items), dtype=object)[
                        np.concatenate([e[6] for e in log]) if log else np.zeros(0, int)
                    ],
                }
            ),
        }
