"""Exposure and evidence features per cadre × topic: decayed training hours and exam answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.vocab import Vocabulary


def course_topic_matrix(
    course_topics: pd.DataFrame, courses: Vocabulary, topics: Vocabulary
) -> sp.csr_matrix:
    """Course × topic weights, each course's row normalised to sum to one.

    Rows of unknown courses or topics are ignored.
    """
    ci = courses.index(course_topics["course_id"])
    ti = topics.index(course_topics["topic_id"])
    ok = (ci >= 0) & (ti >= 0)
    w = course_topics["weight"].to_numpy(float)[ok]
    m = sp.csr_matrix((w, (ci[ok], ti[ok])), shape=(len(courses), len(topics)))
    sums = np.asarray(m.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ m)


def decayed_topic_hours(
    enrollments: pd.DataFrame,
    course_topics: sp.csr_matrix,
    cadres: Vocabulary,
    courses: Vocabulary,
    asof: pd.Timestamp,
    half_life_days: float = 365.0,
) -> np.ndarray:
    """Training hours per cadre × topic, weighted by progress and halved every ``half_life_days``.

    Only enrollments that started before ``asof`` count; the age is measured from the completion
    date when there is one, else from the enrolment date.
    """
    e = enrollments[enrollments["enrolled_on"] < asof]
    ci, ki = cadres.index(e["cadre_id"]), courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    when = e["completed_on"].fillna(e["enrolled_on"]).clip(upper=asof)
    age = (asof - when).dt.days.to_numpy(float)
    w = e["hours"].to_numpy(float) * e["progress"].to_numpy(float) * 0.5 ** (age / half_life_days)
    per_course = sp.csr_matrix((w[ok], (ci[ok], ki[ok])), shape=(len(cadres), len(courses)))
    return np.asarray((per_course @ course_topics).todense())


def item_topic_matrix(
    items: pd.DataFrame, item_vocab: Vocabulary, topics: Vocabulary
) -> sp.csr_matrix:
    """Item × topic incidence (1 where the item tests the topic)."""
    ii, ti = item_vocab.index(items["item_id"]), topics.index(items["topic_id"])
    ok = (ii >= 0) & (ti >= 0)
    m = sp.csr_matrix((np.ones(ok.sum()), (ii[ok], ti[ok])), shape=(len(item_vocab), len(topics)))
    m.data[:] = 1.0
    return m


def topic_answer_counts(
    responses: pd.DataFrame,
    item_topics: sp.csr_matrix,
    cadres: Vocabulary,
    item_vocab: Vocabulary,
    asof: pd.Timestamp | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Correct and total answers per cadre × topic (an item counts for each topic it tests)."""
    r = responses if asof is None else responses[responses["answered_on"] < asof]
    ci, ii = cadres.index(r["cadre_id"]), item_vocab.index(r["item_id"])
    ok = (ci >= 0) & (ii >= 0)
    shape = (len(cadres), len(item_vocab))
    y = r["correct"].to_numpy(float)[ok]
    answered = sp.csr_matrix((np.ones(ok.sum()), (ci[ok], ii[ok])), shape=shape)
    right = sp.csr_matrix((y, (ci[ok], ii[ok])), shape=shape)
    total = np.asarray((answered @ item_topics).todense())
    correct = np.asarray((right @ item_topics).todense())
    return correct, total


def interaction_matrix(
    enrollments: pd.DataFrame,
    cadres: Vocabulary,
    courses: Vocabulary,
    asof: pd.Timestamp | None = None,
) -> sp.csr_matrix:
    """Cadre × course engagement: the largest progress reached on each course (0–1)."""
    e = enrollments if asof is None else enrollments[enrollments["enrolled_on"] < asof]
    ci, ki = cadres.index(e["cadre_id"]), courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    frame = pd.DataFrame({"c": ci[ok], "k": ki[ok], "p": e["progress"].to_numpy(float)[ok]})
    frame = frame.groupby(["c", "k"], as_index=False)["p"].max()
    return sp.csr_matrix(
        (np.maximum(frame["p"].to_numpy(), 1e-3), (frame["c"], frame["k"])),
        shape=(len(cadres), len(courses)),
    )


def topic_hours_at(
    enrollments: pd.DataFrame,
    course_topics: sp.csr_matrix,
    cadres: Vocabulary,
    courses: Vocabulary,
    users: np.ndarray,
    days: pd.Series | np.ndarray,
    half_life_days: float = 365.0,
) -> np.ndarray:
    """Decayed training hours per topic of cadre ``users[j]`` as it stood on ``days[j]``.

    The same hours as :func:`decayed_topic_hours` (hours × progress, halved every
    ``half_life_days``, dated by the completion or else the enrolment), but for many (cadre, date)
    pairs at once and counting only trainings dated strictly before each date: the exposure behind
    an exam answer given that day. Returns an array of shape ``(len(users), n_topics)``.
    """
    users = np.asarray(users, dtype=np.int64)
    at = pd.to_datetime(pd.Series(np.asarray(days))).to_numpy("datetime64[D]").astype(np.int64)
    out = np.zeros((len(users), course_topics.shape[1]))
    if len(users) == 0 or len(enrollments) == 0:
        return out
    ci, ki = cadres.index(enrollments["cadre_id"]), courses.index(enrollments["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    when = enrollments["completed_on"].fillna(enrollments["enrolled_on"])
    day = when.to_numpy("datetime64[D]").astype(np.int64)[ok]
    hours = (enrollments["hours"] * enrollments["progress"]).to_numpy(float)[ok]
    ci, ki = ci[ok].astype(np.int64), ki[ok]
    if len(day) == 0:
        return out
    # hours * 0.5 ** ((t - day) / h) = 0.5 ** ((t - ref) / h) * hours * 0.5 ** ((ref - day) / h):
    # one running sum per cadre, in date order, then a lookup per (cadre, date).
    ref = int(day.max())
    span = int(max(day.max(), at.max()) - min(day.min(), at.min())) + 2
    key = ci * span + (day - day.min())
    order = np.argsort(key, kind="stable")
    key = key[order]
    weight = hours[order] * 0.5 ** ((ref - day[order]) / half_life_days)
    running = np.cumsum(course_topics[ki[order]].multiply(weight[:, None]).toarray(), axis=0)
    running = np.vstack([np.zeros((1, running.shape[1])), running])
    query = users * span + np.clip(at - day.min(), 0, span - 1)
    end = np.searchsorted(key, query, side="left")  # trainings dated strictly before
    start = np.searchsorted(key, users * span, side="left")  # the cadre's first training
    out = running[end] - running[start]
    return out * 0.5 ** ((at - ref) / half_life_days)[:, None]
