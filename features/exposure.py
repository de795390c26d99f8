"""Exposure and evidence features per cadre × topic: decayed training hours and exam answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.vocab import Vocabulary

#: Optional column of an enrolments frame: the hours its learning counts for (see
#: :func:`with_exposure_hours`); without it, exposure is ``hours * progress``.
EXPOSURE_HOURS = "exposure_hours"
#: Course modes whose hours are online study.
ONLINE_MODES: tuple[str, ...] = ("网络", "移动")


def with_exposure_hours(
    enrollments: pd.DataFrame,
    courses: pd.DataFrame,
    online_weight: float = 1.0,
    mandatory_weight: float = 1.0,
) -> pd.DataFrame:
    """Enrolments with :data:`EXPOSURE_HOURS`: credited hours weighted by what they teach.

    Credited hours are not learning: a year-end rush of online hours is credited in full and
    taught little. ``hours * progress`` is weighted by ``online_weight`` for online courses and
    by ``mandatory_weight`` for compulsory enrolments (both chosen on validation answers, see
    docs/BENCHMARKS.md); 1 and 1 count every hour alike.
    """
    mode = enrollments["course_id"].map(courses.set_index("course_id")["mode"])
    weight = np.where(mode.isin(ONLINE_MODES).to_numpy(), online_weight, 1.0)
    weight = weight * np.where(
        (enrollments["source"] == "mandatory").to_numpy(), mandatory_weight, 1.0
    )
    out = enrollments.copy()
    out[EXPOSURE_HOURS] = (
        enrollments["hours"].to_numpy(float) * enrollments["progress"].to_numpy(float) * weight
    )
    return out


def _exposure(enrollments: pd.DataFrame) -> pd.Series:
    if EXPOSURE_HOURS in enrollments:
        return enrollments[EXPOSURE_HOURS]
    return enrollments["hours"] * enrollments["progress"]


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

    The hours are :data:`EXPOSURE_HOURS` when the frame has them.

    Only enrollments that started before ``asof`` count; the age is measured from the completion
    date when there is one, else from the enrolment date.
    """
    e = enrollments[enrollments["enrolled_on"] < asof]
    ci, ki = cadres.index(e["cadre_id"]), courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    when = e["completed_on"].fillna(e["enrolled_on"]).clip(upper=asof)
    age = (asof - when).dt.days.to_numpy(float)
    w = _exposure(e).to_numpy(float) * 0.5 ** (age / half_life_days)
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
    hours = _exposure(enrollments).to_numpy(float)[ok]
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


def total_score_answers(
    exam_scores: pd.DataFrame | None,
    class_topics: pd.DataFrame,
    topics: Vocabulary,
    n_answers: float,
) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """Exams kept only as totals, as weighted answers to one pseudo-item per exam and topic set.

    A score ``s`` out of ``m`` is ``n_answers * s / m`` correct and ``n_answers * (1 - s / m)``
    wrong answers to the exam's pseudo-item (a binomial likelihood: the cadres who sat the same
    exam share its difficulty). The pseudo-item tests the row's ``topic_id``, else the topics
    of its class (``class_topics``); a row with neither cannot be placed and is left out.

    Returns
    -------
    answers : DataFrame
        cadre_id, item (0-based pseudo-item), answered_on, correct (0/1), weight.
    topics_of_items : csr_matrix of shape (n_pseudo_items, n_topics)
        Incidence of each pseudo-item's topics.
    """
    cols = ["cadre_id", "item", "answered_on", "correct", "weight"]
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    if exam_scores is None or exam_scores.empty:
        return empty, sp.csr_matrix((0, len(topics)))
    x = exam_scores.reset_index(drop=True)
    own = x["topic_id"].notna()
    by_class = (
        class_topics[class_topics["weight"] > 0]
        .groupby("class_id")["topic_id"]
        .agg(lambda t: "|".join(sorted(t)))
    )
    topic_key = x["topic_id"].where(own, x["class_id"].map(by_class))
    x = x[topic_key.notna()].assign(topic_key=topic_key[topic_key.notna()])
    if x.empty:
        return empty, sp.csr_matrix((0, len(topics)))
    codes, keys = pd.factorize(x["exam_id"].astype(str) + "#" + x["topic_key"])
    rows, cols_ = [], []
    for j, key in enumerate(keys):
        for t in key.split("#", 1)[1].split("|"):
            k = topics.one(t)
            if k >= 0:
                rows.append(j)
                cols_.append(k)
    q = sp.csr_matrix((np.ones(len(rows)), (rows, cols_)), shape=(len(keys), len(topics)))
    q.data[:] = 1.0
    share = (x["score"] / x["max_score"]).clip(0.0, 1.0).to_numpy(float)
    base = {
        "cadre_id": x["cadre_id"].to_numpy(),
        "item": codes,
        "answered_on": x["taken_on"].to_numpy(),
    }
    answers = pd.concat(
        [
            pd.DataFrame({**base, "correct": 1, "weight": n_answers * share}),
            pd.DataFrame({**base, "correct": 0, "weight": n_answers * (1.0 - share)}),
        ],
        ignore_index=True,
    )
    return answers[answers["weight"] > 0][cols], q
