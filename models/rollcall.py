"""Rollcall (调训): whom to call to a class, and a roster that never breaks a constraint.

:class:`RollcallRanker` scores the predicted *benefit* of training each cadre in a class:

``benefit = predicted_gain * learning_speed + gap_weight * gap - load_penalty * recent_hours / 100``

* ``predicted_gain`` — a LightGBM model of how much similar cadres gained from similar classes,
  learned from the pre-exam (class start) and post-exam (class end) accuracy of past rollcall
  classes, on point-in-time features: prior accuracy on the class topics and the post's target,
  training hours, rank, category, the cadre's own earlier gains (a learning-rate proxy);
* ``learning_speed`` — how much more (or less) than their classmates the cadre gained in earlier
  classes, shrunk by how much of a residual persists from one class to the next (empirical Bayes,
  :func:`ganxun.features.history.learning_speed`); 1 for a cadre with no earlier pre/post exams. The
  additive trees under-use this multiplicative signal, so it is applied explicitly;
* ``gap`` — the post target minus the cadre's knowledge reserve, weighted by the class topics;
* ``recent_hours`` — training hours in the last 12 months: the penalty spreads training beyond
  the cadres who are always called (培训专业户). The gain model is also constrained to be
  non-increasing in recent, three-year and rollcall hours, so a cadre never gains benefit from
  having been trained more.

:func:`propose_roster` picks the roster of the highest total benefit subject to the capacity,
per-unit quotas, target ranks and a recent-hours cap (the last two as eligibility). A request
that cannot fill the class raises :class:`InfeasibleRoster` naming the constraint, unless
``allow_partial=True`` (then the roster is as full as the constraints allow and the report
carries the shortfall).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ganxun.features.careers import posts_at
from ganxun.features.cohorts import ReserveMatrix, class_hours
from ganxun.features.contracts import HOUR_KINDS, RANKS, TOPICS
from ganxun.features.history import (
    ROLLCALL_FEATURES,
    SpeedPrior,
    cadre_history,
    learning_speed,
    post_target_rows,
    prepost_gains,
    rollcall_features,
    rollcall_training_rows,
    speed_prior,
    to_day,
)
from ganxun.features.obligations import appointment_training, compliance, hour_kinds
from ganxun.features.vocab import Vocabulary
from ganxun.models.equity import fairness_quotas, need_shares
from ganxun.models.matching import Ranked, lgbm_regressor
from ganxun.models.ranking import top_k

#: Training-load features the predicted gain may only decrease with (a policy, not a finding:
#: the ranker never rewards having trained a lot recently).
_LOAD_FEATURES = ("recent_hours", "hours_3y", "rollcall_hours_3y")
#: Columns :func:`propose_roster` needs in its candidates frame.
CANDIDATE_COLUMNS = ("cadre_id", "unit_id", "rank", "benefit", "recent_hours")


class InfeasibleRoster(ValueError):
    """The roster request cannot be met; ``constraint`` names the one that stops it.

    ``constraint`` is one of ``"candidates"``, ``"target_ranks"``, ``"max_recent_hours"``,
    ``"unit_quotas"``, ``"eligibility"`` or ``"capacity"``; the message says it in plain words
    (Chinese, then English) for the caller to show (the API answers 422).
    """

    def __init__(self, constraint: str, message: str):
        self.constraint = constraint
        super().__init__(message)


@dataclass
class ClassRequest:
    """A class to call cadres to: an existing class or an inline request.

    Attributes
    ----------
    topic_weights : dict of str to float
        Topic id -> weight (normalised to sum to one).
    target_ranks : tuple of str
        Ranks that may be called (empty = every rank).
    capacity : int
        Places to fill.
    unit_quotas : dict of str to int, optional
        Unit id -> most cadres of that unit (units not listed are unlimited).
    max_recent_hours : float, optional
        Cadres with more training hours in the last 12 months are not eligible.
    hours : float, optional
        Planned class hours (default: the typical rollcall class).
    class_id : str, optional
        The class, when it exists.
    exclude_cadre_ids : tuple of str
        Cadres who may not be called (e.g. already in another class at the time).
    hour_kinds : tuple of str
        What the class's hours count toward (:data:`ganxun.features.contracts.HOUR_KINDS`):
        a rollcall class taught in person is 脱产 and 集中 training.
    fairness_bound : float, optional
        No unit above this many times its share of the cadres in need of the class topics
        (:mod:`ganxun.models.equity`).
    """

    topic_weights: dict[str, float]
    target_ranks: tuple[str, ...] = ()
    capacity: int = 30
    unit_quotas: dict[str, int] | None = None
    max_recent_hours: float | None = None
    hours: float | None = None
    class_id: str | None = None
    exclude_cadre_ids: tuple[str, ...] = field(default_factory=tuple)
    hour_kinds: tuple[str, ...] = ("脱产", "集中")
    fairness_bound: float | None = None


def request_from_class(tables: dict[str, pd.DataFrame], class_id: str, **changes) -> ClassRequest:
    """The :class:`ClassRequest` of an existing class (topics, ranks, capacity, hours).

    Parameters
    ----------
    tables : dict of str to DataFrame
        classes, class_topics, class_sessions, courses.
    class_id : str
        The class.
    **changes
        Fields to set on the request (e.g. ``unit_quotas``, ``max_recent_hours``).

    Raises
    ------
    KeyError
        If the class is unknown.
    """
    cl = tables["classes"].set_index("class_id")
    if class_id not in cl.index:
        raise KeyError(f"unknown class {class_id!r}")
    row = cl.loc[class_id]
    ct = tables["class_topics"]
    ct = ct[ct["class_id"] == class_id]
    hours = class_hours(tables).get(class_id, np.nan)
    req = ClassRequest(
        topic_weights=dict(zip(ct["topic_id"], ct["weight"].astype(float), strict=True)),
        target_ranks=tuple(row["target_ranks"] or ()),
        capacity=int(row["capacity"]),
        hours=None if pd.isna(hours) or hours <= 0 else float(hours),
        class_id=class_id,
        hour_kinds=class_hour_kinds(tables, class_id),
    )
    for k, v in changes.items():
        if not hasattr(req, k):
            raise TypeError(f"ClassRequest has no field {k!r}")
        setattr(req, k, v)
    return req


def class_hour_kinds(tables: dict[str, pd.DataFrame], class_id: str) -> tuple[str, ...]:
    """What an existing class's hours count toward (see :mod:`ganxun.features.obligations`)."""
    sess = tables["class_sessions"]
    sess = sess[sess["class_id"] == class_id]
    if sess.empty:
        return ("脱产", "集中")
    e = pd.DataFrame({"class_id": class_id, "course_id": sess["course_id"].to_numpy()})
    kinds = hour_kinds(tables, e).any(axis=0)
    return tuple(k for k in HOUR_KINDS if kinds[k])


