"""The choice model: tastes recovered from simulated choices, availability, and its retriever."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import spearmanr

from ganxun.models.choice_model import ChoiceFactors, ChoiceRetriever, fit_choice_factors


def _simulate(n_users=300, n_items=60, per_user=25, dim=3, seed=0):
    """Users choose by softmax over the items published by the day of the choice."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.0, (n_users, dim))
    y = rng.normal(0, 1.0, (n_items, dim))
    bias = rng.normal(0, 0.5, n_items)
    available = np.where(np.arange(n_items) < n_items // 2, 0, rng.integers(0, 100, n_items))
    users, items, days = [], [], []
    for u in range(n_users):
        for t in np.sort(rng.integers(0, 100, per_user)):
            util = x[u] @ y.T + bias + rng.gumbel(size=n_items)
            util[available > t] = -np.inf
            users.append(u)
            items.append(int(np.argmax(util)))
            days.append(int(t))
    return np.array(users), np.array(items), np.array(days), available, x @ y.T


@pytest.fixture(scope="module")
def simulated():
    users, items, days, available, truth = _simulate()
    fitted = fit_choice_factors(
        users,
        items,
        days,
        available,
        n_users=310,
        factors=3,
        epochs=15,
        negatives=30,
        batch_size=128,
        learning_rate=0.05,
        random_state=1,
    )
    return users, items, days, available, truth, fitted


def test_recovers_planted_tastes(simulated):
    users, items, _, _, truth, fitted = simulated
    learned = fitted.taste(np.arange(300))
    rho = np.mean([spearmanr(learned[u], truth[u])[0] for u in range(300)])
    counts = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(300, 60)).toarray()
    counted = np.mean([spearmanr(counts[u], truth[u])[0] for u in range(300)])
    assert rho > 0.7  # measured 0.89; the counts 0.44
    assert rho > counted + 0.1  # better than the raw choice counts of each user


def test_users_without_choices_have_no_taste(simulated):
    *_, fitted = simulated
    assert fitted.user_factors.shape == (310, 3)
    assert not fitted.user_factors[300:].any()
    assert not fitted.taste(np.array([305, 10_000])).any()


def test_an_item_never_on_offer_is_never_pushed_down():
    """Masking: an item published after every choice never competes, so it keeps its bias."""
    users, items, days, available, _ = _simulate(n_users=60, per_user=10)
    available = np.append(available, 10_000)  # a 61st item, published after every choice
    fitted = fit_choice_factors(
        users,
        items,
        days,
        available,
        n_users=60,
        factors=3,
        epochs=3,
        negatives=61,
        batch_size=32,
        random_state=0,
    )
    assert fitted.item_bias[60] == 0.0
    assert (fitted.item_bias[:60] != 0.0).any()


def test_learns_the_weight_of_a_known_context():
    """Half the choices happen while items 0–4 are promoted (+1.5): the weight is learned and
    the promoted items' popularity is not mistaken for their general appeal."""
    rng = np.random.default_rng(3)
    n_users, n_items = 200, 30
    context = np.zeros((2, n_items, 1), np.float32)
    context[1, :5, 0] = 1.0
    users, items, situations = [], [], []
    for u in range(n_users):
        for _ in range(20):
            s = int(rng.integers(0, 2))
            util = 1.5 * context[s, :, 0] + rng.gumbel(size=n_items)
            users.append(u)
            items.append(int(np.argmax(util)))
            situations.append(s)
    fitted = fit_choice_factors(
        users,
        items,
        np.zeros(len(users)),
        np.zeros(n_items),
        n_users=n_users,
        factors=2,
        epochs=10,
        negatives=30,
        batch_size=128,
        learning_rate=0.05,
        random_state=0,
        context_features=context,
        contexts=situations,
    )
    assert 1.0 < fitted.context_weights[0] < 2.0
    assert abs(fitted.item_bias[:5].mean() - fitted.item_bias[5:].mean()) < 0.3


def test_deterministic_under_a_seed():
    users, items, days, available, _ = _simulate(n_users=40, per_user=8)
    a, b = (
        fit_choice_factors(users, items, days, available, n_users=40, epochs=2, random_state=7)
        for _ in range(2)
    )
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_bias, b.item_bias)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": [0, 1], "items": [0], "days": [0, 0]}, "one entry per choice"),
        ({"users": [0, 5], "items": [0, 1], "days": [0, 0]}, "user indices"),
        ({"users": [0, 1], "items": [0, 9], "days": [0, 0]}, "item indices"),
        ({"users": [0], "items": [0], "days": [0], "contexts": [0]}, "go together"),
        (
            {
                "users": [0],
                "items": [0],
                "days": [0],
                "contexts": [2],
                "context_features": np.zeros((2, 3, 1)),
            },
            "contexts must lie",
        ),
    ],
)
def test_bad_choices_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_choice_factors(available_from=[0, 0, 0], n_users=2, **kwargs)


def _factors(n_users, n_items, value):
    return ChoiceFactors(
        np.full((n_users, 2), value, np.float32),
        np.eye(n_items, 2, dtype=np.float32),
        np.zeros(n_items, np.float32),
    )


def test_retriever_serves_the_stage_it_was_fitted_for():
    ui = sp.csr_matrix(np.eye(3, 4))
    stages = {"fit": _factors(3, 4, 1.0), "recommend": _factors(3, 4, 2.0)}
    fit_scores = ChoiceRetriever(stages).fit(ui, stage="fit").score(np.array([0]))
    serve_scores = ChoiceRetriever(stages).fit(ui).score(np.array([0, 7]))
    np.testing.assert_allclose(fit_scores, [[1.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(serve_scores, [[2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])


def test_retriever_refuses_factors_of_another_catalogue():
    with pytest.raises(ValueError, match="cover 5 items"):
        ChoiceRetriever({"recommend": _factors(3, 5, 1.0)}).fit(sp.csr_matrix((3, 4)))
    with pytest.raises(ValueError, match="stage"):
        ChoiceRetriever({"recommend": _factors(3, 4, 1.0)}).fit(sp.csr_matrix((3, 4)), stage="x")
