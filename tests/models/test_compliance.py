import numpy as np
import pandas as pd

from ganxun.features.obligations import FORECAST_FEATURES
from ganxun.models.compliance import ComplianceForecaster, pace_only, status


def _rows(n=400, seed=0):
    rng = np.random.default_rng(seed)
    pace = rng.lognormal(0.0, 1.0, n)
    rows = pd.DataFrame({c: rng.random(n) for c in FORECAST_FEATURES})
    rows["pace_ratio"] = pace
    rows["due"] = rng.uniform(1, 90, n)
    met = rng.random(n) < 1 / (1 + np.exp(-3 * np.log(pace)))
    return rows, met


def test_the_forecast_learns_that_pace_decides():
    rows, met = _rows()
    model = ComplianceForecaster().fit(rows, met)
    test, truth = _rows(seed=1)
    p = model.predict_proba(test)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(truth, p) > 0.75
    fast, slow = test.copy(), test.copy()
    fast["pace_ratio"], slow["pace_ratio"] = 3.0, 0.1
    assert (model.predict_proba(fast) > model.predict_proba(slow)).all()


def test_without_past_periods_the_pace_rule_answers_and_met_rows_are_certain():
    rows, _ = _rows(20)
    model = ComplianceForecaster().fit(rows.iloc[:0], [])
    assert model.model_ is None
    rows.loc[0, "due"] = 0.0
    p = model.predict_proba(rows)
    assert p[0] == 1.0
    order = np.argsort(rows["pace_ratio"].to_numpy()[1:])
    assert np.all(np.diff(p[1:][order]) >= 0)
    assert pace_only(rows)[0] == 1.0


def test_status_words():
    got = status(np.array([0.9, 0.2, 0.2]), np.array([0, 10, 10]), "2026-01-01", "2025-06-01")
    assert got.tolist() == ["已达标", "有风险", "有风险"]
    assert status(np.array([0.9]), np.array([5]), "2026-01-01", "2025-06-01")[0] == "进度正常"
    assert status(np.array([0.9]), np.array([5]), "2025-01-01", "2025-06-01")[0] == "已逾期"


def test_with_many_past_standings_the_forecast_is_boosted_and_still_reads_pace():
    rows, met = _rows(3000)
    model = ComplianceForecaster().fit(rows, met)
    assert type(model.model_).__name__ == "LGBMClassifier"
    assert model.features_ == tuple(FORECAST_FEATURES)
    test, truth = _rows(2000, seed=1)
    from sklearn.metrics import roc_auc_score

    p = model.predict_proba(test)
    assert roc_auc_score(truth, p) > 0.75
    assert 0.0 <= p.min() and p.max() <= 1.0
