"""How mastery grows with training: the gain of an exposure and the teacher's effect on it."""

from __future__ import annotations

import numpy as np


def level_fit(level: np.ndarray, m: np.ndarray, params: dict) -> np.ndarray:
    """How well a course level (1–3) suits mastery ``m``: 1 at level ``1 + 2m``, floor far away."""
    floor, width = params["level_fit_floor"], params["level_fit_width"]
    z = (np.asarray(level, dtype=float) - (1.0 + 2.0 * m)) / width
    return floor + (1.0 - floor) * np.exp(-0.5 * z * z)


def gain_rate(m, topic_w, hours_eff, lr, effect, level, params) -> np.ndarray:
    """Exposure rate of a training on each topic; ``m``/``topic_w`` (..., K), others (...,)."""
    scale = np.asarray(lr * hours_eff * effect, dtype=float)[..., None]
    lvl = np.asarray(level, dtype=float)[..., None]
    return scale * level_fit(lvl, m, params) * topic_w


def apply_rate(m: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Mastery after an exposure ``rate``: ``m + (1 - m) * (1 - exp(-rate))`` (rates compose)."""
    return m + (1.0 - m) * -np.expm1(-rate)


def effect_of_rating(rating: np.ndarray, params: dict) -> np.ndarray:
    """Learning-rate multiplier of a teacher rated ``rating``: ``exp(gamma * (rating - 3))``."""
    return np.exp(params["teacher_gamma"] * (np.asarray(rating, dtype=float) - 3.0))


def teacher_effect(truth: dict, expected_rating) -> np.ndarray:
    """Multiplier of the learning rate given a teacher's expected rating for the cohort.

    ``exp(teacher_gamma * (rating - 3))``; the simulator uses it for every course with a teacher
    (for a course without a teacher, ``rating - 3`` is replaced by the course's true quality).

    Parameters
    ----------
    truth : dict
        ``City.truth`` (for ``params``).
    expected_rating : float or array-like
        From :func:`true_teacher_rating`.

    Returns
    -------
    ndarray of float
        The effect, 1 for an average (rating 3) teacher.
    """
    return effect_of_rating(expected_rating, truth["params"])


def expected_gain(
    truth: dict,
    mastery_row: np.ndarray,
    topic_weights: np.ndarray,
    hours: float,
    learning_rate: float,
    teacher_effect: float = 1.0,
    level: int = 2,
) -> float:
    """Expected increase of the sum over topics of mastery from one training.

    Uses the simulator's own gain formula ``m += (1 - m) * (1 - exp(-lr * hours * teacher_effect
    * level_fit(level, m) * weight))``, before the month's forgetting.

    Parameters
    ----------
    truth : dict
        ``City.truth`` (for ``params``).
    mastery_row : ndarray of shape (n_topics,)
        Current mastery of the cadre, in ``truth["topic_ids"]`` order.
    topic_weights : ndarray of shape (n_topics,)
        Topic weights of the training (e.g. a course's ``course_topics``; sum to 1).
    hours : float
        Hours actually followed (course hours times progress).
    learning_rate : float
        The cadre's ``truth["cadres"].learning_rate``.
    teacher_effect : float, default 1.0
        From :func:`teacher_effect`.
    level : int, default 2
        Course level 1–3.

    Returns
    -------
    float
        Sum over topics of the mastery increase.
    """
    m = np.asarray(mastery_row, dtype=float)
    rate = gain_rate(
        m,
        np.asarray(topic_weights, dtype=float),
        hours,
        learning_rate,
        teacher_effect,
        level,
        truth["params"],
    )
    return float(np.sum(apply_rate(m, rate) - m))
