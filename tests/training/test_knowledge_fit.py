"""The knowledge-reserve fit at a split: exposure over time, groups, online replay."""

import copy
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ganxun.features.contracts import validate
from ganxun.features.exposure import decayed_topic_hours, topic_hours_at
from ganxun.features.split import after, before, default_split_date
from ganxun.training.config import KnowledgeConfig
from ganxun.training.evaluate import evaluate_knowledge, online_replay_proba
from ganxun.training.fitting import Fitted, build_catalog, fit_knowledge, shift_exposure


@pytest.fixture(scope="module")
def at_split(tiny_city):
    tables = validate(tiny_city.tables).tables
    split = default_split_date(tables, 6)
    past = before(tables, split)
    cat = build_catalog(past)
    knowledge = fit_knowledge(past, cat, split, KnowledgeConfig())
    fitted = Fitted(split, cat, knowledge, recommender=None, quality=None, layout=None)
    future = after(tables, split)
    future["items"] = tables["items"]
    return tables, past, fitted, future


def test_hours_at_a_date_count_only_earlier_training(at_split):
    _, past, fitted, _ = at_split
    cat, e = fitted.catalog, past["enrollments"]
    n = len(cat.cadres)
    day = pd.Series(np.full(n, fitted.asof))
    when = e["completed_on"].fillna(e["enrolled_on"])
    done = e[when < fitted.asof]
    expected = decayed_topic_hours(done, cat.course_topics, cat.cadres, cat.courses, fitted.asof)
    got = topic_hours_at(e, cat.course_topics, cat.cadres, cat.courses, np.arange(n), day)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    # on the day of a cadre's first training, nothing counts yet; the day after, it does
    first = done.assign(when=when).sort_values("when").iloc[0]
    c = cat.cadres.index(pd.Series([first["cadre_id"]]))
    on = topic_hours_at(e, cat.course_topics, cat.cadres, cat.courses, c, [first["when"]])
    later = topic_hours_at(
        e, cat.course_topics, cat.cadres, cat.courses, c, [first["when"] + pd.Timedelta(days=1)]
    )
    assert on.sum() == 0 and later.sum() > 0


def test_reserve_uses_groups_and_a_learned_exposure_effect(at_split):
    _, _, fitted, _ = at_split
    model = fitted.knowledge.model
    assert len(model.group_effects_) == 3  # unit, category, rank
    assert model.covariate_coef_[0] > 0  # more training, more mastery
    # cadres with the same hours and no answers still differ by their unit / category / rank
    silent = np.flatnonzero(fitted.knowledge.total.sum(axis=1) == 0)
    assert len(silent) > 10  # the tiny city has cadres who never answered
    unit = fitted.catalog.cadre_unit[silent]
    reserve = fitted.knowledge.reserve[silent]
    effect = model.group_effects_[0][unit]  # their unit's effect is part of their reserve
    assert np.ptp(effect, axis=0).max() > 0
    assert np.corrcoef(effect.ravel(), np.log(reserve / (1 - reserve)).ravel())[0, 1] > 0


def test_a_completion_moves_the_reserve_by_the_learned_effect(at_split):
    _, _, fitted, _ = at_split
    k = fitted.knowledge
    state = replace(k, model=copy.deepcopy(k.model))
    before_row = state.model.mastery([0])[0]
    old = k.hours[0].astype(float)
    new = old + 20.0 * fitted.catalog.course_topics[0].toarray().ravel()
    shift_exposure(state, 0, old, new)
    after_row = state.model.mastery([0])[0]
    moved = np.flatnonzero(new > old)
    assert (after_row[moved] > before_row[moved]).all()
    np.testing.assert_array_equal(np.delete(after_row, moved), np.delete(before_row, moved))


def test_online_replay_sees_only_earlier_days_and_leaves_the_model_alone(at_split):
    _, _, fitted, future = at_split
    theta = fitted.knowledge.model.theta_.copy()
    p = online_replay_proba(fitted, future)
    np.testing.assert_array_equal(fitted.knowledge.model.theta_, theta)
    resp = future["responses"]
    cat = fitted.catalog
    ci, ii = cat.cadres.index(resp["cadre_id"]), cat.items.index(resp["item_id"])
    keep = (ci >= 0) & (ii >= 0)
    assert len(p) == keep.sum() and ((p > 0) & (p < 1)).all()
    # the first day's answers have nothing earlier to learn from: the static predictions
    days = resp["answered_on"].to_numpy()[keep]
    first = days == days.min()
    static = fitted.knowledge.model.predict_proba(ci[keep][first], ii[keep][first])
    np.testing.assert_allclose(p[first], static)
    # later answers of cadres who answered before differ from the static ones
    assert not np.allclose(
        p[~first], fitted.knowledge.model.predict_proba(ci[keep], ii[keep])[~first]
    )


def test_evaluation_reports_static_and_online_auc(at_split, tiny_city):
    _, _, fitted, future = at_split
    m = evaluate_knowledge(fitted, future, tiny_city.truth)
    for key in ("knowledge.auc", "knowledge.auc_online", "knowledge.auc_online_share_of_oracle"):
        assert 0 < m[key] <= 1.5
    assert m["knowledge.auc"] > m["knowledge.auc_baseline"]
