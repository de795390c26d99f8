"""Offline evaluation on a time split, against the synthetic city's truth when it is present."""

from __future__ import annotations

import copy
import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.split import after
from ganxun.models.popularity import PeerPopularity
from ganxun.models.ranking import count_listed, expand_to_groups, top_k
from ganxun.training.fitting import Fitted, exposure_weight, shift_exposure
from ganxun.training.metrics import auc, ranking_metrics, spearman

log = logging.getLogger(__name__)


def _mean_over_item_topics(
    fitted: Fitted, reserve: np.ndarray, ci: np.ndarray, ii: np.ndarray
) -> np.ndarray:
    it = fitted.catalog.item_topics[ii]
    n_topics = np.asarray(it.sum(axis=1)).ravel()
    reserve_sum = np.asarray(it.multiply(reserve[ci]).sum(axis=1)).ravel()
    return reserve_sum / np.maximum(n_topics, 1)


def smoothed_accuracy(correct: np.ndarray, total: np.ndarray, strength: float = 4.0) -> np.ndarray:
    """Each cell's share correct, shrunk by ``strength`` answers to the topic's share correct.

    The baseline a knowledge model must beat: what a careful analyst computes from the answers
    alone (no items' difficulty, no training, no peers).
    """
    topic = correct.sum(axis=0) / np.maximum(total.sum(axis=0), 1.0)
    return (correct + strength * topic[None, :]) / (total + strength)


def evaluate_knowledge(
    fitted: Fitted, future: dict[str, pd.DataFrame], truth: dict | None
) -> dict[str, float]:
    """AUC on answers after the split, model vs the exposure baseline (and the truth's oracle).

    With truth: Spearman of the reserve with true mastery at the split, over cells with exam
    evidence and over cells with exposure only, for the model and for the baseline.
    """
    out: dict[str, float] = {}
    cat, k = fitted.catalog, fitted.knowledge
    resp = future["responses"]
    ci, ii = cat.cadres.index(resp["cadre_id"]), cat.items.index(resp["item_id"])
    keep = (ci >= 0) & (ii >= 0)
    y = resp["correct"].to_numpy()[keep]
    baseline = k.exposure.predict(k.hours, k.correct, k.total)
    out["knowledge.auc"] = auc(y, k.model.predict_proba(ci[keep], ii[keep]))
    out["knowledge.auc_baseline"] = auc(
        y, _mean_over_item_topics(fitted, baseline, ci[keep], ii[keep])
    )
    accuracy = smoothed_accuracy(k.correct, k.total)
    out["knowledge.auc_accuracy"] = auc(
        y, _mean_over_item_topics(fitted, accuracy, ci[keep], ii[keep])
    )
    out["knowledge.test_responses"] = int(keep.sum())
    # As served: each answer predicted from the model at the split plus every completion and
    # answer dated strictly before its day, applied as online updates (knowledge-tracing protocol).
    out["knowledge.auc_online"] = auc(y, online_replay_proba(fitted, future))
    if truth is None or "mastery" not in truth:
        return out
    from ganxun.simulation import p_correct

    months = pd.DatetimeIndex(truth["months"])
    true_m = _truth_matrix(fitted, truth, int(months.searchsorted(fitted.asof)))
    evidence = k.total > 0
    for name, reserve in (("", k.reserve), ("_baseline", baseline), ("_accuracy", accuracy)):
        out[f"knowledge.spearman_evidence{name}"] = spearman(reserve[evidence], true_m[evidence])
        out[f"knowledge.spearman_exposure_only{name}"] = spearman(
            reserve[~evidence], true_m[~evidence]
        )
    truth_ids = pd.Index(np.asarray(truth["cadre_ids"]).astype(str))
    sub = resp[keep]
    # state at the start of the month of the answer, as the simulator draws it
    month_idx = months.searchsorted(sub["answered_on"], side="right") - 1
    p_true = p_correct(
        truth,
        future.get("items"),
        truth_ids.get_indexer(sub["cadre_id"]),
        sub["item_id"].to_numpy(),
        month_idx,
    )
    out["knowledge.auc_oracle"] = auc(y, p_true)
    out["knowledge.auc_share_of_oracle"] = (out["knowledge.auc"] - 0.5) / (
        out["knowledge.auc_oracle"] - 0.5
    )
    out["knowledge.auc_online_share_of_oracle"] = (out["knowledge.auc_online"] - 0.5) / (
        out["knowledge.auc_oracle"] - 0.5
    )
    return out


