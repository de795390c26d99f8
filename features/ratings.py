"""Rating features: teacher and staff ratings corrected for rater leniency, and their effects.

Per-target effects (overall, per topic, and a smooth curve over the cohort's rank level) are
estimated by shrunk backfitting, so that a target with few ratings falls back on the prior. Used by
:mod:`ganxun.models.matching` and :mod:`ganxun.models.quality`. Pure functions of the validated raw
tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.cohorts import (
    class_cohorts,
    course_main_topic,
    rank_levels,
)
from ganxun.features.contracts import RANKS
from ganxun.features.vocab import Vocabulary

#: Rank levels at which rating curves are tabulated (interpolated in between).
LEVEL_GRID = np.linspace(0.0, len(RANKS) - 1.0, 21)


# --- ratings -------------------------------------------------------------------------------------


def rating_triples(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every score given by a cadre, as (rater, target, score) rows for a leniency model.

    Course scores rate the course (``c:<course_id>``), teacher scores the teacher on the course's
    main topic (``t:<teacher_id>|<topic_id>``), staff scores the staff member (``s:<staff_id>``), so
    that one model of ``score = mean + leniency[rater] + effect[target]`` sees all of a cadre's
    ratings (see :func:`ganxun.models.matching.rater_leniency`).
    """
    cr = tables["course_ratings"]
    main = course_main_topic(tables)
    has_t = cr["teacher_score"].notna() & cr["teacher_id"].notna()
    t = cr[has_t]
    sr = tables["staff_ratings"]
    parts = [
        pd.DataFrame(
            {
                "rater": cr["cadre_id"].to_numpy(),
                "target": ("c:" + cr["course_id"].astype(str)).to_numpy(),
                "score": cr["course_score"].astype(float).to_numpy(),
            }
        ),
        pd.DataFrame(
            {
                "rater": t["cadre_id"].to_numpy(),
                "target": (
                    "t:"
                    + t["teacher_id"].astype(str)
                    + "|"
                    + t["course_id"].map(main).fillna("").astype(str)
                ).to_numpy(),
                "score": t["teacher_score"].astype(float).to_numpy(),
            }
        ),
        pd.DataFrame(
            {
                "rater": sr["cadre_id"].to_numpy(),
                "target": ("s:" + sr["staff_id"].astype(str)).to_numpy(),
                "score": sr["score"].astype(float).to_numpy(),
            }
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def _cadre_levels(tables: dict[str, pd.DataFrame]) -> pd.Series:
    cad = tables["cadres"]
    return pd.Series(rank_levels(cad["rank"].to_numpy()), index=cad["cadre_id"].to_numpy())


def teacher_rating_events(
    tables: dict[str, pd.DataFrame],
    leniency: pd.Series,
    cohorts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every teacher score, with the topic taught, the cohort's rank level and leniency removed.

    The topic is the course's main topic; the cohort level is the class's mean rank level for a
    rating given in a class, else the rater's own rank level (self-study). ``leniency`` is indexed
    by cadre_id (cadres it does not list count as 0; pass an empty Series for raw scores);
    ``cohorts`` defaults to :func:`class_cohorts` of the rated classes.

    Returns
    -------
    DataFrame
        cadre_id, teacher_id, topic_id, course_id, class_id, rated_on, score, leniency,
        adjusted (score - leniency), level.
    """
    cr = tables["course_ratings"]
    cr = cr[cr["teacher_score"].notna() & cr["teacher_id"].notna()]
    main = course_main_topic(tables)
    out = pd.DataFrame(
        {
            "cadre_id": cr["cadre_id"].to_numpy(),
            "teacher_id": cr["teacher_id"].to_numpy(),
            "topic_id": cr["course_id"].map(main).to_numpy(),
            "course_id": cr["course_id"].to_numpy(),
            "class_id": cr["class_id"].to_numpy(),
            "rated_on": cr["rated_on"].to_numpy(),
            "score": cr["teacher_score"].astype(float).to_numpy(),
        }
    )
    out = out[out["topic_id"].notna()].reset_index(drop=True)
    return _finish_events(tables, out, leniency, cohorts)


def staff_rating_events(
    tables: dict[str, pd.DataFrame],
    leniency: pd.Series,
    cohorts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every staff score with the class cohort's rank level and the rater's leniency removed.

    ``leniency`` and ``cohorts`` as in :func:`teacher_rating_events`.

    Returns
    -------
    DataFrame
        cadre_id, staff_id, class_id, rated_on, score, leniency, adjusted, level.
    """
    sr = tables["staff_ratings"]
    out = pd.DataFrame(
        {
            "cadre_id": sr["cadre_id"].to_numpy(),
            "staff_id": sr["staff_id"].to_numpy(),
            "class_id": sr["class_id"].to_numpy(),
            "rated_on": sr["rated_on"].to_numpy(),
            "score": sr["score"].astype(float).to_numpy(),
        }
    )
    return _finish_events(tables, out, leniency, cohorts)


def _finish_events(tables, out, leniency, cohorts) -> pd.DataFrame:
    out["leniency"] = out["cadre_id"].map(leniency).fillna(0.0).astype(float).to_numpy()
    out["adjusted"] = out["score"] - out["leniency"]
    own = out["cadre_id"].map(_cadre_levels(tables)).astype(float)
    in_class = out["class_id"].notna()
    if cohorts is None:
        cohorts = class_cohorts(tables, class_ids=out.loc[in_class, "class_id"].unique())
    cls_level = out["class_id"].map(cohorts["rank_mean"]).astype(float)
    out["level"] = np.where(in_class & cls_level.notna(), cls_level, own)
    return out[out["level"].notna()].reset_index(drop=True)


@dataclass(frozen=True)
class RatingEffects:
    """Shrunk rating effects of targets (teachers or staff) from leniency-corrected ratings.

    ``expected(target, topic, level) = mean + base[target] + offset[target, topic]
    + curve[target](level)``. ``curve`` is tabulated on :data:`LEVEL_GRID`; ``curve_weight`` is the
    kernel weight (effective number of ratings) behind each grid point.
    """

    mean: float
    targets: Vocabulary
    base: np.ndarray
    n: np.ndarray
    offset: pd.Series  # MultiIndex (target, topic)
    offset_n: pd.Series
    curve: np.ndarray  # (n_targets, len(LEVEL_GRID))
    curve_weight: np.ndarray
    topic_mean: pd.Series  # shrunk mean of each topic's ratings, relative to ``mean``

    def features(self, targets, topics, levels) -> pd.DataFrame:
        """History features of (target, topic, cohort level) queries.

        Returns
        -------
        DataFrame
            hist_n, hist_base, topic_n, topic_offset, fit_n, cohort_fit, prior_rating (one row per
            query; an unknown target gets zero counts and the topic's mean as prior).
        """
        targets = np.asarray(targets, dtype=object)
        topics = np.asarray(topics, dtype=object)
        levels = np.clip(np.asarray(levels, dtype=float), LEVEL_GRID[0], LEVEL_GRID[-1])
        ti = self.targets.index(pd.Series(targets, dtype=object))
        known = ti >= 0
        t = np.maximum(ti, 0)
        base = np.where(known, self.base[t], 0.0)
        n = np.where(known, self.n[t], 0.0)
        key = pd.MultiIndex.from_arrays([targets, topics])
        off = self.offset.reindex(key).to_numpy(dtype=float)
        off_n = self.offset_n.reindex(key).to_numpy(dtype=float)
        off, off_n = np.nan_to_num(off), np.nan_to_num(off_n)
        tmean = self.topic_mean.reindex(pd.Index(topics)).to_numpy(dtype=float)
        tmean = np.nan_to_num(tmean)
        pos = np.interp(levels, LEVEL_GRID, np.arange(len(LEVEL_GRID)))
        lo = np.floor(np.nan_to_num(pos)).astype(int)
        hi = np.minimum(lo + 1, len(LEVEL_GRID) - 1)
        frac = np.nan_to_num(pos) - lo
        curve = (1 - frac) * self.curve[t, lo] + frac * self.curve[t, hi]
        weight = (1 - frac) * self.curve_weight[t, lo] + frac * self.curve_weight[t, hi]
        curve = np.where(known & ~np.isnan(levels), curve, 0.0)
        weight = np.where(known & ~np.isnan(levels), weight, 0.0)
        # a target nobody rated starts from the topic's mean; a rated one on a new topic from its
        # own base (its offset is 0)
        prior_off = np.where(off_n > 0, off, tmean * (n == 0))
        return pd.DataFrame(
            {
                "hist_n": n,
                "hist_base": base,
                "topic_n": off_n,
                "topic_offset": off,
                "fit_n": weight,
                "cohort_fit": curve,
                "prior_rating": self.mean + base + prior_off + curve,
            }
        )


def rating_effects(
    events: pd.DataFrame,
    target_col: str,
    topic_col: str | None = "topic_id",
    shrinkage: float = 5.0,
    topic_shrinkage: float = 5.0,
    curve_shrinkage: float = 10.0,
    bandwidth: float = 0.6,
    n_iter: int = 4,
    targets: Vocabulary | None = None,
) -> RatingEffects:
    """Estimate :class:`RatingEffects` by backfitting shrunk means and a kernel curve per target.

    Each round: the target's base is the shrunk mean of what the other parts leave; the topic
    offset the shrunk mean of the rest per (target, topic); the curve a Nadaraya–Watson smooth of
    the rest over the cohort's rank level (Gaussian kernel of ``bandwidth`` levels), shrunk to 0
    where few ratings are near. Ratings of a target with none of its own fall back to the mean.

    Parameters
    ----------
    events : DataFrame
        One row per rating: ``target_col``, ``topic_col`` (or None), level, adjusted.
    target_col : str
        Column naming the rated target (teacher_id or staff_id).
    topic_col : str or None
        Column naming the topic; None for targets without topics (staff).
    shrinkage, topic_shrinkage, curve_shrinkage : float
        Pseudo-counts of the base, the topic offsets and the curve points.
    bandwidth : float
        Kernel width in rank levels.
    n_iter : int
        Backfitting rounds.
    targets : Vocabulary, optional
        Target vocabulary (default: the targets present in ``events``).
    """
    if targets is None:
        targets = Vocabulary(events[target_col].astype(str))
    ti = targets.index(events[target_col])
    ev = events[ti >= 0]
    ti = ti[ti >= 0]
    y = ev["adjusted"].to_numpy(float)
    levels = ev["level"].to_numpy(float)
    topics = (
        ev[topic_col].astype(str).to_numpy() if topic_col else np.full(len(ev), "", dtype=object)
    )
    n_t = len(targets)
    mean = float(y.mean()) if len(y) else 3.0
    member = sp.csr_matrix((np.ones(len(ti)), (ti, np.arange(len(ti)))), shape=(n_t, len(ti)))
    kern = np.exp(-0.5 * ((levels[:, None] - LEVEL_GRID[None, :]) / bandwidth) ** 2)
    kern_sum = np.asarray(member @ kern)
    n = np.bincount(ti, minlength=n_t).astype(float)
    topic_codes, topic_uniques = pd.factorize(pd.Index(topics))
    n_topic = np.bincount(topic_codes, minlength=len(topic_uniques)).astype(float)
    pair_uniques, pair_codes = np.unique(
        ti.astype(np.int64) * max(1, len(topic_uniques)) + topic_codes, return_inverse=True
    )
    n_pair = np.bincount(pair_codes, minlength=len(pair_uniques)).astype(float)
    topic_mean = np.bincount(topic_codes, y - mean, len(topic_uniques)) / (n_topic + shrinkage)
    base = np.zeros(n_t)
    off = np.zeros(len(pair_uniques))
    curve = np.zeros((n_t, len(LEVEL_GRID)))
    f = np.zeros(len(y))
    for _ in range(max(1, n_iter)):
        base = np.bincount(ti, y - mean - off[pair_codes] - f, n_t) / (n + shrinkage)
        if topic_col:
            r = y - mean - base[ti] - f
            off = np.bincount(pair_codes, r, len(pair_uniques)) / (n_pair + topic_shrinkage)
        r = y - mean - base[ti] - off[pair_codes]
        curve = np.asarray(member @ (kern * r[:, None])) / (kern_sum + curve_shrinkage)
        f = _interp_rows(curve, ti, levels)
    pair_t = pair_uniques // max(1, len(topic_uniques))
    pair_k = np.asarray(topic_uniques, dtype=object)[pair_uniques % max(1, len(topic_uniques))]
    index = pd.MultiIndex.from_arrays([targets.lookup(pair_t), pair_k])
    return RatingEffects(
        mean=mean,
        targets=targets,
        base=base,
        n=n,
        offset=pd.Series(off, index=index),
        offset_n=pd.Series(n_pair, index=index),
        curve=curve,
        curve_weight=kern_sum,
        topic_mean=pd.Series(topic_mean, index=pd.Index(topic_uniques)),
    )


def _interp_rows(table: np.ndarray, rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
    pos = np.interp(levels, LEVEL_GRID, np.arange(len(LEVEL_GRID)))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(LEVEL_GRID) - 1)
    frac = pos - lo
    return (1 - frac) * table[rows, lo] + frac * table[rows, hi]


def group_folds(keys: pd.Series, n_folds: int, random_state: int) -> np.ndarray:
    """A fold per row, all rows of one key in the same fold (keys shuffled with the seed)."""
    codes, uniques = pd.factorize(keys)
    perm = np.random.default_rng(random_state).permutation(len(uniques))
    return perm[codes] % max(1, n_folds)


def ridit_scores(raters, scores, prior: float = 5.0, levels=(1, 2, 3, 4, 5)) -> np.ndarray:
    """Each score as its rank among the rater's own scores (a ridit), on the 1–5 scale.

    Training bases' ratings are inflated (most scores 4 or 5) and capped at 5, and raters use the
    scale differently. Within-rater ridit scoring, standard for ordinal data, reads a score
    against the rater's own distribution: ``F(< s) + F(= s) / 2``, where ``F`` is the rater's
    share of each score smoothed with ``prior`` pseudo-ratings of the population's shares (a
    rater with few ratings is read through everyone's). The ridit (0–1) is mapped to ``1 + 4 r``
    so that downstream means keep a 1–5 look. A rater who gives every course 5 says nothing of
    one course against another, and every score of theirs becomes the same middle value.

    Parameters
    ----------
    raters : array-like
        Rater of each score (any hashable ids).
    scores : array-like of float
        Scores on ``levels`` (NaN stays NaN).
    prior : float
        Pseudo-ratings of the population distribution added to each rater's.
    levels : sequence of int
        The score scale.

    Returns
    -------
    ndarray of float
    """
    y = np.asarray(scores, dtype=float)
    out = np.full(len(y), np.nan)
    ok = np.isfinite(y)
    if not ok.any():
        return out
    lv = np.asarray(levels, dtype=float)
    level = np.clip(np.searchsorted(lv, y[ok]), 0, len(lv) - 1)
    codes, _ = pd.factorize(pd.Series(np.asarray(raters, dtype=object)[ok]))
    counts = np.zeros((codes.max() + 1, len(lv)))
    np.add.at(counts, (codes, level), 1.0)
    population = counts.sum(axis=0) / counts.sum()
    share = (counts + prior * population) / (counts.sum(axis=1, keepdims=True) + prior)
    below = np.cumsum(share, axis=1) - share
    ridit = below + share / 2.0
    out[ok] = 1.0 + 4.0 * ridit[codes, level]
    return out


def rescale_ratings(tables: dict[str, pd.DataFrame], prior: float = 5.0) -> dict[str, pd.DataFrame]:
    """The tables with every course, teacher and staff score replaced by its within-rater ridit.

    Course, teacher and staff scores are each read against the same rater's scores of that kind
    (:func:`ridit_scores`). Other tables are returned as they are.
    """
    out = dict(tables)
    cr = tables["course_ratings"].copy()
    cr["course_score"] = ridit_scores(cr["cadre_id"], cr["course_score"].astype(float), prior)
    cr["teacher_score"] = ridit_scores(cr["cadre_id"], cr["teacher_score"].astype(float), prior)
    out["course_ratings"] = cr
    sr = tables["staff_ratings"].copy()
    sr["score"] = ridit_scores(sr["cadre_id"], sr["score"].astype(float), prior)
    out["staff_ratings"] = sr
    return out
