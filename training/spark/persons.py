"""Per-cadre knowledge given the item parameters: the diagnosis model's person step, in batches.

The diagnosis model (:class:`ganxun.models.diagnosis.LogisticDiagnosis`) is a joint MAP fit of
item parameters (difficulty, discrimination), levels, group effects and covariate coefficients
(global: fitted on the driver's sample) and, per cadre, a general ability ``g`` and topic
deviations ``d`` (local: one cadre's answers only). With the global part fixed the objective
separates by cadre, so each batch of cadres is solved on its own (:func:`person_parameters`,
one L-BFGS over the batch) on the executors; at the joint optimum this is the same solution.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit

from ganxun.features.exposure import decayed_topic_hours, topic_hours_at
from ganxun.features.vocab import Vocabulary
from ganxun.models.diagnosis import LogisticDiagnosis, _floor_terms, _information
from ganxun.models.knowledge import ExposureReserve
from ganxun.models.responses import expand_topics, softplus
from ganxun.training.fitting import exposure_logit


def shared_effects(model: LogisticDiagnosis, groups: np.ndarray) -> np.ndarray:
    """Sum of the group × topic effects of each cadre's groups, shape (n, n_topics)."""
    out = np.zeros((len(groups), model.n_topics_))
    for j, effect in enumerate(model.group_effects_):
        level = groups[:, j]
        out[level >= 0] += effect[level[level >= 0]]
    return out


def base_theta(model: LogisticDiagnosis, groups: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Theta of cadres without answers: levels, group effects and covariates (``g = d = 0``)."""
    beta = np.asarray(model.covariate_coef_, dtype=float)
    cov = C @ beta if len(beta) else 0.0
    m = model.topic_level_ - model.global_level_
    return model.global_level_ + m[None, :] + shared_effects(model, groups) + cov


def person_parameters(
    model: LogisticDiagnosis,
    users: np.ndarray,
    items: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    X: np.ndarray,
    C: np.ndarray,
    groups: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Theta, general ability and Fisher information of a batch of cadres, items held fixed.

    Parameters
    ----------
    model : LogisticDiagnosis
        Fitted; its item parameters, levels, group effects and coefficients are used as they are.
    users, items, y, w : ndarray of shape (n_answers,)
        Batch-local cadre index (0 … n-1), item index, correct (0/1), weight of each answer.
    X : ndarray of shape (n_answers, p)
        Covariates of each answer when given (as in ``LogisticDiagnosis.fit``).
    C : ndarray of shape (n, n_topics, p)
        Covariates of each cadre at the cut-off.
    groups : ndarray of shape (n, n_groupings)
        Group index of each cadre in each grouping (``-1``: none).

    Returns
    -------
    theta : ndarray (n, n_topics); ability : ndarray (n,); fisher : ndarray (n, n_topics)
    """
    n, n_topics = len(C), model.n_topics_
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    y, w = np.asarray(y, float), np.asarray(w, float)
    shared = shared_effects(model, groups)
    theta0 = base_theta(model, groups, C)
    beta = np.asarray(model.covariate_coef_, dtype=float)
    m = model.topic_level_ - model.global_level_
    rows, topics, qw = expand_topics(model.Q_, items)
    k = len(items)
    offset = (
        np.bincount(rows, weights=qw * (m[topics] + shared[users[rows], topics]), minlength=k)
        + model.global_level_
        - model.item_difficulty_[items]
        + (X @ beta if len(beta) else 0.0)
    )
    cells, cell = np.unique(users[rows] * n_topics + topics, return_inverse=True)
    design = sp.csr_matrix(
        (
            np.concatenate([np.ones(k), qw]),
            (np.concatenate([np.arange(k), rows]), np.concatenate([users, n + cell])),
        ),
        shape=(k, n + len(cells)),
    )
    design_t = design.T.tocsr()
    a = model.item_discrimination_[items]
    penalty = np.concatenate([np.full(n, model.l2_user), np.full(len(cells), model.l2_theta)])
    scale = 1.0 / np.sqrt(0.2 * (design.multiply(design).T @ w) + penalty + 1e-3)
    guess = float(model.guessing)
    gamma = float(np.log(guess / (1.0 - guess))) if guess > 0 else 0.0

    def objective(v):
        x = v * scale
        eta = a * (design @ x + offset)
        if guess > 0:
            nll, e = _floor_terms(eta, y, w, gamma)
        else:
            nll = np.dot(w, softplus(eta) - y * eta)
            e = w * (expit(eta) - y)
        grad = design_t @ (e * a) + penalty * x
        return nll + 0.5 * np.dot(penalty * x, x), grad * scale

    x0 = np.zeros(n + len(cells))
    if k:
        result = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 10 * model.max_iter, "ftol": model.tol, "gtol": 1e-7},
        )
        x0 = result.x * scale
    ability, d = x0[:n], x0[n:]
    theta = theta0 + ability[:, None]
    theta.reshape(-1)[cells] += d
    view = copy.copy(model)
    view.theta_, view.user_ability_, view.n_users_ = theta, ability, n
    info = w * a * a * _information(expit(view._logit(users, items)), model.item_guessing_[items])
    fisher = np.bincount(
        users[rows] * n_topics + topics, weights=info[rows] * qw * qw, minlength=n * n_topics
    ).reshape(n, n_topics)
    return theta, ability, fisher