def online_replay_proba(fitted: Fitted, future: dict[str, pd.DataFrame]) -> np.ndarray:
    """P(correct) of each test answer (known cadre and item) as the online service would give it.

    Starts from a copy of the model fitted at the split and walks the days after it: the day's
    answers are predicted first, then the day's completions (``future["enrollments"]``, dated by
    completion, else enrolment) and answers are applied as the service applies events
    (:func:`ganxun.training.fitting.shift_exposure` and one Newton step per answer). So an answer
    only sees events of earlier days. The fitted model itself is left untouched.
    """
    cat, k = fitted.catalog, fitted.knowledge
    state = replace(k, model=copy.deepcopy(k.model))
    resp = future["responses"]
    ci, ii = cat.cadres.index(resp["cadre_id"]), cat.items.index(resp["item_id"])
    keep = (ci >= 0) & (ii >= 0)
    ci, ii = ci[keep], ii[keep]
    y = resp["correct"].to_numpy(int)[keep]
    answer_day = resp["answered_on"].to_numpy("datetime64[D]")[keep]
    enr = future.get("enrollments")
    if enr is None:
        enr = pd.DataFrame(columns=["cadre_id", "course_id", "enrolled_on", "completed_on"])
    ec, ek = cat.cadres.index(enr["cadre_id"]), cat.courses.index(enr["course_id"])
    ok = (ec >= 0) & (ek >= 0)
    when = pd.to_datetime(enr["completed_on"].fillna(enr["enrolled_on"]))
    enr_day = when.to_numpy("datetime64[D]")[ok]
    credited = (pd.to_numeric(enr["hours"]) * pd.to_numeric(enr["progress"])).to_numpy(float)[ok]
    added = cat.course_topics[ek[ok]].multiply(
        (credited * exposure_weight(k, cat, ek[ok]))[:, None]
    )
    by_cadre_day = (
        pd.DataFrame(np.asarray(added.todense()))
        .assign(day=enr_day, cadre=ec[ok])
        .groupby(["day", "cadre"], sort=True)
        .sum()
    )
    hours: dict[int, np.ndarray] = {}
    p = np.empty(len(y))
    days = np.union1d(answer_day, by_cadre_day.index.get_level_values("day").to_numpy())
    order = np.argsort(answer_day, kind="stable")
    bounds = np.searchsorted(answer_day[order], days)
    completions = {day: frame for day, frame in by_cadre_day.groupby(level="day")}
    model = state.model
    for j, day in enumerate(days):
        today = order[bounds[j] : bounds[j + 1]] if j + 1 < len(days) else order[bounds[j] :]
        if len(today):
            p[today] = model.predict_proba(ci[today], ii[today])
        if day in completions:
            frame = completions[day]
            for cadre, row in zip(
                frame.index.get_level_values("cadre"), frame.to_numpy(float), strict=True
            ):
                old = hours.get(int(cadre), k.hours[cadre].astype(float))
                hours[int(cadre)] = old + row
                shift_exposure(state, int(cadre), old, hours[int(cadre)])
        for a in today:
            model.partial_update(int(ci[a]), int(ii[a]), int(y[a]))
    return p


def _truth_matrix(fitted: Fitted, truth: dict, pos: int) -> np.ndarray:
    """True mastery at month position ``pos`` aligned to the fitted cadre × topic order."""
    truth_cadres = pd.Index(np.asarray(truth["cadre_ids"]).astype(str))
    truth_topics = pd.Index(np.asarray(truth["topic_ids"]).astype(str))
    rows = truth_cadres.get_indexer(fitted.catalog.cadres.ids_)
    cols = truth_topics.get_indexer(fitted.catalog.topics.ids_)
    return np.asarray(truth["mastery"][pos])[np.ix_(rows, cols)]


