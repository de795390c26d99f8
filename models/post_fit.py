"""How well a cadre's knowledge reserve meets a post's requirement (选拔任用参考), with its doubt.

The fit of reserve ``m`` (per topic, 0–1) to the requirement ``t`` is the share of the
requirement met: ``1 - sum_k max(0, t_k - m_k) / sum_k t_k``. Every topic the post requires
counts by its target; a reserve above the target on one topic does not make up for a shortfall
on another.

Ranking uses the fit of the estimated reserve. The interval comes from the reserve's
uncertainty: theta (logit reserve) is drawn around its estimate with its standard error, and
the 10th–90th percentiles of the fit over the draws bound it. The mean of those draws is *not*
used to rank: the shortfall is convex in the reserve, so averaging over a wide posterior would
lower every candidate with little evidence — ranking them low for being unknown, which a
selection reference must not do. Thin evidence widens the interval and is marked instead.

Pure functions (no I/O).
"""

from __future__ import annotations

import numpy as np

#: Evidence levels by the requirement-weighted confidence of a candidate's reserve.
THIN_EVIDENCE = 0.25
FULL_EVIDENCE = 0.5


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


def fit_interval(
    reserve: np.ndarray,
    theta_se: np.ndarray,
    targets: np.ndarray,
    n_draws: int = 200,
    quantiles: tuple[float, float] = (0.1, 0.9),
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper quantiles of the fit when each cell's logit reserve is uncertain.

    Parameters
    ----------
    reserve : ndarray (n, k)
        Estimated reserve in (0, 1).
    theta_se : ndarray (n, k)
        Standard error of each cell on the logit scale.
    targets : ndarray (k,)
        The requirement (0–1 per topic).
    n_draws : int
        Draws per candidate (independent normal per cell; common random numbers across
        candidates, so two candidates with the same estimate and error get the same interval).
    quantiles : (float, float)
        The interval's lower and upper quantiles.
    random_state : int
        Seed of the draws.

    Returns
    -------
    (low, high) : ndarrays (n,)
    """
    reserve = np.clip(np.asarray(reserve, dtype=float), 1e-4, 1 - 1e-4)
    se = np.asarray(theta_se, dtype=float)
    targets = np.asarray(targets, dtype=float)
    need = targets > 0
    theta = np.log(reserve / (1 - reserve))[:, need]
    se, t = se[:, need], targets[need]
    z = np.random.default_rng(random_state).standard_normal((n_draws, 1, int(need.sum())))
    low, high = np.empty(len(reserve)), np.empty(len(reserve))
    for lo in range(0, len(reserve), 500):  # bounded memory: 500 × draws × topics at a time
        hi = lo + 500
        m = 1.0 / (1.0 + np.exp(-(theta[None, lo:hi] + se[None, lo:hi] * z)))
        fit = 1.0 - np.maximum(0.0, t - m).sum(axis=-1) / t.sum()
        low[lo:hi], high[lo:hi] = np.quantile(fit, quantiles, axis=0)
    return low, high


def evidence_weight(confidence: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Requirement-weighted mean confidence per row (0: no answer on any required topic)."""
    targets = np.asarray(targets, dtype=float)
    return np.asarray(confidence, dtype=float) @ targets / max(float(targets.sum()), 1e-12)


def evidence_level(weight: np.ndarray) -> np.ndarray:
    """证据充分 / 证据一般 / 证据不足 by :func:`evidence_weight`."""
    weight = np.asarray(weight, dtype=float)
    return np.where(
        weight >= FULL_EVIDENCE,
        "证据充分",
        np.where(weight >= THIN_EVIDENCE, "证据一般", "证据不足"),
    )
