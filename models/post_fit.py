"""How well a cadre's knowledge reserve meets a post's requirement (选拔任用参考), with its doubt.

The fit of reserve ``m`` (per topic, 0–1) to the requirement ``t`` is the share of the
requirement met: ``1 - sum_k max(0, t_k - m_k) / sum_k t_k``. Every topic the post requires
counts by its target; a reserve above the target on one topic does not make up for a shortfall
on another.

Ranking uses :func:`ranking_score`, the fit with a softened shortfall: candidates who meet every
target are not all tied at 1 but ordered by how far above the targets they stand, and among the
others a near-miss counts a little less than a clear shortfall. The interval comes from the
reserve's uncertainty: theta (logit reserve) is drawn around its estimate with its standard error
(a topic part and a general-ability part), and
the 10th–90th percentiles of the fit over the draws bound it. The mean of those draws is *not*
used to rank: the shortfall is convex in the reserve, so averaging over a wide posterior would
lower every candidate with little evidence — ranking them low for being unknown, which a
selection reference must not do. Thin evidence widens the interval and is marked instead.

Pure functions (no I/O).
"""

from __future__ import annotations

import numpy as np

#: Evidence levels by :func:`evidence_weight` (requirement-weighted exam answers on the topics).
THIN_EVIDENCE = 0.25
FULL_EVIDENCE = 0.75


def requirement_fit(reserve: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Share of the requirement met, per row of ``reserve`` (n, k) against ``targets`` (k,).

    Returns values in [0, 1] (1: no shortfall on any required topic).
    """
    reserve = np.asarray(reserve, dtype=float)
    targets = np.asarray(targets, dtype=float)
    total = float(targets.sum())
    if total <= 0:
        raise ValueError("a requirement needs at least one topic target above 0")
    short = np.maximum(0.0, targets - reserve)
    return 1.0 - short.sum(axis=-1) / total


def ranking_score(reserve: np.ndarray, targets: np.ndarray, softness: float = 0.1) -> np.ndarray:
    """:func:`requirement_fit` with softened shortfalls: the ranking score (higher is better).

    Each shortfall ``max(0, t - m)`` becomes ``softness * log(1 + exp((t - m) / softness))``.
    Equal to the fit, up to ``softness * log 2`` per topic, for clear shortfalls; keeps ordering
    candidates above their targets (the fit ties them all at 1).
    """
    reserve = np.asarray(reserve, dtype=float)
    targets = np.asarray(targets, dtype=float)
    total = float(targets.sum())
    if total <= 0:
        raise ValueError("a requirement needs at least one topic target above 0")
    need = targets > 0
    soft = softness * np.logaddexp(0.0, (targets - reserve) / softness)
    return 1.0 - (soft * need).sum(axis=-1) / total


def fit_interval(
    reserve: np.ndarray,
    topic_se: np.ndarray,
    targets: np.ndarray,
    ability_se: np.ndarray | float = 0.0,
    n_draws: int = 200,
    quantiles: tuple[float, float] = (0.1, 0.9),
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper quantiles of the fit when each cadre's logit reserve is uncertain.

    Each draw is ``theta + topic_se * z_topic + ability_se * z_cadre``: an error of its own per
    topic and one shared by all of a cadre's topics (an over- or under-estimated general
    ability moves every topic). Common random numbers across candidates: two candidates with the
    same estimate and errors get the same interval.

    Parameters
    ----------
    reserve : ndarray (n, k)
        Estimated reserve in (0, 1).
    topic_se : ndarray (n, k)
        Standard error of each cell's topic-specific part, on the logit scale.
    targets : ndarray (k,)
        The requirement (0–1 per topic).
    ability_se : ndarray (n,) or float
        Standard error of each cadre's general ability (logit), shared by their topics.
    n_draws : int
        Draws per candidate.
    quantiles : (float, float)
        The interval's lower and upper quantiles.
    random_state : int
        Seed of the draws.

    Returns
    -------
    (low, high) : ndarrays (n,)
    """
    reserve = np.clip(np.asarray(reserve, dtype=float), 1e-4, 1 - 1e-4)
    se = np.asarray(topic_se, dtype=float)
    shared = np.broadcast_to(np.asarray(ability_se, dtype=float), (len(reserve),))
    targets = np.asarray(targets, dtype=float)
    need = targets > 0
    theta = np.log(reserve / (1 - reserve))[:, need]
    se, t = se[:, need], targets[need]
    rng = np.random.default_rng(random_state)
    z_cadre = rng.standard_normal((n_draws, 1, 1))
    z_topic = rng.standard_normal((n_draws, 1, int(need.sum())))
    low, high = np.empty(len(reserve)), np.empty(len(reserve))
    for lo in range(0, len(reserve), 500):  # bounded memory: 500 × draws × topics at a time
        hi = lo + 500
        noise = se[None, lo:hi] * z_topic + shared[None, lo:hi, None] * z_cadre
        m = 1.0 / (1.0 + np.exp(-(theta[None, lo:hi] + noise)))
        fit = 1.0 - np.maximum(0.0, t - m).sum(axis=-1) / t.sum()
        low[lo:hi], high[lo:hi] = np.quantile(fit, quantiles, axis=0)
    return low, high


#: Answers on a topic that count as full evidence for it (see :func:`evidence_weight`).
FULL_ANSWERS = 3


def evidence_weight(answers: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Requirement-weighted evidence per row, in [0, 1].

    Each required topic counts ``min(answers, FULL_ANSWERS) / FULL_ANSWERS`` (0 without an exam
    answer on it), weighted by its target: 0 for a cadre never examined on the post's topics, 1
    for one with at least three answers on each.
    """
    targets = np.asarray(targets, dtype=float)
    cover = np.minimum(np.asarray(answers, dtype=float), FULL_ANSWERS) / FULL_ANSWERS
    return cover @ targets / max(float(targets.sum()), 1e-12)


def evidence_level(weight: np.ndarray) -> np.ndarray:
    """证据充分 / 证据一般 / 证据不足 by :func:`evidence_weight`."""
    weight = np.asarray(weight, dtype=float)
    return np.where(
        weight >= FULL_EVIDENCE,
        "证据充分",
        np.where(weight >= THIN_EVIDENCE, "证据一般", "证据不足"),
    )
