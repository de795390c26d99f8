"""Point-in-time cadre history: what was known about a cadre at a date.

Per cadre and date: answers and training hours per topic before the date, recent training load,
and the gains measured by the pre/post exams of rollcall classes, with a shrunk learning-speed
prior. The rollcall ranker's rows are built here. Pure functions of the validated raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.cohorts import (
    class_hours,
    class_topic_weights,
    rank_levels,
)
from ganxun.features.contracts import CATEGORIES
from ganxun.features.matcher_features import (
    empty_frame,
)
from ganxun.features.vocab import Vocabulary

_KEY_SPAN = 1 << 20  # days per group in the packed (group, day) keys: far beyond any date range


# --- point-in-time cadre history -----------------------------------------------------------------

#: Features of a (cadre, class) row of the rollcall gain model, in model order.
ROLLCALL_FEATURES: tuple[str, ...] = (
    "prior_accuracy",
    "overall_accuracy",
    "accuracy_gap",
    "class_answers",
    "class_topic_hours",
    "recent_hours",
    "hours_3y",
    "rollcall_hours_3y",
    "self_hours_1y",
    "self_tests_1y",
    "past_gain",
    "n_past_gains",
    "rank_level",
    "category",
    "target",
    "class_hours",
    "n_class_topics",
    "main_weight",
)


def _days(dates) -> np.ndarray:
    values = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy("datetime64[D]")
    return values.astype(np.int64)


def to_day(date) -> int:
    """Day number (days since 1970-01-01) of a date."""
    return int(np.datetime64(pd.Timestamp(date).normalize().date(), "D").astype(np.int64))


class _Cumulative:
    """Sums of event values per group strictly before a day, by binary search on packed keys."""

    def __init__(self, groups: np.ndarray, days: np.ndarray, values: np.ndarray):
        key = groups.astype(np.int64) * _KEY_SPAN + (days.astype(np.int64) + _KEY_SPAN // 2)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        vals = np.asarray(values, dtype=float)
        vals = (vals[:, None] if vals.ndim == 1 else vals)[order]  # (events, columns), maybe 0
        self.cum = np.vstack([np.zeros((1, vals.shape[1])), np.cumsum(vals, axis=0)])

    def before(self, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Sum over each group's events dated strictly before ``days``."""
        g = groups.astype(np.int64) * _KEY_SPAN
        hi = np.searchsorted(self.key, g + days.astype(np.int64) + _KEY_SPAN // 2, side="left")
        lo = np.searchsorted(self.key, g, side="left")
        return self.cum[hi] - self.cum[lo]


@dataclass(frozen=True)
class CadreState:
    """What was known about some cadres at some dates (one row per (cadre, date) query).

    Attributes
    ----------
    correct, total : ndarray of shape (n, n_topics)
        Correct and all exam answers per topic before the date.
    topic_hours : ndarray of shape (n, n_topics)
        Training hours per topic in the two years before the date.
    recent_hours, hours_3y, rollcall_hours_3y : ndarray of shape (n,)
        Training hours in the last 365 days, in the last three years, and rollcall hours in the
        last three years.
    self_hours_1y, self_tests_1y : ndarray of shape (n,)
        Hours of courses the cadre chose themselves, and answers given outside any class
        (self-tests), in the last 365 days: engagement, which travels with how fast one learns.
    past_gain, n_past_gains : ndarray of shape (n,)
        Mean residual of the cadre's earlier pre/post exam gains (0 when none) and their number.
    mean_accuracy : float
        Accuracy of all answers (the prior of a cadre with none).
    """

    correct: np.ndarray
    total: np.ndarray
    topic_hours: np.ndarray
    recent_hours: np.ndarray
    hours_3y: np.ndarray
    rollcall_hours_3y: np.ndarray
    past_gain: np.ndarray
    n_past_gains: np.ndarray
    mean_accuracy: float
    self_hours_1y: np.ndarray | None = None
    self_tests_1y: np.ndarray | None = None

    def accuracy(self, prior_strength: float = 4.0) -> np.ndarray:
        """Accuracy per topic, smoothed towards the overall accuracy."""
        a = prior_strength
        return (self.correct + a * self.mean_accuracy) / (self.total + a)


@dataclass(frozen=True)
class CadreHistory:
    """Event summaries of every cadre, queryable at any date (see :func:`cadre_history`)."""

    cadres: Vocabulary
    topics: Vocabulary
    answers: _Cumulative  # group = cadre * n_topics + topic; values (correct, total)
    topic_hours: _Cumulative  # group = cadre * n_topics + topic; values hours
    hours: _Cumulative  # group = cadre; values (hours, rollcall hours, self-chosen hours)
    gains: _Cumulative  # group = cadre; values (residual gain, 1), known after the class
    mean_accuracy: float
    self_tests: _Cumulative | None = None  # group = cadre; values 1 per answer outside a class

    def state(self, cadre_ids, days) -> CadreState:
        """The :class:`CadreState` of cadres at dates (only events strictly before count).

        Parameters
        ----------
        cadre_ids : array-like of str
            One cadre per row (unknown cadres get empty histories).
        days : int or array-like of int
            Day number (see :func:`to_day`) of each row.
        """
        ci = self.cadres.index(pd.Series(np.asarray(cadre_ids, dtype=object), dtype=object))
        days = np.broadcast_to(np.asarray(days, dtype=np.int64), ci.shape).copy()
        n_k = len(self.topics)
        c = np.where(ci >= 0, ci, len(self.cadres) + 1)  # a group with no events
        correct = np.zeros((len(ci), n_k))
        total = np.zeros((len(ci), n_k))
        hours = np.zeros((len(ci), n_k))
        for k in range(n_k):
            g = c * n_k + k
            ct = self.answers.before(g, days)
            correct[:, k], total[:, k] = ct[:, 0], ct[:, 1]
            hours[:, k] = (
                self.topic_hours.before(g, days) - self.topic_hours.before(g, days - 730)
            )[:, 0]
        h_now = self.hours.before(c, days)
        h_1y = h_now - self.hours.before(c, days - 365)
        h_3y = h_now - self.hours.before(c, days - 3 * 365)
        gains = self.gains.before(c, days)
        return CadreState(
            correct=correct,
            total=total,
            topic_hours=hours,
            recent_hours=h_1y[:, 0],
            hours_3y=h_3y[:, 0],
            rollcall_hours_3y=h_3y[:, 1],
            past_gain=gains[:, 0] / np.maximum(gains[:, 1], 1.0),
            n_past_gains=gains[:, 1],
            mean_accuracy=self.mean_accuracy,
            self_hours_1y=h_1y[:, 2] if h_1y.shape[1] > 2 else np.zeros(len(ci)),
            self_tests_1y=(
                (self.self_tests.before(c, days) - self.self_tests.before(c, days - 365))[:, 0]
                if self.self_tests is not None
                else np.zeros(len(ci))
            ),
        )


#: Answers a total-score exam stands for in a pre/post pair (its weight beside item answers).
TOTAL_SCORE_ANSWERS = 10


def _exam_phase(phase: pd.Series, answered: pd.Series, start: pd.Series, end: pd.Series):
    """0 (before the class's teaching) or 1 (after it) per answer; -1 for self-tests.

    The ``phase`` label decides where a source keeps one (pre → 0; post and final → 1);
    otherwise the date does: on or before the class's midpoint is the pre-exam, after it the
    post-exam (real exams fall near, not on, the first and last days).
    """
    label = phase.astype("object") if phase is not None else pd.Series(None, index=answered.index)
    mid = start + (end - start) / 2
    by_date = np.where(answered <= mid, 0, 1)
    out = np.where(
        label.eq("pre"),
        0,
        np.where(label.isin(["post", "final"]), 1, np.where(label.eq("self"), -1, by_date)),
    )
    return out


def prepost_gains(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy before and after each class, per member, from the class's exams.

    A class's exams are the answers (and total scores) that carry its ``class_id``: labelled
    ``pre`` / ``post`` / ``final`` where the source keeps a phase, else placed by date (see
    :func:`_exam_phase`). Item answers give the share correct; a total-score exam
    (``exam_scores``) gives score / max_score, worth :data:`TOTAL_SCORE_ANSWERS` answers. Only
    cadres with both a pre and a post measure count.

    Returns
    -------
    DataFrame
        class_id, cadre_id, start_on, end_on, pre, post, n_pre, n_post, gain (post - pre),
        residual (gain minus the class mean, minus the pooled regression on pre - class mean:
        what is left of a cadre's gain once the class and the starting level are accounted for).
    """
    cols = ["class_id", "cadre_id", "start_on", "end_on", "pre", "post", "n_pre", "n_post"]
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in [*cols, "gain", "residual"]})
    cl = tables["classes"].set_index("class_id")[["start_on", "end_on"]]
    parts = []
    r = tables["responses"]
    r = r[r["class_id"].notna()]
    if len(r):
        r = r.join(cl, on="class_id")
        phase = _exam_phase(r.get("phase"), r["answered_on"], r["start_on"], r["end_on"])
        parts.append(
            pd.DataFrame(
                {
                    "class_id": r["class_id"].to_numpy(),
                    "cadre_id": r["cadre_id"].to_numpy(),
                    "phase": phase,
                    "points": r["correct"].to_numpy(float),
                    "n": np.ones(len(r)),
                }
            )
        )
    x = tables.get("exam_scores")
    if x is not None and len(x):
        x = x[x["class_id"].notna()].join(cl, on="class_id")
        phase = _exam_phase(x.get("phase"), x["taken_on"], x["start_on"], x["end_on"])
        share = (x["score"] / x["max_score"]).clip(0.0, 1.0).to_numpy(float)
        parts.append(
            pd.DataFrame(
                {
                    "class_id": x["class_id"].to_numpy(),
                    "cadre_id": x["cadre_id"].to_numpy(),
                    "phase": phase,
                    "points": share * TOTAL_SCORE_ANSWERS,
                    "n": np.full(len(x), float(TOTAL_SCORE_ANSWERS)),
                }
            )
        )
    if not parts:
        return empty
    a = pd.concat(parts, ignore_index=True)
    a = a[a["phase"] >= 0]
    g = a.groupby(["class_id", "cadre_id", "phase"])[["points", "n"]].sum().unstack()
    if g.empty or ("n", 1) not in g or ("n", 0) not in g:
        return empty
    g = g.dropna()
    g = g[(g[("n", 0)] > 0) & (g[("n", 1)] > 0)]
    if g.empty:
        return empty
    out = pd.DataFrame(
        {
            "pre": (g[("points", 0)] / g[("n", 0)]).to_numpy(float),
            "post": (g[("points", 1)] / g[("n", 1)]).to_numpy(float),
            "n_pre": g[("n", 0)].to_numpy(float),
            "n_post": g[("n", 1)].to_numpy(float),
        },
        index=g.index,
    ).reset_index()
    out = out.join(cl, on="class_id")
    out["gain"] = out["post"] - out["pre"]
    d = out["gain"] - out.groupby("class_id")["gain"].transform("mean")
    p = out["pre"] - out.groupby("class_id")["pre"].transform("mean")
    beta = float((d * p).sum() / max((p * p).sum(), 1e-12))
    out["residual"] = d - beta * p
    return out[[*cols, "gain", "residual"]]


@dataclass(frozen=True)
class SpeedPrior:
    """How much a cadre's pre/post residual gains say about their own learning speed.

    Attributes
    ----------
    signal_var : float
        Variance of a cadre's persistent gain residual (the covariance of two residuals of the
        same cadre in different classes), at least 0.
    noise_var : float
        Variance of one residual around the cadre's persistent part (exam noise, class luck).
    mean_gain : float
        Mean pre/post accuracy gain (converts a residual into a relative speed).
    """

    signal_var: float = 0.0
    noise_var: float = 1.0
    mean_gain: float = 0.0


def speed_prior(gains: pd.DataFrame) -> SpeedPrior:
    """Estimate the :class:`SpeedPrior` from :func:`prepost_gains` rows (method of moments).

    The persistent part is what two classes of the same cadre share: its variance is the mean
    product of residual pairs within a cadre. With no cadre seen twice, or no positive mean gain,
    the prior says the residuals carry no signal.
    """
    if gains.empty or float(gains["gain"].mean()) <= 0:
        return SpeedPrior()
    res = gains["residual"].astype(float)
    by = res.groupby(gains["cadre_id"].to_numpy())
    total, squares, n = by.sum(), (res * res).groupby(gains["cadre_id"].to_numpy()).sum(), by.size()
    n_pairs = float((n * (n - 1) / 2).sum())
    var = float(res.var(ddof=0))
    if n_pairs == 0 or var <= 0:
        return SpeedPrior(mean_gain=float(gains["gain"].mean()))
    signal = float(((total * total - squares) / 2).sum() / n_pairs)
    signal = min(max(signal, 0.0), var)
    return SpeedPrior(signal, max(var - signal, 1e-12), float(gains["gain"].mean()))


def learning_speed(
    past_gain: np.ndarray, n_past_gains: np.ndarray, prior: SpeedPrior, floor: float = 0.2
) -> np.ndarray:
    """Each cadre's expected gain relative to a typical classmate (1 = typical).

    The mean residual of ``n`` earlier pre/post gains is shrunk towards 0 by the empirical-Bayes
    factor ``signal / (signal + noise / n)`` and divided by the mean gain; cadres with no earlier
    pre/post exams get 1. Never below ``floor``.
    """
    n = np.asarray(n_past_gains, dtype=float)
    if prior.mean_gain <= 0 or prior.signal_var <= 0:
        return np.ones_like(n)
    shrink = prior.signal_var / (prior.signal_var + prior.noise_var / np.maximum(n, 1.0))
    rel = np.where(n > 0, np.asarray(past_gain, dtype=float) * shrink, 0.0) / prior.mean_gain
    return np.maximum(floor, 1.0 + rel)


def cadre_history(
    tables: dict[str, pd.DataFrame], topics: Vocabulary, gains: pd.DataFrame | None = None
) -> CadreHistory:
    """Build the point-in-time :class:`CadreHistory` of every cadre from the raw tables.

    Parameters
    ----------
    tables : dict of str to DataFrame
        cadres, items, responses, enrollments, course_topics (and classes unless ``gains`` is
        given).
    topics : Vocabulary
        Topic order of the per-topic arrays.
    gains : DataFrame, optional
        From :func:`prepost_gains`.
    """
    cadres = Vocabulary(tables["cadres"]["cadre_id"])
    n_k = len(topics)
    r = tables["responses"][["cadre_id", "item_id", "answered_on", "correct"]]
    rt = r.merge(tables["items"][["item_id", "topic_id"]], on="item_id", how="inner")
    ci, ki = cadres.index(rt["cadre_id"]), topics.index(rt["topic_id"])
    ok = (ci >= 0) & (ki >= 0)
    correct = rt["correct"].to_numpy(float)[ok]
    answers = _Cumulative(
        ci[ok] * n_k + ki[ok],
        _days(rt["answered_on"].to_numpy()[ok]),
        np.column_stack([correct, np.ones_like(correct)]),
    )
    e = tables["enrollments"]
    ehours = e["hours"].astype(float).to_numpy()
    eci = cadres.index(e["cadre_id"])
    rollcall = (e["source"] == "rollcall").to_numpy()
    chosen = (e["source"] == "self").to_numpy()
    ok = eci >= 0
    hours = _Cumulative(
        eci[ok],
        _days(e["enrolled_on"].to_numpy())[ok],
        np.column_stack([ehours, np.where(rollcall, ehours, 0.0), np.where(chosen, ehours, 0.0)])[
            ok
        ],
    )
    own = tables["responses"]
    own = own[own["class_id"].isna()]
    oci = cadres.index(own["cadre_id"])
    self_tests = _Cumulative(
        oci[oci >= 0], _days(own["answered_on"].to_numpy())[oci >= 0], np.ones((oci >= 0).sum())
    )
    ct = tables["course_topics"]
    ct = ct.assign(weight=ct["weight"] / ct.groupby("course_id")["weight"].transform("sum"))
    et = e[["cadre_id", "course_id", "enrolled_on", "hours"]].merge(ct, on="course_id")
    tci, tki = cadres.index(et["cadre_id"]), topics.index(et["topic_id"])
    ok = (tci >= 0) & (tki >= 0)
    topic_hours = _Cumulative(
        tci[ok] * n_k + tki[ok],
        _days(et["enrolled_on"].to_numpy()[ok]),
        (et["hours"].astype(float) * et["weight"]).to_numpy()[ok],
    )
    if gains is None:
        gains = prepost_gains(tables)
    gci = cadres.index(gains["cadre_id"])
    ok = gci >= 0
    res = gains["residual"].to_numpy(float)[ok]
    gain_sum = _Cumulative(
        gci[ok],
        _days(gains["end_on"].to_numpy()[ok]) + 1,  # known the day after the post-exam
        np.column_stack([res, np.ones_like(res)]),
    )
    mean_acc = float(correct.mean()) if len(correct) else 0.5
    return CadreHistory(cadres, topics, answers, topic_hours, hours, gain_sum, mean_acc, self_tests)


def post_target_rows(post_requirements: pd.DataFrame, ranks, categories, topic_ids) -> np.ndarray:
    """Target reserve per (cadre, topic) from the post's rank and category.

    Cells the table does not give get the topic's mean target (0.6 when the topic has none).

    Returns
    -------
    ndarray of shape (len(ranks), len(topic_ids))
    """
    pr = post_requirements
    table = pr.pivot_table(index=["rank", "category"], columns="topic_id", values="target")
    table = table.reindex(columns=list(topic_ids))
    fill = table.mean(axis=0).fillna(0.6)
    key = pd.MultiIndex.from_arrays(
        [np.asarray(ranks, dtype=object), np.asarray(categories, dtype=object)]
    )
    rows = table.reindex(key)
    return rows.fillna(fill).to_numpy(float)


def rollcall_features(
    state: CadreState,
    topic_weights: np.ndarray,
    class_hours,
    ranks,
    categories,
    targets: np.ndarray,
    prior_strength: float = 4.0,
) -> pd.DataFrame:
    """Feature rows (:data:`ROLLCALL_FEATURES`) of (cadre, class) pairs.

    Parameters
    ----------
    state : CadreState
        The cadres' history at the class date, one row per pair.
    topic_weights : ndarray of shape (n, n_topics) or (n_topics,)
        The class's topic weights (rows sum to one), in the state's topic order.
    class_hours : float or array-like
        Planned hours of the class.
    ranks, categories : array-like of str
        Each cadre's rank and post category.
    targets : ndarray of shape (n, n_topics)
        The post's target reserve per topic (:func:`post_target_rows`).
    prior_strength : float
        Answers the overall accuracy is worth in the smoothed accuracy.
    """
    n = len(state.recent_hours)
    w = np.asarray(topic_weights, dtype=float)
    w = np.broadcast_to(w, (n, state.correct.shape[1])) if w.ndim == 1 else w
    acc = (w * state.accuracy(prior_strength)).sum(axis=1)
    target = (w * np.asarray(targets, dtype=float)).sum(axis=1)
    cats = pd.Index(CATEGORIES).get_indexer(pd.Index(np.asarray(categories, dtype=object)))
    return pd.DataFrame(
        {
            "prior_accuracy": acc,
            # general ability: accuracy over every topic, smoothed like the class topics'
            "overall_accuracy": (state.correct.sum(axis=1) + prior_strength * state.mean_accuracy)
            / (state.total.sum(axis=1) + prior_strength),
            "accuracy_gap": target - acc,
            "class_answers": (w * state.total).sum(axis=1),
            "class_topic_hours": (w * state.topic_hours).sum(axis=1),
            "recent_hours": state.recent_hours,
            "hours_3y": state.hours_3y,
            "rollcall_hours_3y": state.rollcall_hours_3y,
            "self_hours_1y": _or_zeros(state.self_hours_1y, n),
            "self_tests_1y": _or_zeros(state.self_tests_1y, n),
            "past_gain": state.past_gain,
            "n_past_gains": state.n_past_gains,
            "rank_level": rank_levels(ranks),
            "category": np.where(cats >= 0, cats, np.nan).astype(float),
            "target": target,
            "class_hours": np.broadcast_to(np.asarray(class_hours, dtype=float), (n,)),
            "n_class_topics": (w > 0).sum(axis=1).astype(float),
            "main_weight": w.max(axis=1) if w.shape[1] else np.zeros(n),
        }
    )[list(ROLLCALL_FEATURES)]


def _or_zeros(values, n: int) -> np.ndarray:
    return np.zeros(n) if values is None else np.asarray(values, dtype=float)


def rollcall_training_rows(
    tables: dict[str, pd.DataFrame],
    topics: Vocabulary,
    *,
    history: CadreHistory | None = None,
    gains: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Training rows of the rollcall gain model: one per (class, cadre) with pre and post exams.

    Features describe the cadre as known the day before the class started (point in time, so the
    class's own exams and enrolments never leak in); the label is the cadre's accuracy gain minus
    the class's mean gain plus the overall mean gain (the pre and post exams of a class draw
    different items, so only differences within a class are comparable).

    Returns
    -------
    X : DataFrame
        :data:`ROLLCALL_FEATURES`.
    y : ndarray
        Relative accuracy gain.
    meta : DataFrame
        The :func:`prepost_gains` rows.
    """
    gains = prepost_gains(tables) if gains is None else gains
    history = history or cadre_history(tables, topics, gains)
    if gains.empty:
        return empty_frame(ROLLCALL_FEATURES), np.zeros(0), gains
    w = class_topic_weights(tables, topics.ids_).reindex(gains["class_id"]).fillna(0.0)
    hours = class_hours(tables).reindex(gains["class_id"]).fillna(0.0).to_numpy()
    cad = tables["cadres"].set_index("cadre_id").reindex(gains["cadre_id"])
    state = history.state(gains["cadre_id"], _days(gains["start_on"].to_numpy()))
    targets = post_target_rows(
        tables["post_requirements"], cad["rank"], cad["category"], topics.ids_
    )
    X = rollcall_features(state, w.to_numpy(), hours, cad["rank"], cad["category"], targets)
    rel = gains["gain"] - gains.groupby("class_id")["gain"].transform("mean")
    y = (rel + gains["gain"].mean()).to_numpy(float)
    return X, y, gains.reset_index(drop=True)


def class_exam_answers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every answer (and total score) of a class's exams, placed before or after its teaching.

    The rows :func:`prepost_gains` reads, one per answer: item answers with their ``item_id``;
    a total-score exam (``exam_scores``) as one row worth :data:`TOTAL_SCORE_ANSWERS` answers
    with its score share in ``correct`` (``item_id`` missing; ``topic_id`` when the exam was
    scored by topic). Self-tests are left out.

    Returns
    -------
    DataFrame
        class_id, cadre_id, phase (0 pre, 1 post), item_id, topic_id, correct, weight.
    """
    cols = ["class_id", "cadre_id", "phase", "item_id", "topic_id", "correct", "weight"]
    cl = tables["classes"].set_index("class_id")[["start_on", "end_on"]]
    parts = []
    r = tables["responses"]
    r = r[r["class_id"].notna() & r["class_id"].isin(cl.index)].join(cl, on="class_id")
    if len(r):
        parts.append(
            pd.DataFrame(
                {
                    "class_id": r["class_id"].to_numpy(),
                    "cadre_id": r["cadre_id"].to_numpy(),
                    "phase": _exam_phase(
                        r.get("phase"), r["answered_on"], r["start_on"], r["end_on"]
                    ),
                    "item_id": r["item_id"].to_numpy(),
                    "topic_id": None,
                    "correct": r["correct"].to_numpy(float),
                    "weight": 1.0,
                }
            )
        )
    x = tables.get("exam_scores")
    if x is not None and len(x):
        x = x[x["class_id"].notna() & x["class_id"].isin(cl.index)].join(cl, on="class_id")
        if len(x):
            parts.append(
                pd.DataFrame(
                    {
                        "class_id": x["class_id"].to_numpy(),
                        "cadre_id": x["cadre_id"].to_numpy(),
                        "phase": _exam_phase(
                            x.get("phase"), x["taken_on"], x["start_on"], x["end_on"]
                        ),
                        "item_id": None,
                        "topic_id": x["topic_id"].to_numpy() if "topic_id" in x else None,
                        "correct": (x["score"] / x["max_score"]).clip(0.0, 1.0).to_numpy(float),
                        "weight": float(TOTAL_SCORE_ANSWERS),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = pd.concat(parts, ignore_index=True)
    return out[out["phase"] >= 0].reset_index(drop=True)[cols]
