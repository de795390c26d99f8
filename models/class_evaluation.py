"""Post-training evaluation (训后评价): what a class taught, fairly compared with its peers.

Raw pre/post means are not comparable across classes: each class's exams draw other items, and a
post-exam easier than the pre-exam looks like learning. :func:`member_gains` reads every answer
against the diagnosis model's expected probability for that cadre on that item (which knows the
item's difficulty and guessing floor): a member's *gain* is the mean residual on the post-exam
minus the mean residual on the pre-exam, on the scale of the share correct. Exams kept only as
totals give the change of score share instead (the items are unknown; the row says so).

:func:`class_effects` averages the members' gains per class (with a standard error) and
:func:`value_added` compares each class with classes of similar cohorts and size: a ridge
regression of the class gain on the cohort's pre-exam standing, its mean rank level, the class
hours and the number of topics, over every class measured; the value added is the class's gain
minus what similar classes gained.

Pure functions of arrays and frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Cohort columns :func:`value_added` adjusts for.
ADJUST_FOR: tuple[str, ...] = ("pre_residual", "rank_level", "hours", "n_topics")


def member_gains(answers: pd.DataFrame, expected: np.ndarray) -> pd.DataFrame:
    """Difficulty-adjusted pre→post gain per (class, cadre).

    Parameters
    ----------
    answers : DataFrame
        class_id, cadre_id, phase (0 pre, 1 post), correct (0/1 or a score share), weight
        (answers each row stands for; 1 for an item answer).
    expected : ndarray of shape (len(answers),)
        The model's P(correct) of each answer (for total scores: the same for every row of an
        exam, e.g. its mean, or NaN to compare raw shares).

    Returns
    -------
    DataFrame
        class_id, cadre_id, pre_residual, post_residual, gain, n_pre, n_post.
    """
    a = answers.assign(
        resid=(answers["correct"].astype(float) - np.nan_to_num(np.asarray(expected, float)))
        * answers["weight"],
    )
    g = a.groupby(["class_id", "cadre_id", "phase"])[["resid", "weight"]].sum().unstack("phase")
    if g.empty or ("weight", 0) not in g or ("weight", 1) not in g:
        cols = ["class_id", "cadre_id", "pre_residual", "post_residual", "gain", "n_pre", "n_post"]
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    g = g.dropna()
    out = pd.DataFrame(
        {
            "pre_residual": g[("resid", 0)] / g[("weight", 0)],
            "post_residual": g[("resid", 1)] / g[("weight", 1)],
            "n_pre": g[("weight", 0)],
            "n_post": g[("weight", 1)],
        }
    )
    out["gain"] = out["post_residual"] - out["pre_residual"]
    return out.reset_index()


def class_effects(gains: pd.DataFrame) -> pd.DataFrame:
    """Mean member gain per class with its standard error and the members measured."""
    g = gains.groupby("class_id")
    out = pd.DataFrame(
        {
            "gain": g["gain"].mean(),
            "gain_se": g["gain"].std(ddof=1) / np.sqrt(g.size()),
            "pre_residual": g["pre_residual"].mean(),
            "measured": g.size(),
        }
    )
    return out.reset_index()


def value_added(effects: pd.DataFrame, l2: float = 1.0) -> pd.DataFrame:
    """Each class's gain minus what classes of similar cohorts gained.

    ``effects`` carries :data:`ADJUST_FOR` besides ``gain``; a ridge regression (standardised
    inputs, penalty ``l2``, weighted by members measured) over all classes gives the expected
    gain; ``value_added`` is the difference and ``percentile`` its rank among the classes.
    """
    e = effects.copy()
    x = e[list(ADJUST_FOR)].astype(float)
    x = (x - x.mean()) / x.std(ddof=0).replace(0.0, 1.0)
    x = x.fillna(0.0).to_numpy()
    y = e["gain"].to_numpy(float)
    w = e["measured"].to_numpy(float) if "measured" in e else np.ones(len(e))
    X = np.column_stack([np.ones(len(e)), x])
    penalty = l2 * np.eye(X.shape[1])
    penalty[0, 0] = 0.0
    beta = np.linalg.solve(X.T @ (X * w[:, None]) + penalty, X.T @ (w * y)) if len(e) else None
    e["expected_gain"] = X @ beta if beta is not None else np.nan
    e["value_added"] = e["gain"] - e["expected_gain"]
    e["percentile"] = e["value_added"].rank(pct=True)
    return e


def topic_gains(answers: pd.DataFrame, expected: np.ndarray) -> pd.DataFrame:
    """Difficulty-adjusted pre→post gain per (class, topic): :func:`member_gains` by topic.

    ``answers`` carries ``topic_id`` besides the :func:`member_gains` columns (an answer to an
    item on two topics is one row per topic). Returns class_id, topic_id, gain, gain_se,
    measured (members with a pre and a post answer on the topic).
    """
    cols = ["class_id", "topic_id", "gain", "gain_se", "measured"]
    a = answers[answers["topic_id"].notna()]
    if a.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    keep = answers["topic_id"].notna().to_numpy()
    key = a["class_id"].astype(str) + "\x1f" + a["topic_id"].astype(str)
    gains = member_gains(a.assign(class_id=key.to_numpy()), np.asarray(expected)[keep])
    if gains.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    eff = class_effects(gains)
    parts = eff["class_id"].str.split("\x1f", n=1, expand=True)
    eff["class_id"], eff["topic_id"] = parts[0], parts[1]
    return eff[cols].reset_index(drop=True)


def peer_comparison(topics: pd.DataFrame, class_id: str) -> pd.DataFrame:
    """One class's gain per topic beside the classes that taught the same topic.

    Returns topic_id, gain, gain_se, measured, peer_mean (mean gain of the other classes on the
    topic, weighted by members measured), peer_classes, percentile (share of those classes the
    class gained more than; NaN without peers).
    """
    mine = topics[topics["class_id"] == class_id]
    rows = []
    for r in mine.itertuples():
        others = topics[(topics["topic_id"] == r.topic_id) & (topics["class_id"] != class_id)]
        w = others["measured"].to_numpy(float)
        peer = float(np.average(others["gain"], weights=w)) if w.sum() > 0 else np.nan
        pct = float((others["gain"] < r.gain).mean()) if len(others) else np.nan
        rows.append(
            {
                "topic_id": r.topic_id,
                "gain": float(r.gain),
                "gain_se": float(r.gain_se),
                "measured": int(r.measured),
                "peer_mean": peer,
                "peer_classes": len(others),
                "percentile": pct,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "topic_id",
            "gain",
            "gain_se",
            "measured",
            "peer_mean",
            "peer_classes",
            "percentile",
        ],
    )