@dataclass
class PersonInputs:
    """What every batch needs, broadcast once: the global model part and static matrices."""

    model: LogisticDiagnosis  # item parameters; per-cadre arrays stripped
    exposure: ExposureReserve
    course_topics: sp.csr_matrix
    item_topics: sp.csr_matrix  # with pseudo-items of total-score exams
    groups: np.ndarray  # (n_cadres, n_groupings)
    asof: pd.Timestamp
    half_life_days: float
    response_half_life_days: float


def strip(model: LogisticDiagnosis) -> LogisticDiagnosis:
    """A copy of the model without its per-cadre arrays (what executors need)."""
    slim = copy.copy(model)
    slim.theta_ = slim.fisher_ = slim.user_ability_ = None
    return slim


def solve_batch(batch: pd.DataFrame, inputs: PersonInputs) -> pd.DataFrame:
    """One batch of cadres: answers (``kind == 'r'``) and enrolments (``'e'``) of those cadres.

    Columns in: kind, ci (cadre index), a (item or course index), day, day2 (completion day or
    -1; days since 1970), value (correct, or exposure hours), weight. Returns one row per cadre
    with answers: ci, ability, theta (list), fisher (list).
    """
    r = batch[batch["kind"] == "r"]
    e = batch[batch["kind"] == "e"]
    ids = np.unique(r["ci"].to_numpy(np.int64))
    users = np.searchsorted(ids, r["ci"].to_numpy(np.int64))
    cadres = Vocabulary(ids.astype(str))
    n_courses = inputs.course_topics.shape[0]
    courses = Vocabulary(np.arange(n_courses).astype(str))
    epoch = pd.Timestamp("1970-01-01")
    completed = e["day2"].to_numpy(np.int64)
    enrol = pd.DataFrame(
        {
            "cadre_id": e["ci"].astype(np.int64).astype(str).to_numpy(),
            "course_id": e["a"].astype(np.int64).astype(str).to_numpy(),
            "enrolled_on": epoch + pd.to_timedelta(e["day"].to_numpy(np.int64), unit="D"),
            "completed_on": pd.Series(
                np.where(completed >= 0, epoch + pd.to_timedelta(completed, unit="D"), pd.NaT),
                dtype="datetime64[ns]",
            ).to_numpy(),
            "exposure_hours": e["value"].to_numpy(float),
        }
    )
    asof, half = inputs.asof, inputs.half_life_days
    hours = decayed_topic_hours(enrol, inputs.course_topics, cadres, courses, asof, half)
    days = epoch + pd.to_timedelta(r["day"].to_numpy(np.int64), unit="D")
    then = exposure_logit(
        inputs.exposure,
        topic_hours_at(enrol, inputs.course_topics, cadres, courses, users, days, half),
    )
    items = r["a"].to_numpy(np.int64)
    answered = inputs.item_topics[items]
    n_topics = np.maximum(np.asarray(answered.sum(axis=1)).ravel(), 1.0)
    then = np.asarray(answered.multiply(then).sum(axis=1)).ravel() / n_topics
    age = (asof - pd.Series(days)).dt.days.to_numpy(float)
    weight = r["weight"].to_numpy(float) * 0.5 ** (age / inputs.response_half_life_days)
    theta, ability, fisher = person_parameters(
        inputs.model,
        users,
        items,
        r["value"].to_numpy(float),
        weight,
        then[:, None],
        exposure_logit(inputs.exposure, hours)[:, :, None],
        inputs.groups[ids],
    )
    return pd.DataFrame(
        {"ci": ids, "ability": ability, "theta": list(theta), "fisher": list(fisher)}
    )