def evaluate_recommender(
    fitted: Fitted,
    future: dict[str, pd.DataFrame],
    k: int = 10,
    truth: dict | None = None,
    tables_at_split: dict[str, pd.DataFrame] | None = None,
    max_users: int | None = 5000,
) -> dict[str, float]:
    """nDCG@k, Recall@k … of the model, ALS alone, peer and global popularity (and the oracle).

    Relevant items are the courses a cadre chose themselves after the split, among the catalogue
    known at the split and not taken before it, over the whole test window. At most ``max_users``
    cadres (a fixed random sample) are scored, which keeps a city-scale evaluation to seconds. With
    the synthetic city's truth, the oracle ranks by the true choice probabilities summed over the
    months of the window (see :func:`_oracle_lists`).
    """
    cat, rec = fitted.catalog, fitted.recommender
    mandatory = cat.course_info.get("mandatory", pd.Series(False, index=cat.course_info.index))
    mandatory = mandatory.to_numpy(bool)
    e = future["enrollments"]
    e = e[e["source"] == "self"]
    e = e[~e["course_id"].isin(set(cat.courses.ids_[mandatory]))]  # compulsory is never a hit
    ci, ki = cat.cadres.index(e["cadre_id"]), cat.courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    pairs = pd.DataFrame({"c": ci[ok], "k": ki[ok]}).drop_duplicates()
    pairs = pairs[np.asarray(rec.seen[pairs["c"].to_numpy(), pairs["k"].to_numpy()]).ravel() == 0]
    relevant = pairs.groupby("c")["k"].agg(set)
    if max_users is not None and len(relevant) > max_users:  # a fixed random sample of cadres
        relevant = relevant.sample(max_users, random_state=0).sort_index()
    users = relevant.index.to_numpy()
    out: dict[str, float] = {}
    exclude = expand_to_groups(rec.seen[users], cat.course_groups)
    # every list leaves out compulsory courses (the service shows them apart, as due)
    blocked = sp.csr_matrix(exclude + sp.csr_matrix(np.tile(mandatory, (len(users), 1))))
    lists = {
        "model": rec.model.recommend(
            users, rec.seen[users], N=k, exclude=exclude, allowed=~mandatory
        )[0]
    }
    lists["peer_popularity"] = rec.peer.recommend(users, blocked, N=k)[0]
    glob = PeerPopularity(global_weight=0.0).fit(rec.seen, np.zeros(rec.seen.shape[0], int))
    lists["popularity"] = glob.recommend(users, blocked, N=k)[0]
    als = rec.model.retrievers_["als"]
    lists["als"] = top_k(als.score(users, rec.seen[users]), k, blocked)[0]
    if truth is not None and "cadre_prefs" in truth:
        lists["oracle"] = _oracle_lists(fitted, tables_at_split, truth, users, blocked, k, future)
    for model, ids in lists.items():
        for name, m in ranking_metrics(ids, list(relevant), k).items():
            out[f"recommend.{model}.{name}"] = m
        out[f"recommend.{model}.repeats_in_top_k"] = count_listed(ids, exclude)
        out[f"recommend.{model}.mandatory_in_top_k"] = int(mandatory[ids[ids >= 0]].sum())
        if model in ("model", "als"):
            out.update(_by_rank(model, ids, relevant, cat.cadre_info["rank"].to_numpy()[users], k))
        if truth is not None and "mastery" in truth:
            out[f"recommend.{model}.true_gap_share"] = _true_gap_share(fitted, truth, users, ids)
    if tables_at_split is not None:
        out.update(_all_enrolments(fitted, future, tables_at_split, glob, k))
    return out


def _all_enrolments(fitted, future, tables, popularity, k: int) -> dict[str, float]:
    """nDCG@k on *every* future enrolment (compulsory, called, chosen), as the service shows it.

    The service lists the compulsory courses still due first, then its recommendations; the
    baseline lists the same due courses first, then the most popular courses. Relevant: every
    course a cadre enrolled in after the split (any source) that they had not taken before.
    """
    from ganxun.features.obligations import mandatory_due

    cat, rec = fitted.catalog, fitted.recommender
    e = future["enrollments"]
    ci, ki = cat.cadres.index(e["cadre_id"]), cat.courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    pairs = pd.DataFrame({"c": ci[ok], "k": ki[ok]}).drop_duplicates()
    pairs = pairs[np.asarray(rec.seen[pairs["c"].to_numpy(), pairs["k"].to_numpy()]).ravel() == 0]
    relevant = pairs.groupby("c")["k"].agg(set)
    if len(relevant) > 5000:
        relevant = relevant.sample(5000, random_state=0).sort_index()
    users = relevant.index.to_numpy()
    due = mandatory_due(tables, fitted.asof, cat.cadres.ids_[users])
    due = due.sort_values(["cadre_id", "published_on"], kind="stable")
    due_idx = due.assign(k=cat.courses.index(due["course_id"]))
    due_lists = due_idx[due_idx["k"] >= 0].groupby("cadre_id")["k"].agg(list)
    exclude = expand_to_groups(rec.seen[users], cat.course_groups)
    mandatory = cat.course_info["mandatory"].to_numpy(bool)
    tails = {
        "model": rec.model.recommend(
            users, rec.seen[users], N=k, exclude=exclude, allowed=~mandatory
        )[0],
        "compulsory_then_popularity": popularity.recommend(users, exclude, N=k)[0],
    }
    out = {}
    for name, tail in tails.items():
        ids = np.full((len(users), k), -1, np.int64)
        for row, u in enumerate(users):
            first = due_lists.get(cat.cadres.ids_[u], [])[:k]
            merged = (first + [j for j in tail[row] if j >= 0 and j not in first])[:k]
            ids[row, : len(merged)] = merged
        for metric, value in ranking_metrics(ids, list(relevant), k).items():
            out[f"recommend.all_enrolments.{name}.{metric}"] = value
    return out


