"""Support-staff matching (班主任/组织员配置): who would a class's cohort rate best.

:class:`StaffMatcher` predicts the leniency-corrected rating a support staff member would get
from a class's cohort, on the rating-matcher base of :mod:`ganxun.models.matching` (rating
history with shrunk effects, then a LightGBM regressor on experience, background and the
cohort's profile, cold-start copies); :func:`ganxun.models.assignment.plan_staff` turns the
predictions into a plan that never gives one person two overlapping classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ganxun.features.cohorts import ReserveMatrix
from ganxun.features.contracts import CATEGORIES
from ganxun.features.matcher_features import (
    STAFF_FEATURES,
    staff_pair_features,
    staff_profiles,
    staff_training_rows,
)
from ganxun.models.assignment import Plan, plan_staff
from ganxun.models.matching import (
    Ranked,
    _counts_since,
    _predict,
    _RatingMatcher,
    cohort_frame,
)


class StaffMatcher(_RatingMatcher):
    """Predict the rating a support staff member (班主任/教辅) would get from a class's cohort.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda :
        LightGBM hyper-parameters (the booster starts from the history estimate).
    shrinkage, curve_shrinkage : float
        Pseudo-counts of the history effects (overall, per cohort level).
    bandwidth : float
        Width in rank levels of the cohort-level smoothing.
    n_folds : int
        Out-of-fold groups of classes.
    cold_start_share : float
        Share of training rows duplicated with the history blanked.
    min_ratings_reason : float
        Ratings near the cohort needed before "同类学员评分" is given as a reason.
    n_jobs : int
        LightGBM threads.
    random_state : int or None
        Seed of folds, cold-start copies and LightGBM sampling.

    Attributes
    ----------
    staff_ : Vocabulary
        Every staff member of the ``staff`` table.
    model_ : lightgbm.LGBMRegressor
    effects_ : RatingEffects
    leniency_ : Series
    feature_names_in_ : ndarray of str
    n_training_rows_ : int
    """

    _KIND = "staff"
    _TABLES = ("staff", "staff_ratings", "classes", "topics")
    _ID = "staff_id"
    _TOPIC = None
    _EFFECT_PARAMS = ("shrinkage", "curve_shrinkage", "bandwidth")
    _VOCABULARY = "staff_"

    def __init__(
        self,
        n_estimators: int = 150,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 20,
        reg_lambda: float = 1.0,
        shrinkage: float = 5.0,
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
    ) -> StaffMatcher:
        """Learn from ``staff_ratings`` (see :meth:`TeacherMatcher.fit`).

        Raises
        ------
        ValueError
            If there is no staff rating to learn from.
        """
        X, y, meta = self._fit_history(
            tables, reserve, staff_training_rows, "no staff rating: nothing to learn from"
        )
        self.profiles_ = staff_profiles(tables)
        cold = np.full(len(X), self.effects_.mean)
        self._fit_model(tables, X, y, meta, cold, STAFF_FEATURES, asof)
        self.topic_ids_ = np.asarray(sorted(tables["topics"]["topic_id"]), dtype=object)
        classes = tables["classes"][tables["classes"]["staff_id"].notna()]
        self.classes_3y_ = _counts_since(classes, "staff_id", "start_on", self.asof_, 3)
        return self

    def _topic_frame(self, topic_weights, n: int) -> pd.DataFrame:
        if topic_weights is None:
            return pd.DataFrame(0.0, index=range(n), columns=self.topic_ids_)
        if isinstance(topic_weights, pd.DataFrame):
            frame = topic_weights.reset_index(drop=True).reindex(columns=self.topic_ids_)
            frame = frame.fillna(0.0)
            if len(frame) == 1 and n != 1:
                frame = frame.loc[np.zeros(n, dtype=int)].reset_index(drop=True)
            if len(frame) != n:
                raise ValueError(f"topic_weights has {len(frame)} rows, expected 1 or {n}")
            return frame
        row = pd.Series(dict(topic_weights), dtype=float).reindex(self.topic_ids_).fillna(0.0)
        return pd.DataFrame(np.tile(row.to_numpy(), (n, 1)), columns=self.topic_ids_)

    def features(self, staff_ids, cohort, topic_weights=None) -> pd.DataFrame:
        """Feature rows of staff members for a class (or one class per row).

        Parameters
        ----------
        staff_ids : array-like of str
            Staff members.
        cohort : dict, Series or DataFrame
            One cohort profile, or one per row.
        topic_weights : dict or DataFrame, optional
            The class's topic weights (topic_id → weight), or one row per staff row.

        Raises
        ------
        ValueError
            If a staff id is not in the training ``staff`` table.
        """
        check_is_fitted(self, "model_")
        s = np.asarray(staff_ids, dtype=object).ravel()
        self._check_known(s)
        frame = cohort_frame(cohort, len(s))
        tw = self._topic_frame(topic_weights, len(s))
        return staff_pair_features(s, frame, self.effects_, self.profiles_, tw)

    def predict_rating(self, staff_ids, cohort, topic_weights=None) -> np.ndarray:
        """Predicted leniency-free rating (1–5) of each staff member for the class.

        Returns
        -------
        ndarray of float
        """
        check_is_fitted(self, "model_")
        return _predict(self.model_, self.features(staff_ids, cohort, topic_weights))

    def score_matrix(self, cohorts, topic_weights=None, staff_ids=None) -> np.ndarray:
        """Predicted ratings of every (class, staff) pair: rows are classes, columns staff.

        Parameters
        ----------
        cohorts : DataFrame
            One cohort profile per class.
        topic_weights : DataFrame, optional
            One row of topic weights per class (columns are topic ids).
        staff_ids : array-like of str, optional
            Columns (default: every staff member, in ``staff_`` order).
        """
        check_is_fitted(self, "model_")
        cols = self.staff_.ids_ if staff_ids is None else np.asarray(staff_ids, dtype=object)
        frame = cohort_frame(cohorts, len(cohorts) if isinstance(cohorts, pd.DataFrame) else 1)
        n_c, n_s = len(frame), len(cols)
        rep = frame.loc[np.repeat(np.arange(n_c), n_s)].reset_index(drop=True)
        tw = self._topic_frame(topic_weights, n_c)
        tw = tw.loc[np.repeat(np.arange(n_c), n_s)].reset_index(drop=True)
        return self.predict_rating(np.tile(cols, n_c), rep, tw).reshape(n_c, n_s)

    def plan(
        self,
        classes: pd.DataFrame,
        cohorts: pd.DataFrame,
        topic_weights: pd.DataFrame | None = None,
        max_concurrent: int | np.ndarray = 1,
        max_classes: int | np.ndarray | None = None,
        **solver_options,
    ) -> tuple[pd.DataFrame, Plan]:
        """One staff member per class over several classes (see :func:`plan_staff`).

        Parameters
        ----------
        classes : DataFrame
            class_id, start_on, end_on per class.
        cohorts : DataFrame
            Cohort profile per class, indexed by class_id.
        topic_weights : DataFrame, optional
            Topic weights indexed by class_id (columns are topic ids).
        max_concurrent, max_classes :
            Load limits of :func:`plan_staff`.
        **solver_options
            ``time_limit``, ``mip_rel_gap`` of :func:`plan_staff`.

        Returns
        -------
        table : DataFrame
            The classes with staff_id (None when unfilled), predicted_rating, reasons and
            unfilled_reason.
        plan : Plan
            The solver's answer (columns index ``staff_``).
        """
        check_is_fitted(self, "model_")
        classes = classes.reset_index(drop=True)
        ids = classes["class_id"]
        rows = cohorts.loc[ids].reset_index(drop=True)
        tw = None if topic_weights is None else topic_weights.reindex(ids).fillna(0.0)
        scores = self.score_matrix(rows, tw)
        plan = plan_staff(
            scores,
            classes["start_on"],
            classes["end_on"],
            max_concurrent,
            max_classes,
            **solver_options,
        )
        tw_frame = self._topic_frame(tw, len(classes))
        return self._plan_table(classes, plan, scores, (rows, tw_frame), tw_frame)

    def rank(
        self,
        cohorts,
        topic_weights=None,
        candidates: Sequence[str] | None = None,
        k: int = 10,
    ) -> Ranked:
        """Best ``k`` staff members per class, with reasons.

        Parameters
        ----------
        cohorts : dict, Series or DataFrame
            One cohort profile (one query) or one row per class.
        topic_weights : dict or DataFrame, optional
            Topic weights of the class(es).
        candidates : sequence of str, optional
            Staff allowed (default: all); unknown ids raise ValueError.
        k : int
            List length.

        Returns
        -------
        Ranked
            ``ids`` index ``staff_``; reasons such as "背景：法治素养", "同类学员评分 4.4",
            "从业 12 年", "近3年带班 5 个".
        """
        check_is_fitted(self, "model_")
        n_q = len(cohorts) if isinstance(cohorts, pd.DataFrame) else 1
        frame = cohort_frame(cohorts, n_q)
        tw = self._topic_frame(topic_weights, n_q)
        n_s = len(self.staff_)
        allowed = self._allowed(candidates)[None, :]
        rep = frame.loc[np.repeat(np.arange(n_q), n_s)].reset_index(drop=True)
        rtw = tw.loc[np.repeat(np.arange(n_q), n_s)].reset_index(drop=True)
        X = self.features(np.tile(self.staff_.ids_, n_q), rep, rtw)
        return self._ranked(X, n_q, allowed, k, [tw.iloc[q] for q in range(n_q)])

    def _reasons(self, x: pd.Series, j: int, weights: pd.Series) -> list[str]:
        out = []
        sid = self.staff_.ids_[j]
        bg = str(self.profiles_.at[sid, "background"])
        if bg in CATEGORIES:
            share = x["background_category_share"]
            if share >= 0.3:
                out.append(f"背景：{bg}（本班{share:.0%}学员同类）")
        elif weights.get(bg, 0.0) > 0:
            out.append(f"背景：{self.topic_names_.get(bg, bg)}")
        out += self._rating_reasons(x)
        out.append(f"从业 {int(x['years'])} 年")
        n = int(self.classes_3y_.get(sid, 0))
        out.append(f"近3年带班 {n} 个" if n else "近3年暂无带班记录")
        return out
