"""The contract every ranker answers through (implicit's batch shape), run against each ranker."""

import numpy as np
import pytest
import scipy.sparse as sp

from models.popularity import PeerPopularity


def checkerboard(n_users: int = 20, n_items: int = 12) -> tuple[sp.csr_matrix, np.ndarray]:
    """Even users like even items, odd users odd items; segment = user parity."""
    rows, cols = [], []
    for u in range(n_users):
        for i in range(u % 2, n_items, 2):
            if (u + i) % 3:  # leave some of the own-parity items unseen
                rows.append(u)
                cols.append(i)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    return m, np.arange(n_users) % 2


RANKERS = {
    "peer_popularity": lambda: PeerPopularity(global_weight=1.0),
}


@pytest.fixture(params=sorted(RANKERS))
def fitted(request):
    user_items, segments = checkerboard()
    return RANKERS[request.param]().fit(user_items, segments), user_items


def test_batch_shape(fitted):
    model, ui = fitted
    users = np.array([0, 3, 5])
    ids, scores = model.recommend(users, ui[users], N=4)
    assert ids.shape == scores.shape == (3, 4)
    assert (np.diff(scores, axis=1) <= 1e-12).all()


def test_never_returns_seen_items(fitted):
    model, ui = fitted
    users = np.arange(ui.shape[0])
    ids, _ = model.recommend(users, ui, N=ui.shape[1])
    for u in users:
        returned = set(ids[u][ids[u] >= 0].tolist())
        assert returned.isdisjoint(ui[u].indices.tolist())


def test_short_lists_are_padded(fitted):
    model, ui = fitted
    ids, scores = model.recommend(np.array([0]), ui[[0]], N=ui.shape[1])
    n_free = ui.shape[1] - ui[0].nnz
    assert (ids[0, n_free:] == -1).all() and np.isneginf(scores[0, n_free:]).all()


def test_learns_the_checkerboard(fitted):
    model, ui = fitted
    users = np.arange(ui.shape[0])
    ids, _ = model.recommend(users, ui, N=1)
    assert (ids[:, 0] % 2 == users % 2).mean() >= 0.9


def test_deterministic(fitted):
    model, ui = fitted
    again = type(model)(**model.get_params()).fit(ui, np.arange(ui.shape[0]) % 2)
    users = np.arange(5)
    assert np.array_equal(
        model.recommend(users, ui[users])[0], again.recommend(users, ui[users])[0]
    )