def _by_rank(
    model: str, ids: np.ndarray, relevant: pd.Series, ranks: np.ndarray, k: int
) -> dict[str, float]:
    """nDCG@k of one list per cadre rank (``recommend.<model>.ndcg@k.rank.<rank>``)."""
    out = {}
    rel = list(relevant)
    for rank in sorted(pd.unique(ranks.astype(str))):
        mask = ranks.astype(str) == rank
        sub = ranking_metrics(ids[mask], [r for r, m in zip(rel, mask, strict=True) if m], k)
        out[f"recommend.{model}.ndcg@{k}.rank.{rank}"] = sub[f"ndcg@{k}"]
    return out


def _oracle_lists(fitted, tables, truth, users, exclude, k, future=None) -> np.ndarray:
    """Top ``k`` by the generator's true choice probabilities over the whole test window.

    For each month from the split to the last enrolment of the test window, the cadre's elective
    utility (state at the split) with the classes open in that month for their rank, turned into
    the simulator's choice probabilities (softmax over the courses offered that month, weighted
    by their chance to be in the consideration set); the oracle ranks by the sum over the months
    (:func:`ganxun.simulation.choice_probabilities`). The labels are the courses chosen over the
    whole window, so the oracle sees every month's classes, as the labels do.
    """
    from ganxun.simulation import choice_probabilities

    cat = fitted.catalog
    start = fitted.asof.to_period("M")
    dates = None if future is None else future.get("enrollments", pd.DataFrame()).get("enrolled_on")
    last = dates.max() if dates is not None and len(dates) else fitted.asof
    months = pd.period_range(start, max(last.to_period("M"), start), freq="M").to_timestamp()
    course_ids, prob = choice_probabilities(
        truth, tables, cat.cadres.ids_[users], months, fitted.asof
    )
    cols = pd.Index(np.asarray(course_ids).astype(str)).get_indexer(cat.courses.ids_)
    scores = np.where(cols >= 0, prob[:, np.maximum(cols, 0)], -np.inf)
    return top_k(scores, k, exclude)[0]


def _true_gap_share(fitted: Fitted, truth: dict, users: np.ndarray, ids: np.ndarray) -> float:
    """Share of listed courses whose main topic is one of the cadre's 3 largest true gaps."""
    cat = fitted.catalog
    months = pd.DatetimeIndex(truth["months"])
    true_m = _truth_matrix(fitted, truth, int(months.searchsorted(fitted.asof)))
    targets = cat.targets[np.maximum(cat.cadre_info["segment"].to_numpy(), 0)]
    top3 = np.argsort(-(targets - true_m)[users], axis=1)[:, :3]
    main = cat.topics.index(cat.course_info["main_topic"])
    hit = (main[np.maximum(ids, 0)][:, :, None] == top3[:, None, :]).any(axis=2) & (ids >= 0)
    return float(hit.sum() / max(1, (ids >= 0).sum()))


def evaluate_quality(fitted: Fitted, truth: dict | None) -> dict[str, float]:
    """Spearman of quality estimates with true course/teacher/staff quality, and of raw means."""
    if truth is None:
        return {}
    cat, q = fitted.catalog, fitted.quality
    out: dict[str, float] = {}
    pairs = (
        ("course", q.course, cat.courses, truth["courses"], "course_id", "quality"),
        ("teacher", q.teacher, cat.teachers, truth["teachers"], "teacher_id", "base"),
        ("staff", q.staff, cat.staff, truth["staff"], "staff_id", "quality"),
    )
    for name, model, vocab, frame, key, col in pairs:
        true = frame.set_index(key)[col].reindex(vocab.ids_).to_numpy(float)
        rated = (model.n_ratings_ > 0) & np.isfinite(true)
        out[f"quality.{name}.spearman"] = spearman(model.quality_[rated], true[rated])
        out[f"quality.{name}.spearman_raw_mean"] = spearman(model.raw_mean_[rated], true[rated])
        out[f"quality.{name}.rated"] = int(rated.sum())
    return out