class RollcallRanker(BaseEstimator):
    """Predicted benefit of calling each cadre to a class, and the roster that maximises it.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda :
        LightGBM hyper-parameters of the gain model (``min_child_samples`` is capped at a tenth
        of the training rows).
    use_learning_speed : bool
        Multiply the predicted gain by the cadre's shrunk learning speed (see the module doc).
    gap_weight : float
        Weight of the class-weighted gap (0–1 reserve points) in the benefit.
    load_penalty : float
        Benefit lost per 100 training hours in the last 12 months.
    obligation_weight : float
        Benefit of a cadre whose due hours (hour rules and 任职培训 this class counts toward)
        the class would cover in full; in proportion for part (a policy weight: hour rules are
        the organisation department's duty, not something the gain data can learn).
    min_training_rows : int
        Below this many pre/post rows the gain model is skipped (gain = the mean gain).
    n_jobs : int
        LightGBM threads.
    random_state : int or None
        Seed of LightGBM's sampling.

    Attributes
    ----------
    cadres_ : Vocabulary
        Every cadre of the ``cadres`` table (the index space of :meth:`rank`).
    topics_ : Vocabulary
    model_ : lightgbm.LGBMRegressor or None
    mean_gain_ : float
    typical_hours_ : float
        Median hours of past rollcall classes (default hours of inline requests).
    asof_ : Timestamp
    n_training_rows_ : int
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
        use_learning_speed: bool = True,
        gap_weight: float = 0.1,
        load_penalty: float = 0.05,
        obligation_weight: float = 0.03,
        min_training_rows: int = 50,
        n_jobs: int = 1,
        random_state: int | None = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.use_learning_speed = use_learning_speed
        self.gap_weight = gap_weight
        self.load_penalty = load_penalty
        self.obligation_weight = obligation_weight
        self.min_training_rows = min_training_rows
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(
        self, tables: dict[str, pd.DataFrame], reserve: ReserveMatrix, asof=None
    ) -> RollcallRanker:
        """Learn the gain model and take the cadres' state as of ``asof``.

        Parameters
        ----------
        tables : dict of str to DataFrame
            The raw tables as known at ``asof`` (e.g. :func:`ganxun.features.split.before`).
        reserve : ReserveMatrix
            Knowledge reserve as of ``asof`` (for the gap).
        asof : date-like, optional
            Date the candidates are scored as of; default the day after the newest event.

        Returns
        -------
        RollcallRanker
            self.
        """
        if not isinstance(reserve, ReserveMatrix):
            raise TypeError("reserve must be a features.cohorts.ReserveMatrix")
        for name in ("cadres", "enrollments", "responses", "classes", "post_requirements"):
            if name not in tables:
                raise ValueError(f"RollcallRanker.fit needs the {name} table")
        self.topics_ = Vocabulary(tables["topics"]["topic_id"])
        self.asof_ = pd.Timestamp(asof) if asof is not None else _latest(tables)
        gains = prepost_gains(tables)
        history = cadre_history(tables, self.topics_, gains)
        X, y, _ = rollcall_training_rows(tables, self.topics_, history=history, gains=gains)
        self.mean_gain_ = float(y.mean()) if len(y) else 0.0
        self.speed_prior_ = speed_prior(gains) if self.use_learning_speed else SpeedPrior()
        self.n_training_rows_ = len(X)
        self.model_ = None
        if len(X) >= self.min_training_rows:
            self.model_ = lgbm_regressor(
                self,
                max(5, min(self.min_child_samples, len(X) // 10)),
                monotone_constraints=[-1 if c in _LOAD_FEATURES else 0 for c in X.columns],
                monotone_constraints_method="advanced",
            ).fit(X, y)
        self.feature_names_in_ = np.asarray(ROLLCALL_FEATURES, dtype=object)
        cad = tables["cadres"].reset_index(drop=True)
        self.cadres_ = Vocabulary(cad["cadre_id"])
        self.cadre_info_ = cad[["cadre_id", "unit_id", "rank", "category"]].reset_index(drop=True)
        # who holds a post at asof: a cadre who has left is never called
        self.in_service_ = posts_at(tables, self.asof_)["in_service"].to_numpy(bool)
        self.due_, self.appointment_, self.rule_names_ = _obligations(
            tables, self.cadres_, self.asof_
        )
        self.state_ = history.state(self.cadres_.ids_, to_day(self.asof_))
        rows = reserve.rows(self.cadres_.ids_, self.topics_.ids_)
        col_mean = np.nanmean(np.where(np.isnan(rows), np.nan, rows), axis=0)
        self.reserve_ = np.where(np.isnan(rows), np.nan_to_num(col_mean, nan=0.5), rows)
        self.targets_ = post_target_rows(
            tables["post_requirements"], cad["rank"], cad["category"], self.topics_.ids_
        )
        rc = tables["classes"]
        rc = rc[rc["kind"] == "rollcall"]["class_id"]
        hours = class_hours(tables).reindex(rc).dropna()
        self.typical_hours_ = float(hours.median()) if len(hours) else 30.0
        self.topic_names_ = dict(
            zip(tables["topics"]["topic_id"], tables["topics"]["name_zh"], strict=True)
        )
        return self

    # --- scoring ----------------------------------------------------------------------------------

    def _weights(self, request: ClassRequest) -> np.ndarray:
        w = pd.Series(dict(request.topic_weights), dtype=float)
        unknown = [k for k in w.index if k not in self.topics_]
        if unknown:
            raise ValueError(f"unknown topic ids: {unknown[:5]}")
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("topic weights must be non-negative with a positive sum")
        out = np.zeros(len(self.topics_))
        out[self.topics_.index(pd.Series(w.index, dtype=object))] = w.to_numpy()
        return out / out.sum()

    def candidates(
        self, request: ClassRequest, all_ranks: bool = False, explain: bool = True
    ) -> pd.DataFrame:
        """Every cadre of the target ranks with predicted benefit and reasons.

        Parameters
        ----------
        request : ClassRequest
            The class.
        all_ranks : bool
            Score every cadre, not only those of the target ranks.
        explain : bool
            Write the reasons of every row (False: no ``reasons`` column; wording 10,000
            reasons is most of a city request's time, and a page shows a few dozen).

        Returns
        -------
        DataFrame
            cadre_id, unit_id, rank, category, gap, gap_topic, predicted_gain, recent_hours,
            rollcall_hours_3y, benefit, eligible (within the recent-hours cap and not excluded),
            reasons (list of str: "缺口：法治素养 32 分", "近一年参训 86 学时" / "近一年未参训"),
            sorted by benefit, best first.
        """
        out = self._scored(request, all_ranks)
        if explain:
            out["reasons"] = self._explain(out, request.hour_kinds)
        return out.drop(columns=["top_gap", "_row"])

    def _scored(self, request: ClassRequest, all_ranks: bool = False) -> pd.DataFrame:
        """:meth:`candidates` without reasons, with ``_row`` (index in ``cadres_``), ``top_gap``."""
        check_is_fitted(self, "cadres_")
        w = self._weights(request)
        ranks = tuple(request.target_ranks or ())
        bad = [r for r in ranks if r not in RANKS]
        if bad:
            raise ValueError(f"unknown ranks: {bad}")
        info = self.cadre_info_
        sel = np.ones(len(info), bool) if all_ranks or not ranks else info["rank"].isin(ranks)
        idx = np.flatnonzero(np.asarray(sel) & getattr(self, "in_service_", True))
        hours = self.typical_hours_ if request.hours is None else float(request.hours)
        gap_cells = np.maximum(0.0, self.targets_[idx] - self.reserve_[idx]) * (w > 0)[None, :]
        gap = gap_cells @ w
        speed = learning_speed(
            self.state_.past_gain[idx], self.state_.n_past_gains[idx], self.speed_prior_
        )
        predicted = self._predict_gain(idx, w, hours) * speed
        recent = self.state_.recent_hours[idx]
        due = self._due(idx, request.hour_kinds)
        covered = np.minimum(due, hours) / max(hours, 1e-9)
        benefit = (
            predicted
            + self.gap_weight * gap
            - self.load_penalty * recent / 100.0
            + self.obligation_weight * covered
        )
        top_topic = np.argmax(gap_cells * w[None, :], axis=1)
        out = info.iloc[idx].reset_index(drop=True).copy()
        out["gap"] = gap
        out["gap_topic"] = self.topics_.lookup(top_topic)
        out["top_gap"] = gap_cells[np.arange(len(idx)), top_topic]
        out["predicted_gain"] = predicted
        out["learning_speed"] = speed
        out["recent_hours"] = recent
        out["rollcall_hours_3y"] = self.state_.rollcall_hours_3y[idx]
        out["hours_due"] = due
        out["benefit"] = benefit
        eligible = np.ones(len(idx), bool)
        if request.max_recent_hours is not None:
            eligible &= recent <= float(request.max_recent_hours)
        if request.exclude_cadre_ids:
            eligible &= ~out["cadre_id"].isin(set(request.exclude_cadre_ids)).to_numpy()
        out["eligible"] = eligible
        out["_row"] = idx
        return out.sort_values("benefit", ascending=False, kind="stable").reset_index(drop=True)

    def _explain(self, frame: pd.DataFrame, kinds: tuple[str, ...]) -> list[list[str]]:
        """Reasons of some scored rows (with the ``_row`` and ``top_gap`` columns)."""
        return [
            r + o
            for r, o in zip(
                self._reasons(
                    frame["gap_topic"],
                    frame["top_gap"],
                    frame["recent_hours"].to_numpy(float),
                    frame["learning_speed"].to_numpy(float),
                ),
                self._obligation_reasons(frame["_row"].to_numpy(), kinds),
                strict=True,
            )
        ]

    def _due(self, idx: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
        """Hours each cadre still owes that a class of these hour kinds would count toward."""
        due = getattr(self, "due_", None)
        if due is None:
            return np.zeros(len(idx))
        cols = [k for k in kinds if k in due.columns]
        rules = due[cols].to_numpy(float)[idx].max(axis=1) if cols else np.zeros(len(idx))
        appt = self.appointment_
        owed = appt[cols].to_numpy(float)[idx].max(axis=1) if cols else np.zeros(len(idx))
        return np.maximum(rules, owed)

    def _obligation_reasons(self, idx: np.ndarray, kinds: tuple[str, ...]) -> list[list[str]]:
        due = getattr(self, "due_", None)
        out: list[list[str]] = [[] for _ in idx]
        if due is None:
            return out
        for k in kinds:
            if k not in due.columns:
                continue
            rule_due = due[k].to_numpy(float)[idx]
            owed = self.appointment_[k].to_numpy(float)[idx]
            for j in np.flatnonzero(rule_due >= 0.5):
                out[j].append(f"{self.rule_names_.get(k, k + '学时')}尚缺 {rule_due[j]:.0f}")
            for j in np.flatnonzero(owed >= 0.5):
                out[j].append(f"任职培训尚缺 {k} {owed[j]:.0f} 学时")
        return out

    def _predict_gain(self, idx: np.ndarray, w: np.ndarray, hours: float) -> np.ndarray:
        if self.model_ is None or not len(idx):
            return np.full(len(idx), self.mean_gain_)
        st = self.state_
        sub = type(st)(
            correct=st.correct[idx],
            total=st.total[idx],
            topic_hours=st.topic_hours[idx],
            recent_hours=st.recent_hours[idx],
            hours_3y=st.hours_3y[idx],
            rollcall_hours_3y=st.rollcall_hours_3y[idx],
            past_gain=st.past_gain[idx],
            n_past_gains=st.n_past_gains[idx],
            mean_accuracy=st.mean_accuracy,
            self_hours_1y=None if st.self_hours_1y is None else st.self_hours_1y[idx],
            self_tests_1y=None if st.self_tests_1y is None else st.self_tests_1y[idx],
        )
        info = self.cadre_info_.iloc[idx]
        X = rollcall_features(sub, w, hours, info["rank"], info["category"], self.targets_[idx])
        return self.model_.predict(X)

    def _reasons(
        self, topics: pd.Series, gaps: pd.Series, recent: np.ndarray, speed: np.ndarray
    ) -> list[list[str]]:
        names = topics.map(lambda k: self.topic_names_.get(k, TOPICS.get(k, (k,))[0]))
        points = np.round(gaps.to_numpy(float) * 100).astype(int).astype(str)
        gap_text = np.where(
            gaps.to_numpy(float) >= 0.005,
            "缺口：" + names.to_numpy(str) + " " + points + " 分",
            "班级专题无明显缺口",
        )
        hours = np.round(recent).astype(int).astype(str)
        load_text = np.where(recent <= 0, "近一年未参训", "近一年参训 " + hours + " 学时")
        pct = np.round(np.abs(speed - 1.0) * 100).astype(int).astype(str)
        speed_text = np.where(
            speed >= 1.1,
            "以往调训提升高于同班 " + pct + "%",
            np.where(speed <= 0.9, "以往调训提升低于同班 " + pct + "%", ""),
        )
        return [
            [g, h, *([s] if s else [])]
            for g, h, s in zip(
                gap_text.tolist(), load_text.tolist(), speed_text.tolist(), strict=True
            )
        ]

    def rank(self, requests: Sequence[ClassRequest] | ClassRequest, k: int = 10) -> Ranked:
        """Best ``k`` eligible cadres per request by benefit, in the :func:`top_k` shape.

        Returns
        -------
        Ranked
            ``ids`` index ``cadres_``; only cadres of the target ranks, within the recent-hours
            cap and not excluded are listed.
        """
        check_is_fitted(self, "cadres_")
        if isinstance(requests, ClassRequest):
            requests = [requests]
        n = len(self.cadres_)
        scores = np.full((len(requests), n), -np.inf)
        frames = []
        for q, req in enumerate(requests):
            cand = self.candidates(req)
            cand = cand[cand["eligible"]]
            scores[q, self.cadres_.index(cand["cadre_id"])] = cand["benefit"].to_numpy()
            frames.append(cand.set_index("cadre_id")["reasons"])
        ids, best = top_k(scores, k)
        reasons = [
            [[] if j < 0 else list(frames[q][self.cadres_.ids_[j]]) for j in ids[q]]
            for q in range(len(requests))
        ]
        return Ranked(ids, best, reasons, self.cadres_)

    def propose(
        self, request: ClassRequest, allow_partial: bool = False, explain_top: int | None = None
    ) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
        """Candidates and the suggested roster of a request.

        ``explain_top``: write the reasons of the roster and of only this many best candidates
        (the rest get an empty tuple); None explains every candidate.

        Returns
        -------
        roster : DataFrame
            See :func:`propose_roster`.
        report : list of dict
            See :func:`propose_roster`.
        candidates : DataFrame
            :meth:`candidates` (all of the target ranks, eligible or not).

        Raises
        ------
        InfeasibleRoster
            See :func:`propose_roster`.
        """
        if explain_top is None:
            cand = self.candidates(request)
        else:
            cand = self._scored(request)
        roster, report = propose_roster(
            cand,
            capacity=request.capacity,
            unit_quotas=request.unit_quotas,
            target_ranks=request.target_ranks or None,
            max_recent_hours=request.max_recent_hours,
            allow_partial=allow_partial,
            fairness_bound=request.fairness_bound,
        )
        if explain_top is not None:
            kinds = request.hour_kinds
            roster["reasons"] = [
                why + quota
                for why, quota in zip(self._explain(roster, kinds), roster["reasons"], strict=True)
            ]
            n = min(max(int(explain_top), 0), len(cand))
            # one shared empty tuple for the rest: 10,000 new lists would wake the collector
            cand["reasons"] = self._explain(cand.iloc[:n], kinds) + [()] * (len(cand) - n)
            roster, cand = (
                roster.drop(columns=["top_gap", "_row"]),
                cand.drop(columns=["top_gap", "_row"]),
            )
        return roster, report, cand


def _obligations(tables, cadres: Vocabulary, asof) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Hours each cadre owes per hour kind at ``asof``: under the hour rules, and 任职培训.

    Returns two frames in ``cadres`` order with one column per hour kind (0 when nothing is
    due), and the rule name of each kind (for reasons).
    """
    zeros = pd.DataFrame(0.0, index=range(len(cadres)), columns=list(HOUR_KINDS))
    due, appt, names = zeros.copy(), zeros.copy(), {}
    standing = compliance(tables, asof)
    for kind, rows in standing.groupby("kind"):
        per = rows.groupby("cadre_id")["due"].max()
        ci = cadres.index(pd.Series(per.index, dtype=object))
        due.loc[ci[ci >= 0], kind] = per.to_numpy(float)[ci >= 0]
        names[kind] = _short_rule_name(rows["rule_name"].iloc[0], kind)
    owed = appointment_training(tables, asof)
    owed = owed[owed["status"] != "met"]
    for kind, rows in owed.groupby("kind"):
        per = rows.groupby("cadre_id")["remaining"].max()
        ci = cadres.index(pd.Series(per.index, dtype=object))
        appt.loc[ci[ci >= 0], kind] = per.to_numpy(float)[ci >= 0]
    return due, appt, names


def _short_rule_name(name: str, kind: str) -> str:
    """A reason's words for a rule: its name without the trailing hours (default names)."""
    words = str(name).split(" ")[0]
    return words if kind in words else f"{words}（{kind}）"


def _latest(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    dates = [
        tables[t][c].max()
        for t, c in (("enrollments", "enrolled_on"), ("responses", "answered_on"))
        if t in tables and len(tables[t])
    ]
    dates = [d for d in dates if pd.notna(d)]
    return (max(dates) + pd.Timedelta(days=1)) if dates else pd.Timestamp("today").normalize()


def _rank_words(ranks) -> str:
    return "、".join(ranks)


def _check_candidates(candidates: pd.DataFrame, capacity) -> pd.DataFrame:
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates]
    if missing:
        raise ValueError(f"candidates lack columns {missing}")
    if candidates["cadre_id"].duplicated().any():
        dup = candidates["cadre_id"][candidates["cadre_id"].duplicated()].iloc[0]
        raise ValueError(f"cadre {dup!r} appears twice among the candidates")
    if not np.isfinite(pd.to_numeric(candidates["benefit"], errors="coerce")).all():
        raise ValueError("every candidate needs a finite benefit")
    if isinstance(capacity, bool) or int(capacity) != capacity or capacity < 1:
        raise ValueError(f"capacity must be a positive integer, got {capacity!r}")
    return candidates.reset_index(drop=True)


def propose_roster(
    candidates: pd.DataFrame,
    capacity: int,
    unit_quotas: Mapping[str, int] | None = None,
    target_ranks: Sequence[str] | None = None,
    max_recent_hours: float | None = None,
    allow_partial: bool = False,
    fairness_bound: float | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """The roster of highest total benefit that keeps every constraint.

    Eligible: rank in ``target_ranks`` (when given), ``recent_hours <= max_recent_hours`` (when
    given; unknown hours count as 0) and ``eligible`` true (when the column exists). Maximise the
    sum of ``benefit`` over the chosen cadres (an exact greedy, see :func:`_solve_roster`)
    subject to exactly ``capacity`` places and at most ``unit_quotas[u]`` cadres of each listed
    unit.

    Parameters
    ----------
    candidates : DataFrame
        :data:`CANDIDATE_COLUMNS` (cadre_id, unit_id, rank, benefit, recent_hours), optionally
        eligible and reasons (list of str); extra columns are carried into the roster.
    capacity : int
        Places to fill.
    unit_quotas : mapping of str to int, optional
        Unit id -> most cadres from that unit; units not listed are unlimited.
    target_ranks : sequence of str, optional
        Ranks that may be called.
    max_recent_hours : float, optional
        Cap on training hours in the last 12 months.
    allow_partial : bool
        When the class cannot be filled, return the fullest roster the constraints allow (the
        report's capacity entry carries ``shortfall``) instead of raising.
    fairness_bound : float, optional
        No unit above this many times its share of need (candidates need a ``gap`` column):
        enforced as unit quotas (:func:`ganxun.models.equity.fairness_quotas`) on top of the
        given ones, and reported as the ``fairness`` constraint.

    Returns
    -------
    roster : DataFrame
        The chosen candidates, best benefit first, with ``position`` (1..n) and ``reasons``
        extended by "本单位名额 used/quota" for units with a quota.
    report : list of dict
        One entry per constraint: ``{"constraint", "limit", "used"}`` for capacity,
        target_ranks (used: count per rank), max_recent_hours (used: the largest in the roster),
        and each unit quota (with ``unit_id``).

    Raises
    ------
    InfeasibleRoster
        No eligible cadre at all, or (unless ``allow_partial``) fewer places can be filled than
        ``capacity``; the message names the constraint that stops it.
    ValueError
        Malformed input (missing columns, duplicate cadres, non-integral capacity, negative quota).
    """
    cand = _check_candidates(candidates, capacity)
    capacity = int(capacity)
    quotas = {str(u): q for u, q in dict(unit_quotas or {}).items()}
    for u, q in quotas.items():
        if isinstance(q, bool) or int(q) != q or q < 0:
            raise ValueError(f"unit quota of {u!r} must be a non-negative integer, got {q!r}")
    fair: dict[str, int] = {}
    if fairness_bound is not None:
        if "gap" not in cand:
            raise ValueError("a fairness bound needs the candidates' gap column")
        fair = fairness_quotas(cand, capacity, float(fairness_bound))
        given = dict(quotas)
        quotas = {u: min(q, given.get(u, q)) for u, q in fair.items()}
        quotas.update({u: q for u, q in given.items() if u not in quotas})
    ranks = tuple(target_ranks) if target_ranks else None
    recent = pd.to_numeric(cand["recent_hours"], errors="coerce").fillna(0.0).to_numpy()
    in_rank = cand["rank"].isin(ranks).to_numpy() if ranks else np.ones(len(cand), bool)
    in_hours = (
        recent <= float(max_recent_hours)
        if max_recent_hours is not None
        else np.ones(len(cand), bool)
    )
    allowed = (
        cand["eligible"].astype(bool).to_numpy() if "eligible" in cand else np.ones(len(cand), bool)
    )
    units = cand["unit_id"].astype(str).to_numpy()
    quota_of = (
        pd.Series(units).map(quotas).fillna(np.inf).to_numpy(float)
        if quotas
        else np.full(len(units), np.inf)
    )
    eligible = in_rank & in_hours & allowed & (quota_of > 0)
    n_fill = _fillable(units, eligible, quotas)
    if n_fill == 0 and not (
        fair and allow_partial is False and (in_rank & in_hours & allowed).any()
    ):
        raise _why_empty(cand, ranks, in_rank, in_hours, allowed, max_recent_hours, quota_of)
    if n_fill < capacity and not allow_partial:
        given = {str(u): q for u, q in dict(unit_quotas or {}).items()}
        base = in_rank & in_hours & allowed & (np.array([given.get(u, 1) for u in units]) > 0)
        if fair and _fillable(units, base, given) >= capacity:
            raise InfeasibleRoster(
                "fairness",
                f"公平约束（各单位不超过其需求占比的 {fairness_bound:g} 倍）下最多只能调训"
                f" {n_fill} 人，少于班级容量 {capacity} 人 (the fairness bound allows at most"
                f" {n_fill} of the {capacity} places)",
            )
        raise _why_short(capacity, n_fill, int(eligible.sum()), ranks, max_recent_hours, quotas)
    target = min(capacity, n_fill)
    chosen = _solve_roster(cand["benefit"].to_numpy(float), units, eligible, quotas, target)
    _check_roster(chosen, eligible, units, quotas, capacity)
    roster = cand.iloc[np.flatnonzero(chosen)].copy()
    roster = roster.sort_values("benefit", ascending=False, kind="stable").reset_index(drop=True)
    roster.insert(0, "position", np.arange(1, len(roster) + 1))
    used = Counter(roster["unit_id"].astype(str).tolist())
    base = roster["reasons"] if "reasons" in roster else pd.Series([[]] * len(roster))
    roster["reasons"] = [
        list(r) + ([f"本单位名额 {used[u]}/{quotas[u]}"] if u in quotas else [])
        for r, u in zip(base, roster["unit_id"].astype(str), strict=True)
    ]
    report = _report(
        roster,
        capacity,
        ranks,
        max_recent_hours,
        {u: q for u, q in quotas.items() if u not in fair or u in dict(unit_quotas or {})},
        used,
    )
    if fairness_bound is not None:
        shares = need_shares(cand)
        # a unit with any need may always send one cadre: the bound speaks of units with more
        ratio = {
            u: (n / len(roster)) / shares[u] if u in shares.index and shares[u] > 0 else None
            for u, n in used.items()
            if n > 1
        }
        worst = max((r for r in ratio.values() if r is not None), default=0.0)
        report.append(
            {
                "constraint": "fairness",
                "limit": float(fairness_bound),
                "used": round(float(worst), 3),
                "units": [
                    {
                        "unit_id": u,
                        "seats": int(n),
                        "max_seats": int(fair.get(u, 0)),
                        "need_share": round(float(shares.get(u, 0.0)), 4),
                    }
                    for u, n in sorted(used.items())
                ],
            }
        )
    return roster, report


def _fillable(units: np.ndarray, eligible: np.ndarray, quotas: dict) -> int:
    """Most places the eligibility and quotas allow (each unit: min(eligible, quota))."""
    counts = Counter(units[eligible].tolist())
    return int(sum(min(n, quotas.get(u, n)) for u, n in counts.items()))


def _why_empty(cand, ranks, in_rank, in_hours, allowed, max_hours, quota_of) -> InfeasibleRoster:
    if cand.empty:
        return InfeasibleRoster("candidates", "没有候选干部 (there are no candidates)")
    if not in_rank.any():
        words = _rank_words(ranks)
        return InfeasibleRoster(
            "target_ranks",
            f"目标职级（{words}）内没有可调训的干部 (no cadre holds a target rank: {words})",
        )
    if not (in_rank & in_hours).any():
        return InfeasibleRoster(
            "max_recent_hours",
            f"目标职级内的干部近一年参训均超过 {max_hours:g} 学时"
            f" (every cadre of the target ranks trained more than {max_hours:g} hours"
            " in the last 12 months)",
        )
    if not (in_rank & in_hours & allowed).any():
        return InfeasibleRoster(
            "eligibility", "符合条件的干部均已被排除 (every remaining cadre is excluded)"
        )
    return InfeasibleRoster(
        "unit_quotas",
        "符合条件的干部所在单位名额均为 0 (the unit quotas of every eligible cadre are 0)",
    )


def _why_short(capacity, n_fill, n_eligible, ranks, max_hours, quotas) -> InfeasibleRoster:
    if n_eligible >= capacity and quotas:
        return InfeasibleRoster(
            "unit_quotas",
            f"单位名额限制下最多只能调训 {n_fill} 人，少于班级容量 {capacity} 人"
            f" (the unit quotas allow at most {n_fill} of the {capacity} places)",
        )
    what = []
    if ranks:
        what.append(f"目标职级 {_rank_words(ranks)}")
    if max_hours is not None:
        what.append(f"近一年参训不超过 {max_hours:g} 学时")
    cond = "，".join(what) or "全部条件"
    constraint = "max_recent_hours" if max_hours is not None else "target_ranks"
    if not ranks and max_hours is None:
        constraint = "eligibility"
    return InfeasibleRoster(
        "capacity" if n_eligible >= capacity else constraint,
        f"符合条件（{cond}）的干部最多可调训 {n_fill} 人，少于班级容量 {capacity} 人"
        f" (only {n_fill} eligible cadres can be called for the {capacity} places)",
    )


def _solve_roster(benefit, units, eligible, quotas, n_places) -> np.ndarray:
    """Maximise total benefit over exactly ``n_places`` eligible cadres within the unit quotas.

    The feasible rosters are the bases of a truncated partition matroid (at most ``quota`` per
    unit, ``n_places`` in all), so the greedy choice is exact: walk the eligible cadres best
    benefit first and take each whose unit still has room, until the places are filled. Linear
    after the sort, where a MILP took tens of milliseconds on a city's pool (issue 16's 200 ms).
    """
    idx = np.flatnonzero(eligible)
    idx = idx[np.argsort(-benefit[idx], kind="stable")]
    u = units[idx]
    seen = pd.Series(u).groupby(u, sort=False).cumcount().to_numpy()
    limit = np.array([quotas.get(x, np.inf) for x in u], dtype=float) if quotas else np.inf
    idx = idx[seen < limit][:n_places]
    chosen = np.zeros(len(benefit), bool)
    chosen[idx] = True
    return chosen


def _check_roster(chosen, eligible, units, quotas, capacity) -> None:
    """Raise if the roster breaks a constraint (guards against solver tolerances)."""
    if (chosen & ~eligible).any():
        raise RuntimeError("roster includes an ineligible cadre")
    if chosen.sum() > capacity:
        raise RuntimeError("roster exceeds the capacity")
    counts = Counter(units[chosen].tolist())
    if any(n > quotas[u] for u, n in counts.items() if u in quotas):
        raise RuntimeError("roster exceeds a unit quota")


def _report(roster, capacity, ranks, max_hours, quotas, used) -> list[dict]:
    n = len(roster)
    cap = {"constraint": "capacity", "limit": capacity, "used": n}
    if n < capacity:
        cap["shortfall"] = capacity - n
    out = [cap]
    if ranks:
        counts = Counter(roster["rank"].tolist())
        out.append(
            {
                "constraint": "target_ranks",
                "limit": list(ranks),
                "used": {r: int(counts.get(r, 0)) for r in ranks},
            }
        )
    if max_hours is not None:
        hours = pd.to_numeric(roster["recent_hours"], errors="coerce").fillna(0.0)
        out.append(
            {
                "constraint": "max_recent_hours",
                "limit": float(max_hours),
                "used": float(hours.max()) if n else 0.0,
            }
        )
    for u in sorted(quotas):
        out.append(
            {
                "constraint": "unit_quota",
                "unit_id": u,
                "limit": int(quotas[u]),
                "used": int(used.get(u, 0)),
            }
        )
    return out
