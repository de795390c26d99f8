"""Teacher and support-staff matching (师资配置): who would a cohort rate best on a topic.

Both matchers predict the leniency-corrected rating a teacher (staff member) would get from a
cohort. The prediction starts from the target's *rating history* — shrunk overall, per-topic and
cohort-level effects (:class:`ganxun.features.ratings.RatingEffects`) — and a LightGBM regressor
boosts
from that estimate with declared expertise, title, years, background and the cohort's profile, so a
teacher with few ratings falls back on what they declared (cold start). The training rows carry
out-of-fold history features and a share of *cold* copies (history blanked) so the model learns
both regimes. :class:`TeacherMatcher` lives here, :class:`StaffMatcher` in
:mod:`ganxun.models.staff_matching`; :mod:`ganxun.models.assignment` turns the predicted ratings
into a plan.

Every ranker answers through :class:`Ranked`: ``ids`` and ``scores`` arrays of shape
``(n_queries, k)`` in the shape of :func:`ganxun.models.ranking.top_k` (indices into the model's
vocabulary, ``-1``/``-inf`` padding), plus short Chinese reasons per item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ganxun.features.cohorts import COHORT_COLUMNS, ReserveMatrix, class_topic_weights
from ganxun.features.contracts import TOPICS
from ganxun.features.matcher_features import (
    TEACHER_FEATURES,
    rating_history,
    teacher_pair_features,
    teacher_profiles,
    teacher_training_rows,
)
from ganxun.features.ratings import rating_effects, rating_triples
from ganxun.features.vocab import Vocabulary
from ganxun.models.assignment import Plan, plan_teachers
from ganxun.models.quality import RatingQuality
from ganxun.models.ranking import top_k

#: History features blanked in the cold-start copies of training rows.
_HISTORY_COLUMNS = ("hist_base", "hist_n", "topic_offset", "topic_n", "cohort_fit", "fit_n")


@dataclass
class Ranked:
    """Ranked lists in the batch shape of :func:`ganxun.models.ranking.top_k`, with reasons.

    Attributes
    ----------
    ids : ndarray of int64, shape (n_queries, k)
        Indices into ``vocabulary``, best first; ``-1`` pads lists shorter than ``k``.
    scores : ndarray of float, shape (n_queries, k)
        Scores of the listed items (``-inf`` for padding).
    reasons : list of list of list of str
        Per query and listed item, short reasons in Chinese (empty for padding).
    vocabulary : Vocabulary
        Maps ``ids`` to external ids.
    """

    ids: np.ndarray
    scores: np.ndarray
    reasons: list[list[list[str]]]
    vocabulary: Vocabulary

    def labels(self) -> np.ndarray:
        """External ids in the shape of ``ids`` (None for padding)."""
        out = np.full(self.ids.shape, None, dtype=object)
        ok = self.ids >= 0
        out[ok] = self.vocabulary.lookup(self.ids[ok])
        return out

    def records(self, row: int) -> list[dict]:
        """The list of one query as dicts ``{id, score, reasons}`` (padding left out)."""
        labels = self.labels()[row]
        return [
            {"id": labels[j], "score": float(self.scores[row, j]), "reasons": self.reasons[row][j]}
            for j in range(self.ids.shape[1])
            if self.ids[row, j] >= 0
        ]


#: What :func:`rater_leniency` reads (every matcher's fit needs them).
_LENIENCY_TABLES = ("course_ratings", "staff_ratings", "cadres")


def rater_leniency(tables: dict[str, pd.DataFrame], rater_shrinkage: float = 3.0) -> pd.Series:
    """Leniency of each rating cadre, from all their course, teacher and staff scores.

    One :class:`ganxun.models.quality.RatingQuality` over
    :func:`ganxun.features.ratings.rating_triples`.

    Parameters
    ----------
    tables : dict of str to DataFrame
        course_ratings, course_topics, staff_ratings.
    rater_shrinkage : float
        Ridge penalty on each leniency (pseudo-ratings at 0).

    Returns
    -------
    Series
        Leniency in rating points, indexed by cadre_id (cadres who never rated are absent).
    """
    triples = rating_triples(tables)
    if triples.empty:
        return pd.Series(dtype=float, name="leniency")
    raters, rater_ids = pd.factorize(triples["rater"])
    targets, _ = pd.factorize(triples["target"])
    q = RatingQuality(rater_shrinkage=rater_shrinkage).fit(
        raters, targets, triples["score"].to_numpy(float)
    )
    return pd.Series(q.leniency_, index=pd.Index(rater_ids, name="cadre_id"), name="leniency")


def cohort_frame(cohort, n: int) -> pd.DataFrame:
    """``n`` cohort rows from one cohort (dict or Series) or from a frame of 1 or ``n`` rows.

    Missing :data:`ganxun.features.cohorts.COHORT_COLUMNS` become NaN.
    """
    if isinstance(cohort, pd.DataFrame):
        frame = cohort.reset_index(drop=True)
        if len(frame) == 1 and n != 1:
            frame = frame.loc[np.zeros(n, dtype=int)].reset_index(drop=True)
        if len(frame) != n:
            raise ValueError(f"cohort has {len(frame)} rows, expected 1 or {n}")
    elif isinstance(cohort, Mapping | pd.Series):
        row = {k: [v] for k, v in dict(cohort).items()}
        frame = pd.DataFrame(row).loc[np.zeros(n, dtype=int)].reset_index(drop=True)
    else:
        raise TypeError("cohort must be a dict, a Series or a DataFrame of cohort profiles")
    for c in COHORT_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    return frame


def lgbm_regressor(est, min_child_samples: int, **extra) -> lgb.LGBMRegressor:
    """The LightGBM regressor of the matchers and the rollcall gain model.

    Parameters
    ----------
    est : estimator
        Gives ``n_estimators``, ``learning_rate``, ``num_leaves``, ``reg_lambda``, ``n_jobs`` and
        ``random_state``.
    min_child_samples : int
        Minimum rows per leaf (the caller caps ``est.min_child_samples`` by its row count).
    **extra
        Further LightGBM parameters (e.g. monotone constraints).

    Returns
    -------
    lightgbm.LGBMRegressor
        Unfitted; rows and columns subsampled at 0.8, deterministic and quiet.
    """
    return lgb.LGBMRegressor(
        objective="regression",
        n_estimators=est.n_estimators,
        learning_rate=est.learning_rate,
        num_leaves=est.num_leaves,
        min_child_samples=min_child_samples,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=est.reg_lambda,
        n_jobs=est.n_jobs,
        random_state=est.random_state,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
        **extra,
    )


def _cold_copies(X: pd.DataFrame, share: float, rng) -> np.ndarray:
    """Row positions to duplicate as cold-start rows (history blanked)."""
    n = int(round(share * len(X)))
    if n <= 0 or len(X) == 0:
        return np.zeros(0, dtype=int)
    return np.sort(rng.choice(len(X), size=min(n, len(X)), replace=False))


def _blank_history(X: pd.DataFrame, prior_rating: np.ndarray) -> pd.DataFrame:
    out = X.copy()
    for c in _HISTORY_COLUMNS:
        if c in out:
            out[c] = 0.0
    out["prior_rating"] = prior_rating
    return out


def _fit_booster(est, X: pd.DataFrame, y: np.ndarray, weight: np.ndarray, cold_prior):
    """LightGBM boosted from ``prior_rating`` (init score), with cold-start copies added."""
    rng = np.random.default_rng(est.random_state)
    pick = _cold_copies(X, est.cold_start_share, rng)
    if len(pick):
        cold = _blank_history(X.iloc[pick], np.asarray(cold_prior)[pick])
        X = pd.concat([X, cold], ignore_index=True)
        y = np.concatenate([y, y[pick]])
        weight = np.concatenate([weight, weight[pick]])
    model = lgbm_regressor(est, max(2, min(est.min_child_samples, len(X) // 4)))
    model.fit(X, y, sample_weight=weight, init_score=X["prior_rating"].to_numpy(float))
    return model


def _predict(model, X: pd.DataFrame) -> np.ndarray:
    if len(X) == 0:  # LightGBM refuses an empty frame; no pair, no prediction
        return np.zeros(0)
    raw = model.predict(X) + X["prior_rating"].to_numpy(float)
    return np.clip(raw, 1.0, 5.0)


def _counts_since(frame: pd.DataFrame, key: str, date_col: str, asof, years: int) -> pd.Series:
    d = pd.to_datetime(frame[date_col])
    asof = pd.Timestamp(asof)
    sel = (d < asof) & (d >= asof - pd.DateOffset(years=years))
    return frame.loc[sel].groupby(key).size()


class _RatingMatcher(BaseEstimator):
    """What :class:`TeacherMatcher` and :class:`StaffMatcher` share.

    Fitting (leniency, out-of-fold training rows, history effects, the booster with its
    cold-start copies), the unknown-id checks, ranking and the plan table. A subclass stores its
    parameters in its own ``__init__``, provides ``features`` and ``_reasons(x, j, context)`` and
    sets ``_KIND`` (of :func:`ganxun.features.matcher_features.rating_history`, also in messages),
    ``_TABLES`` (needed by ``fit``; the first lists the targets), ``_ID`` (the targets' id
    column), ``_TOPIC`` (topic column of the history effects, or None), ``_EFFECT_PARAMS`` (passed
    to :func:`ganxun.features.ratings.rating_effects`) and ``_VOCABULARY`` (attribute of the
    targets).
    """

    _KIND: str
    _TABLES: tuple[str, ...]
    _ID: str
    _TOPIC: str | None
    _EFFECT_PARAMS: tuple[str, ...]
    _VOCABULARY: str

    @property
    def _targets(self) -> Vocabulary:
        return getattr(self, self._VOCABULARY)

    def _effect_params(self) -> dict:
        return {name: getattr(self, name) for name in self._EFFECT_PARAMS}

    def _fit_history(self, tables, reserve, training_rows, nothing: str):
        """Leniency, training rows, the targets and their history effects (first half of fit).

        Returns the ``X, y, meta`` of ``training_rows``; raises ValueError(``nothing``) when
        there is no row.
        """
        for name in (*self._TABLES, *_LENIENCY_TABLES):
            if name not in tables:
                raise ValueError(f"{type(self).__name__}.fit needs the {name} table")
        seed = 0 if self.random_state is None else int(self.random_state)
        self.leniency_ = rater_leniency(tables)
        history = rating_history(tables, reserve, self._KIND, self.leniency_)
        X, y, meta = training_rows(
            tables,
            reserve,
            history=history,
            n_folds=self.n_folds,
            random_state=seed,
            **self._effect_params(),
        )
        if len(X) == 0:
            raise ValueError(nothing)
        targets = Vocabulary(tables[self._TABLES[0]][self._ID])
        setattr(self, self._VOCABULARY, targets)
        self.effects_ = rating_effects(
            history.events, self._ID, self._TOPIC, targets=targets, **self._effect_params()
        )
        return X, y, meta

    def _fit_model(self, tables, X, y, meta, cold_prior, feature_names, asof) -> None:
        """The booster and the fitted attributes every matcher has (second half of fit)."""
        self.model_ = _fit_booster(self, X, y, meta["n_ratings"].to_numpy(float), cold_prior)
        self.feature_names_in_ = np.asarray(feature_names, dtype=object)
        self.n_training_rows_ = len(X)
        self.asof_ = pd.Timestamp(asof) if asof is not None else _default_asof(tables)
        self.topic_names_ = dict(
            zip(tables["topics"]["topic_id"], tables["topics"]["name_zh"], strict=True)
        )

    def _check_known(self, ids: np.ndarray) -> None:
        unknown = self._targets.index(pd.Series(ids, dtype=object)) < 0
        if unknown.any():
            raise ValueError(f"unknown {self._KIND} ids: {sorted(set(ids[unknown].tolist()))[:5]}")

    def _allowed(self, candidates: Sequence[str] | None) -> np.ndarray:
        """Which targets may be listed: all, or ``candidates`` (unknown ids raise ValueError)."""
        allowed = np.ones(len(self._targets), bool)
        if candidates is not None:
            idx = self._targets.index(pd.Series(list(candidates), dtype=object))
            if (idx < 0).any():
                bad = np.asarray(list(candidates), dtype=object)[idx < 0]
                raise ValueError(f"unknown {self._KIND} ids: {sorted(bad.tolist())[:5]}")
            allowed[:] = False
            allowed[idx] = True
        return allowed

    def _ranked(self, X: pd.DataFrame, n_q: int, allowed: np.ndarray, k: int, context) -> Ranked:
        """Top ``k`` of ``X`` (``n_q`` queries × every target, query-major) where ``allowed``.

        ``context[q]`` is the last argument of ``_reasons`` for query ``q``.
        """
        n = len(self._targets)
        scores = _predict(self.model_, X).reshape(n_q, n)
        ids, best = top_k(np.where(allowed, scores, -np.inf), k)
        reasons = [
            [[] if j < 0 else self._reasons(X.iloc[q * n + j], j, context[q]) for j in ids[q]]
            for q in range(n_q)
        ]
        return Ranked(ids, best, reasons, self._targets)

    def _plan_table(self, table, plan: Plan, scores, feature_args, context):
        """``table`` with the plan's id, predicted_rating, reasons and unfilled_reason columns.

        ``feature_args`` are the per-row arguments of ``features`` after the ids, ``context``
        the per-row last argument of ``_reasons``.
        """
        out = table.copy()
        a = plan.assignment
        on = a >= 0
        out[self._ID] = np.where(on, self._targets.ids_[np.maximum(a, 0)], None)
        out["predicted_rating"] = np.where(on, scores[np.arange(len(a)), np.maximum(a, 0)], np.nan)
        reasons = [[] for _ in range(len(out))]
        filled = np.flatnonzero(on)
        if len(filled):
            X = self.features(out[self._ID][filled], *(v.iloc[filled] for v in feature_args))
            for i, f in enumerate(filled):
                reasons[f] = self._reasons(X.iloc[i], a[f], context.iloc[f])
        out["reasons"] = reasons
        why = {u.slot: f"{u.reason}: {u.message}" for u in plan.unfilled}
        out["unfilled_reason"] = [why.get(i) for i in range(len(out))]
        return out, plan

    def _rating_reasons(self, x: pd.Series) -> list[str]:
        if x["fit_n"] >= self.min_ratings_reason:
            return [f"同类学员评分 {x['prior_rating']:.1f}"]
        if x["hist_n"] >= self.min_ratings_reason:
            return [f"学员评分 {self.effects_.mean + x['hist_base']:.1f}"]
        return []


class TeacherMatcher(_RatingMatcher):
    """Predict the rating a teacher would get teaching a topic to a cohort, and rank teachers.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda :
        LightGBM hyper-parameters (the booster starts from the history estimate).
    shrinkage, topic_shrinkage, curve_shrinkage : float
        Pseudo-counts of the history effects (overall, per topic, per cohort level).
    bandwidth : float
        Width in rank levels of the cohort-level smoothing.
    n_folds : int
        Out-of-fold groups of classes for the training rows' history features.
    cold_start_share : float
        Share of training rows duplicated with the history blanked (teaches the cold start).
    min_ratings_reason : float
        Ratings near the cohort needed before "同类学员评分" is given as a reason.
    n_jobs : int
        LightGBM threads.
    random_state : int or None
        Seed of folds, cold-start copies and LightGBM sampling.

    Attributes
    ----------
    teachers_ : Vocabulary
        Every teacher of the ``teachers`` table (the index space of :meth:`rank`).
    model_ : lightgbm.LGBMRegressor
    effects_ : RatingEffects
        History effects from all training ratings (used at prediction).
    leniency_ : Series
        Rater leniency by cadre_id.
    feature_names_in_ : ndarray of str
    n_training_rows_ : int
    """

    _KIND = "teacher"
    _TABLES = ("teachers", "teacher_topics", "course_ratings", "class_sessions", "topics")
    _ID = "teacher_id"
    _TOPIC = "topic_id"
    _EFFECT_PARAMS = ("shrinkage", "topic_shrinkage", "curve_shrinkage", "bandwidth")
    _VOCABULARY = "teachers_"

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        shrinkage: float = 5.0,
        topic_shrinkage: float = 5.0,
        curve_shrinkage: float = 10.0,
        bandwidth: float = 0.6,
        n_folds: int = 5,
        cold_start_share: float = 0.2,
        min_ratings_reason: float = 3.0,
        n_jobs: int = 1,
        random_state: int | None = 0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.shrinkage = shrinkage
        self.topic_shrinkage = topic_shrinkage
        self.curve_shrinkage = curve_shrinkage
        self.bandwidth = bandwidth
        self.n_folds = n_folds
        self.cold_start_share = cold_start_share
        self.min_ratings_reason = min_ratings_reason
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(
        self,
        tables: dict[str, pd.DataFrame],
        reserve: ReserveMatrix | None = None,
        asof=None,
    ) -> TeacherMatcher:
        """Learn from the rating tables.

        Parameters
        ----------
        tables : dict of str to DataFrame
            The raw tables as known at training time (e.g. :func:`ganxun.features.split.before`).
        reserve : ReserveMatrix, optional
            Knowledge reserve as of ``asof``; adds the cohort's mean reserve on the topic.
        asof : date-like, optional
            Date the model is trained as of (counts "近3年授课"); default: the day after the
            newest rating.

        Returns
        -------
        TeacherMatcher
            self.

        Raises
        ------
        ValueError
            If no class session has a teacher score to learn from.
        """
        X, y, meta = self._fit_history(
            tables,
            reserve,
            teacher_training_rows,
            "no class session has a teacher score: nothing to learn from",
        )
        self.profiles_, self.declared_ = teacher_profiles(tables)
        cold = self.effects_.features(
            np.full(len(meta), None, dtype=object), meta["topic_id"], np.zeros(len(meta))
        )["prior_rating"].to_numpy()
        self._fit_model(tables, X, y, meta, cold, TEACHER_FEATURES, asof)
        self.sessions_3y_ = _counts_since(
            tables["class_sessions"], "teacher_id", "session_on", self.asof_, 3
        )
        return self

    # --- prediction -------------------------------------------------------------------------------

    def features(self, teacher_ids, topic_ids, cohort) -> pd.DataFrame:
        """Feature rows of (teacher, topic) pairs for a cohort (or one cohort per pair).

        Parameters
        ----------
        teacher_ids, topic_ids : array-like of str
            Broadcastable to one length.
        cohort : dict, Series or DataFrame
            A cohort profile (:data:`ganxun.features.cohorts.COHORT_COLUMNS`, optional
            ``reserve_<topic_id>``), or one per pair; see
            :func:`ganxun.features.cohorts.class_cohorts`.

        Raises
        ------
        ValueError
            If a teacher id is not in the training ``teachers`` table.
        """
        check_is_fitted(self, "model_")
        t, k = np.broadcast_arrays(
            np.asarray(teacher_ids, dtype=object), np.asarray(topic_ids, dtype=object)
        )
        t, k = t.ravel(), k.ravel()
        self._check_known(t)
        frame = cohort_frame(cohort, len(t))
        return teacher_pair_features(t, k, frame, self.effects_, self.profiles_, self.declared_)

    def predict_rating(self, teacher_ids, topic_ids, cohort) -> np.ndarray:
        """Predicted leniency-free rating (1–5) of each teacher on each topic for the cohort.

        Parameters
        ----------
        teacher_ids, topic_ids : array-like of str
            Broadcastable to one length.
        cohort : dict, Series or DataFrame
            One cohort profile, or one per pair.

        Returns
        -------
        ndarray of float
        """
        check_is_fitted(self, "model_")
        X = self.features(teacher_ids, topic_ids, cohort)
        return _predict(self.model_, X)

    def declared_mask(self, topic_ids, teacher_ids=None) -> np.ndarray:
        """Which teachers declared each topic (``teacher_topics``): shape (n_topics, n_teachers).

        The usual eligibility of a topic slot in :func:`ganxun.models.assignment.plan_teachers`.
        """
        check_is_fitted(self, "model_")
        topic_ids = np.asarray(topic_ids, dtype=object).ravel()
        cols = self.teachers_.ids_ if teacher_ids is None else np.asarray(teacher_ids, object)
        key = pd.MultiIndex.from_arrays(
            [np.tile(cols, len(topic_ids)), np.repeat(topic_ids, len(cols))]
        )
        return self.declared_.reindex(key).notna().to_numpy().reshape(len(topic_ids), len(cols))

    def score_matrix(
        self, topic_ids, cohorts, teacher_ids=None, declared_only: bool = False
    ) -> np.ndarray:
        """Predicted ratings of (slot, teacher) pairs: rows are slots, columns teachers.

        Parameters
        ----------
        topic_ids : array-like of str
            Topic of each slot.
        cohorts : dict, Series or DataFrame
            One cohort for all slots, or one row per slot.
        teacher_ids : array-like of str, optional
            Columns (default: every teacher, in ``teachers_`` order).
        declared_only : bool
            Score only teachers who declared the slot's topic; other cells are ``-inf`` (not
            eligible for a plan). Much faster for large catalogues.

        Returns
        -------
        ndarray of shape (n_slots, n_teachers)
        """
        check_is_fitted(self, "model_")
        topic_ids = np.asarray(topic_ids, dtype=object).ravel()
        cols = self.teachers_.ids_ if teacher_ids is None else np.asarray(teacher_ids, object)
        n_s, n_t = len(topic_ids), len(cols)
        frame = cohort_frame(cohorts, n_s)
        mask = self.declared_mask(topic_ids, cols) if declared_only else np.ones((n_s, n_t), bool)
        rows, colidx = np.nonzero(mask)
        out = np.full((n_s, n_t), -np.inf)
        if len(rows):
            rep = frame.loc[rows].reset_index(drop=True)
            out[rows, colidx] = self.predict_rating(cols[colidx], topic_ids[rows], rep)
        return out

    def plan(
        self,
        slots: pd.DataFrame,
        cohorts: pd.DataFrame,
        max_sessions: int | np.ndarray = 4,
        period: str | None = "M",
        declared_only: bool = True,
        **solver_options,
    ) -> tuple[pd.DataFrame, Plan]:
        """A teacher plan over several classes' topic slots (see :func:`plan_teachers`).

        Parameters
        ----------
        slots : DataFrame
            class_id, topic_id, session_on per slot (e.g.
            :func:`ganxun.features.cohorts.class_slots`).
        cohorts : DataFrame
            Cohort profile per class, indexed by class_id
            (:func:`ganxun.features.cohorts.class_cohorts`).
        max_sessions : int or array-like
            Most slots per teacher per period (per teacher in ``teachers_`` order if an array).
        period : str or None
            pandas period of the load limit ("M" = calendar month); None = the whole plan.
        declared_only : bool
            Only teachers who declared the slot's topic are eligible.
        **solver_options
            ``time_limit``, ``mip_rel_gap`` of :func:`plan_teachers`.

        Returns
        -------
        table : DataFrame
            The slots with teacher_id (None when unfilled), predicted_rating, reasons (list of
            str) and unfilled_reason (code and message of :data:`ganxun.models.assignment.REASONS`).
        plan : Plan
            The solver's answer (columns index ``teachers_``).
        """
        check_is_fitted(self, "model_")
        slots = slots.reset_index(drop=True)
        missing = [c for c in ("class_id", "topic_id", "session_on") if c not in slots]
        if missing:
            raise ValueError(f"slots lack columns {missing}")
        unknown = sorted(set(slots["class_id"]) - set(cohorts.index))
        if unknown:
            raise ValueError(f"no cohort for classes {unknown[:5]}")
        rows = cohorts.loc[slots["class_id"]].reset_index(drop=True)
        scores = self.score_matrix(slots["topic_id"], rows, declared_only=declared_only)
        dates = pd.to_datetime(slots["session_on"])
        periods = None if period is None else dates.dt.to_period(period).astype(str).to_numpy()
        plan = plan_teachers(
            scores,
            dates.to_numpy(),
            slots["class_id"].to_numpy(),
            max_sessions,
            slot_periods=periods,
            **solver_options,
        )
        topics = slots["topic_id"]
        return self._plan_table(slots, plan, scores, (topics, rows), topics)

    def rank(
        self,
        topic_ids,
        cohort,
        candidates: Sequence[str] | None = None,
        k: int = 10,
        declared_only: bool = True,
    ) -> Ranked:
        """Best ``k`` teachers per topic for a cohort, with reasons.

        Parameters
        ----------
        topic_ids : array-like of str
            One query per topic (a class's topic slots).
        cohort : dict, Series or DataFrame
            One cohort profile for all topics, or one row per topic.
        candidates : sequence of str, optional
            Teachers allowed (default: every teacher); unknown ids raise ValueError.
        k : int
            List length.
        declared_only : bool
            Only teachers who declared the topic (``teacher_topics``).

        Returns
        -------
        Ranked
            ``ids`` index ``teachers_``; scores are predicted ratings; reasons such as
            "擅长：法治素养", "同类学员评分 4.6", "近3年授课 12 次".
        """
        check_is_fitted(self, "model_")
        topic_ids = np.asarray(topic_ids, dtype=object).ravel()
        n_t = len(self.teachers_)
        frame = cohort_frame(cohort, len(topic_ids))
        allowed = np.ones((len(topic_ids), n_t), bool) & self._allowed(candidates)[None, :]
        if declared_only:
            allowed &= self.declared_mask(topic_ids)
        rep = frame.loc[np.repeat(np.arange(len(topic_ids)), n_t)].reset_index(drop=True)
        X = self.features(
            np.tile(self.teachers_.ids_, len(topic_ids)), np.repeat(topic_ids, n_t), rep
        )
        return self._ranked(X, len(topic_ids), allowed, k, topic_ids)

    def _reasons(self, x: pd.Series, j: int, topic_id: str) -> list[str]:
        out = []
        name = self.topic_names_.get(topic_id, TOPICS.get(topic_id, (topic_id,))[0])
        if x["declared"] > 0:
            out.append(f"擅长：{name}")
        out += self._rating_reasons(x)
        n = int(self.sessions_3y_.get(self.teachers_.ids_[j], 0))
        out.append(f"近3年授课 {n} 次" if n else "近3年暂无授课记录")
        return out


def _default_asof(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    dates = [
        tables[t][c].max()
        for t, c in (("course_ratings", "rated_on"), ("staff_ratings", "rated_on"))
        if t in tables and len(tables[t])
    ]
    dates = [d for d in dates if pd.notna(d)]
    return (max(dates) + pd.Timedelta(days=1)) if dates else pd.Timestamp("today").normalize()


def class_topic_frame(tables: dict[str, pd.DataFrame], class_ids) -> pd.DataFrame:
    """Topic weights of some classes, one row per class id (columns: topic ids, sorted)."""
    topic_ids = sorted(tables["topics"]["topic_id"])
    w = class_topic_weights(tables, topic_ids)
    return w.reindex(pd.Index(np.asarray(class_ids, dtype=object))).fillna(0.0)


def __getattr__(name: str):
    """Resolve ``StaffMatcher``, which moved to :mod:`ganxun.models.staff_matching` (PEP 562).

    Bundles pickled before the move name it here.
    """
    if name == "StaffMatcher":
        from ganxun.models.staff_matching import StaffMatcher

        return StaffMatcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