def evaluate(
    fitted: Fitted, tables: dict[str, pd.DataFrame], truth: dict | None, k: int = 10
) -> dict[str, float]:
    """Every offline metric for models fitted at ``fitted.asof`` on what happened after it."""
    future = after(tables, fitted.asof)
    future["items"] = tables["items"]
    metrics = evaluate_knowledge(fitted, future, truth)
    metrics.update(evaluate_recommender(fitted, future, k, truth, tables))
    metrics.update(evaluate_quality(fitted, truth))
    metrics.update(evaluate_compliance(tables, fitted.asof))
    return metrics


def evaluate_compliance(
    tables: dict[str, pd.DataFrame], asof: pd.Timestamp, months_out=(6, 3)
) -> dict[str, float]:
    """AUC of the hour-rule forecast on the last one-year period that ended before ``asof``.

    The forecaster learns from the periods before that one (as training would have then) and
    forecasts, ``m`` months before the period's end for each ``m`` in ``months_out`` (6 months
    out is mid-period for a one-year rule), who will *not* meet the rule; the pace rule alone
    (:func:`ganxun.models.compliance.pace_only`) is the baseline. Rules already met at the time
    are left out (they are certain). Also returns the calibration of the forecast in five bins
    (``compliance.calibration.<bin>.predicted`` / ``.observed``) at the first horizon.
    """
    from ganxun.features.obligations import (
        forecast_rows,
        forecast_training_rows,
        kind_hours,
        period_window,
        training_rules,
    )
    from ganxun.models.compliance import ComplianceForecaster, pace_only

    start, end = period_window(pd.Timestamp(asof) - pd.DateOffset(years=1), 1)
    if end > asof:
        return {}
    known = before_date(tables, end)
    hours = kind_hours(known)
    final = compliance_at_end(known, end, hours)
    out: dict[str, float] = {}
    learned: dict[tuple, tuple] = {}
    years = sorted(set(training_rules(tables)["period_years"].astype(int)))
    for m in months_out:
        at = end - pd.DateOffset(months=m)
        # the rows come from the windows closed before ``at``: the same for every horizon that
        # falls in the same windows (6 and 3 months out of a one-year period), so built once
        closed = tuple(period_window(at, y)[0] for y in years)
        if closed not in learned:
            learned[closed] = forecast_training_rows(before_date(tables, at), at)
        rows, met = learned[closed]
        model = ComplianceForecaster().fit(rows, met)
        now = forecast_rows(known, at, hours=hours)
        now = now[(now["due"] > 0) & (now["window_end"] == end)]
        label = final.reindex(pd.MultiIndex.from_frame(now[["cadre_id", "rule_id"]]))["met"]
        ok = label.notna().to_numpy()
        if ok.sum() < 20 or label[ok].nunique() < 2:
            continue
        missed = ~label[ok].astype(bool).to_numpy()
        p = model.predict_proba(now[ok])
        out[f"compliance.auc_{m}m"] = auc(missed, 1 - p)
        out[f"compliance.auc_pace_{m}m"] = auc(missed, 1 - pace_only(now[ok]))
        out[f"compliance.rows_{m}m"] = int(ok.sum())
        out[f"compliance.missed_share_{m}m"] = float(missed.mean())
        if m == months_out[0]:
            bins = np.clip((p * 5).astype(int), 0, 4)
            for b in range(5):
                sel = bins == b
                if sel.any():
                    out[f"compliance.calibration.{b}.predicted"] = float(p[sel].mean())
                    out[f"compliance.calibration.{b}.observed"] = float((~missed[sel]).mean())
    return out


def before_date(tables: dict[str, pd.DataFrame], at: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as known just before ``at`` (see :func:`ganxun.features.split.before`)."""
    from ganxun.features.split import before

    return before(tables, at)


def compliance_at_end(tables, end: pd.Timestamp, hours: pd.DataFrame) -> pd.DataFrame:
    """Each (cadre, rule) standing at the last moment of a period ending at ``end``."""
    from ganxun.features.obligations import compliance

    final = compliance(tables, end - pd.Timedelta(seconds=1), hours=hours)
    return final.set_index(["cadre_id", "rule_id"])
