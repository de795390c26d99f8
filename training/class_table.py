"""The class evaluation table (训后评价), computed at training time and kept in the bundle.

Evaluating a class needs its exam answers and ratings, which the bundle does not keep; what the
service needs of them is small: per member the difficulty-adjusted pre→post gain, per class and
topic the gain, per class the effect and its value added against classes of similar cohorts, and
per class the teachers' and staff's ratings corrected for rater leniency. :func:`build_class_table`
computes them once from the raw tables and the fitted diagnosis model (no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.cohorts import class_hours, rank_levels
from ganxun.features.history import class_exam_answers
from ganxun.models.class_evaluation import class_effects, member_gains, topic_gains, value_added
from ganxun.models.matching import rater_leniency


@dataclass
class ClassTable:
    """What the evaluation of every past class reads (ids and aggregates only).

    Attributes
    ----------
    members : DataFrame
        class_id, cadre_id, pre, post (share correct), pre_residual, post_residual, gain,
        n_pre, n_post: one row per member with a pre- and a post-exam.
    topics : DataFrame
        class_id, topic_id, gain, gain_se, measured.
    classes : DataFrame
        class_id, gain, gain_se, pre_residual, measured, rank_level, hours, n_topics,
        total_scores (the exams were kept as totals only), expected_gain, value_added, percentile.
    ratings : DataFrame
        class_id, role (teacher/staff), person_id, ratings, raw_mean, corrected_mean (each score
        less its rater's leniency, 1–5 scale).
    """

    members: pd.DataFrame
    topics: pd.DataFrame
    classes: pd.DataFrame
    ratings: pd.DataFrame


def _expected(answers: pd.DataFrame, cat, knowledge) -> np.ndarray:
    """P(correct) of each answer under the diagnosis model; for a total score, the reserve.

    An item answer gets ``model.predict_proba`` (difficulty and guessing floor known); a total
    score has no items, so it gets the cadre's reserve on the exam's topic, or the mean over
    the class's topics when the exam was not scored by topic.
    """
    users = cat.cadres.index(answers["cadre_id"])
    items = cat.items.index(answers["item_id"].fillna(""))
    out = np.full(len(answers), np.nan)
    ok = (users >= 0) & (items >= 0)
    if ok.any():
        out[ok] = knowledge.model.predict_proba(users[ok], items[ok])
    total = answers["item_id"].isna().to_numpy() & (users >= 0)
    if total.any():
        reserve = np.asarray(knowledge.reserve, dtype=float)
        topic = cat.topics.index(answers["topic_id"].fillna(""))
        rows = reserve[users[total]]
        t = topic[total]
        out[total] = np.where(t >= 0, rows[np.arange(len(rows)), np.maximum(t, 0)], rows.mean(1))
    return out


def _by_topic(answers: pd.DataFrame, expected: np.ndarray, cat) -> tuple[pd.DataFrame, np.ndarray]:
    """Answers repeated once per topic of their item (total scores keep their own topic)."""
    items = cat.items.index(answers["item_id"].fillna(""))
    has_item = items >= 0
    m = cat.item_topics[np.maximum(items, 0)].tocoo()
    rows = m.row[has_item[m.row]]
    cols = m.col[has_item[m.row]]
    per_item = answers.iloc[rows].assign(topic_id=cat.topics.lookup(cols))
    scored = answers[~has_item & answers["topic_id"].notna()]
    frame = pd.concat([per_item, scored], ignore_index=True)
    exp = np.concatenate(
        [
            expected[rows],
            expected[np.flatnonzero(~has_item)][answers[~has_item]["topic_id"].notna().to_numpy()],
        ]
    )
    return frame, exp


def _ratings(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per class, teacher and staff member: ratings, raw and leniency-corrected mean score."""
    cols = ["class_id", "role", "person_id", "ratings", "raw_mean", "corrected_mean"]
    lenient = rater_leniency(tables)
    parts = []
    cr = tables["course_ratings"]
    cr = cr[cr["class_id"].notna() & cr["teacher_id"].notna() & cr["teacher_score"].notna()]
    if len(cr):
        parts.append(
            pd.DataFrame(
                {
                    "class_id": cr["class_id"].to_numpy(),
                    "role": "teacher",
                    "person_id": cr["teacher_id"].to_numpy(),
                    "score": cr["teacher_score"].to_numpy(float),
                    "cadre_id": cr["cadre_id"].to_numpy(),
                }
            )
        )
    sr = tables["staff_ratings"]
    sr = sr[sr["class_id"].notna()]
    if len(sr):
        parts.append(
            pd.DataFrame(
                {
                    "class_id": sr["class_id"].to_numpy(),
                    "role": "staff",
                    "person_id": sr["staff_id"].to_numpy(),
                    "score": sr["score"].to_numpy(float),
                    "cadre_id": sr["cadre_id"].to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    r = pd.concat(parts, ignore_index=True)
    r["corrected"] = r["score"] - lenient.reindex(r["cadre_id"]).fillna(0.0).to_numpy()
    g = r.groupby(["class_id", "role", "person_id"])
    out = pd.DataFrame(
        {
            "ratings": g.size(),
            "raw_mean": g["score"].mean(),
            "corrected_mean": g["corrected"].mean(),
        }
    ).reset_index()
    out["corrected_mean"] = out["corrected_mean"].clip(1.0, 5.0)
    return out[cols]


def build_class_table(tables: dict[str, pd.DataFrame], cat, knowledge) -> ClassTable:
    """The evaluation table of every class with exams (see :class:`ClassTable`).

    Parameters
    ----------
    tables : dict of str to DataFrame
        The raw tables the bundle was fitted on (classes, class_topics, class_sessions, courses,
        cadres, responses, optional exam_scores, course_ratings, staff_ratings, course_topics).
    cat : Catalog
        The bundle's catalogue.
    knowledge : KnowledgeState
        The fitted diagnosis model (its expected probabilities read every answer).
    """
    answers = class_exam_answers(tables)
    expected = _expected(answers, cat, knowledge)
    members = member_gains(answers, expected)
    raw = answers.assign(points=answers["correct"] * answers["weight"])
    shares = raw.groupby(["class_id", "cadre_id", "phase"])[["points", "weight"]].sum()
    share = (shares["points"] / shares["weight"]).unstack("phase")
    if len(members):
        key = pd.MultiIndex.from_frame(members[["class_id", "cadre_id"]])
        members.insert(2, "pre", share.reindex(key)[0].to_numpy())
        members.insert(3, "post", share.reindex(key)[1].to_numpy())
    frame, exp = _by_topic(answers, expected, cat)
    topics = topic_gains(frame, exp)
    effects = (
        class_effects(members)
        if len(members)
        else pd.DataFrame(columns=["class_id", "gain", "gain_se", "pre_residual", "measured"])
    )
    rank = pd.Series(
        rank_levels(tables["cadres"]["rank"].to_numpy()), index=tables["cadres"]["cadre_id"]
    )
    lvl = members.assign(level=rank.reindex(members["cadre_id"]).to_numpy())
    effects["rank_level"] = (
        lvl.groupby("class_id")["level"].mean().reindex(effects["class_id"]).to_numpy()
    )
    effects["hours"] = class_hours(tables).reindex(effects["class_id"]).to_numpy(float)
    ct = tables["class_topics"]
    n_topics = ct[ct["weight"] > 0].groupby("class_id").size()
    effects["n_topics"] = n_topics.reindex(effects["class_id"]).fillna(0).to_numpy(float)
    totals = answers.groupby("class_id")["item_id"].apply(lambda s: bool(s.isna().all()))
    effects["total_scores"] = totals.reindex(effects["class_id"]).fillna(False).to_numpy(bool)
    classes = (
        value_added(effects)
        if len(effects) >= 2
        else effects.assign(expected_gain=np.nan, value_added=np.nan, percentile=np.nan)
    )
    for name in ("pre", "post", "pre_residual", "post_residual", "gain"):
        if name in members:
            members[name] = members[name].astype(np.float32)
    return ClassTable(
        members=members.reset_index(drop=True),
        topics=topics,
        classes=classes.reset_index(drop=True),
        ratings=_ratings(tables),
    )
