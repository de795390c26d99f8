import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from ganxun.models.knowledge import ExposureReserve


def _data(seed=0, n=400, k=3):
    rng = np.random.default_rng(seed)
    hours = rng.gamma(1.0, 20.0, size=(n, k))
    true = 0.3 + 0.5 * (1 - np.exp(-hours / 30))
    total = rng.integers(0, 12, size=(n, k)).astype(float)
    correct = rng.binomial(total.astype(int), true).astype(float)
    return hours, correct, total, true


def test_recovers_the_exposure_curve():
    hours, correct, total, true = _data()
    model = ExposureReserve(hours_scale=30).fit(hours, correct, total)
    assert np.allclose(model.base_, 0.3, atol=0.06)
    assert np.allclose(model.lift_, 0.5, atol=0.1)
    reserve = model.predict(hours, correct, total)
    assert ((reserve >= 0) & (reserve <= 1)).all()
    assert np.corrcoef(reserve.ravel(), true.ravel())[0, 1] > 0.7


def test_confidence_grows_with_answers():
    model = ExposureReserve(prior_strength=5)
    conf = model.confidence(np.array([[0, 5, 50]]))
    assert conf[0, 0] == 0 and conf[0, 1] == 0.5 and conf[0, 2] > 0.9


def test_more_training_means_more_reserve_without_answers():
    hours, correct, total, _ = _data()
    model = ExposureReserve().fit(hours, correct, total)
    zero = np.zeros((1, 3))
    assert (model.predict(zero + 100, zero, zero) > model.predict(zero, zero, zero)).all()


def test_checks_inputs_and_fitted_state():
    with pytest.raises(NotFittedError):
        ExposureReserve().predict(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="one shape"):
        ExposureReserve().fit(np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 2)))
