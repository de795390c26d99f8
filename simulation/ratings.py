"""Ratings: expected teacher and staff scores for a cohort, and the scores cadres give."""

from __future__ import annotations

import numpy as np

from ganxun.simulation.common import index_of
from ganxun.simulation.params import N_TOPICS, NEVER


def rating_curve(q, pref, sens, cohort) -> np.ndarray:
    """Expected rating 3 + quality - sensitivity * |cohort - preferred rank level| / 5, in 1–5."""
    return np.clip(3.0 + q - sens * np.abs(np.asarray(cohort, dtype=float) - pref) / 5.0, 1.0, 5.0)


def true_teacher_rating(truth: dict, teacher_ids, topic_ids, cohort_rank_level) -> np.ndarray:
    """Expected rating of teachers teaching topics to cohorts, without leniency or noise.

    ``3 + q[t, k] - s_t * |r - p_t| / 5`` clipped to 1–5, where ``q`` is the true topic quality,
    ``p_t`` the preferred rank level and ``s_t`` the cohort sensitivity of the teacher.

    Parameters
    ----------
    truth : dict
        ``City.truth`` (or the same read back from disk).
    teacher_ids, topic_ids : array-like of str
        Broadcastable to one shape.
    cohort_rank_level : float or array-like
        Mean rank level of the cohort, 0 (科员) to 5 (副厅); broadcastable too.

    Returns
    -------
    ndarray of float
        Expected ratings in [1, 5], in the broadcast shape.
    """
    teachers = truth["teachers"]
    tq = truth["teacher_quality"]
    tid = teachers["teacher_id"].to_numpy().astype(str)
    q = np.zeros((len(tid), N_TOPICS))
    q[index_of(tq["teacher_id"], tid), index_of(tq["topic_id"], truth["topic_ids"])] = tq["quality"]
    t, k, r = np.broadcast_arrays(np.asarray(teacher_ids), np.asarray(topic_ids), cohort_rank_level)
    ti = index_of(t.ravel(), tid).reshape(t.shape)
    ki = index_of(k.ravel(), truth["topic_ids"]).reshape(k.shape)
    pref = teachers["pref_rank_level"].to_numpy(dtype=float)[ti]
    sens = teachers["cohort_sensitivity"].to_numpy(dtype=float)[ti]
    return rating_curve(q[ti, ki], pref, sens, r)


def true_staff_rating(truth: dict, staff_ids, cohort_rank_level) -> np.ndarray:
    """Expected rating of support staff for cohorts, without leniency or noise.

    Parameters
    ----------
    truth : dict
        ``City.truth``.
    staff_ids : array-like of str
        Staff ids, broadcastable with ``cohort_rank_level``.
    cohort_rank_level : float or array-like
        Mean rank level of the cohort, 0 (科员) to 5 (副厅).

    Returns
    -------
    ndarray of float
        ``3 + quality - s * |r - p| / 5`` clipped to [1, 5].
    """
    staff = truth["staff"]
    s, r = np.broadcast_arrays(np.asarray(staff_ids), cohort_rank_level)
    si = index_of(s.ravel(), staff["staff_id"]).reshape(s.shape)
    return rating_curve(
        staff["quality"].to_numpy(dtype=float)[si],
        staff["pref_rank_level"].to_numpy(dtype=float)[si],
        staff["cohort_sensitivity"].to_numpy(dtype=float)[si],
        r,
    )


class RatingsMixin:
    """Ratings of the simulation: course, teacher and staff scores."""

    def _score(self, latent: np.ndarray) -> np.ndarray:
        """Scores 1–5 of latent ratings: rounded, or (``inflated_ratings``) an ordinal ceiling."""
        if "inflated_ratings" in self.realism:
            cuts = np.asarray(self.p["inflated_ratings"]["thresholds"])
            return 1 + (np.asarray(latent)[..., None] > cuts).sum(axis=-1)
        return np.clip(np.rint(latent), 1, 5)

    def _course_rating(self, cadres, courses, teachers, expected, days, cls, rng=None) -> None:
        """Record course (and teacher) scores of completions, from truth, leniency and noise."""
        p, rng = self.p, self.rng if rng is None else rng
        sd, lenient = p["rating_noise_sd"], self.leniency[cadres]
        has_t = teachers >= 0
        course = (
            3.0
            + p["course_quality_coef"] * self.k_quality[courses]
            + p["course_teacher_coef"] * np.where(has_t, expected - 3.0, 0.0)
            + lenient
            + rng.normal(0.0, sd, len(cadres))
        )
        teacher = np.where(has_t, expected, 3.0) + lenient + rng.normal(0.0, sd, len(cadres))
        self.crat.add(
            cadre=cadres,
            course=courses,
            cls=cls,
            teacher=teachers,
            day=days,
            score=self._score(course).astype(np.int64),
            tscore=np.where(has_t, self._score(teacher), NEVER).astype(np.int64),
        )

    def _teacher_rating(self, teachers, courses, cohort) -> np.ndarray:
        t = np.maximum(teachers, 0)
        r = rating_curve(self.t_q[t, self.k_k1[courses]], self.t_pref[t], self.t_sens[t], cohort)
        return np.where(teachers >= 0, r, np.nan)

    def _staff_ratings(self) -> None:
        """Members of rollcall/elective classes with staff rate the staff when the class ends."""
        p, rng = self.p, self.rng
        e = self.enr.get()
        cls = e["cls"].astype(np.int64)
        with_staff = (cls >= 0) & (self.b_staff[np.maximum(cls, 0)] >= 0)
        pairs = np.unique(cls[with_staff] * self.n + e["cadre"][with_staff].astype(np.int64))
        c, cadres = pairs // self.n, pairs % self.n
        size = np.bincount(c, minlength=self.n_classes)
        cohort = np.bincount(c, weights=self.c_rank[cadres], minlength=self.n_classes)
        cohort = cohort / np.maximum(size, 1)
        s = self.b_staff[c]
        expected = rating_curve(self.s_q[s], self.s_pref[s], self.s_sens[s], cohort[c])
        score = expected + self.leniency[cadres] + rng.normal(0.0, p["rating_noise_sd"], len(c))
        rated = rng.random(len(c)) < p["p_rate_staff"]
        if self.careers:  # rated when the class ends: only by cadres still in service then
            rated &= self.leave_day[cadres] > self.b_end[c]
        self.srat = {
            "cadre": cadres[rated],
            "cls": c[rated],
            "staff": s[rated],
            "day": self.b_end[c[rated]],
            "score": self._score(score[rated]).astype(np.int64),
        }
