"""Fixtures shared by the model tests."""

import pandas as pd
import pytest

from ganxun.features.cohorts import ReserveMatrix
from ganxun.features.split import before as split_before
from ganxun.training.config import TrainConfig
from ganxun.training.fitting import fit_all


@pytest.fixture(scope="session")
def split(tiny_city):
    """The tiny city before its split date, and the knowledge reserve fitted on it."""
    T = pd.Timestamp(tiny_city.truth["params"]["split_date"])
    train = split_before(tiny_city.tables, T)
    fitted = fit_all(train, T, TrainConfig())
    reserve = ReserveMatrix(fitted.knowledge.reserve, fitted.catalog.cadres, fitted.catalog.topics)
    return T, train, reserve
