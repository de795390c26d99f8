"""The contract every ranker of the project answers to, run against each of them.

Two shapes of ranker:

* **user → items** (``implicit``'s batch shape): every retriever, the two-stage course recommender
  and peer popularity — ``recommend(userids, user_items, N) -> (ids, scores)``;
* **slot → people** (:class:`ganxun.models.matching.Ranked`): the teacher and staff matchers and the
  rollcall ranker — ``rank(..., k) -> Ranked``.

Each contract: the batch shape and order, nothing seen/ineligible listed, padding of short lists,
a sensible answer for an unknown user, determinism under a seed, and refusal before ``fit``.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ganxun.models.choice_model import ChoiceRetriever, fit_choice_factors
from ganxun.models.matching import Ranked, TeacherMatcher
from ganxun.models.popularity import PeerPopularity
from ganxun.models.ranker import LambdaRanker
from ganxun.models.recommender import TwoStageRecommender
from ganxun.models.retrieval import (
    STAGES,
    ALSRetriever,
    CoVisitRetriever,
    EASERetriever,
    ItemKNNRetriever,
    PopularityRetriever,
    SegmentPopularityRetriever,
)
from ganxun.models.rollcall import ClassRequest, RollcallRanker
from ganxun.models.staff_matching import StaffMatcher
from tests.models.toy_data import checkerboard, order_stamps

# --- user -> items --------------------------------------------------------------------------------

PARITY = np.arange(20) % 2  # the checkerboard's segments: user parity


def _fit(model, ui):
    if isinstance(model, PeerPopularity):
        return model.fit(ui, PARITY)
    if isinstance(model, CoVisitRetriever):
        return model.fit(ui, timestamps=order_stamps(ui))
    if isinstance(model, ChoiceRetriever):  # every interaction a choice, every item always on offer
        users, items = ui.nonzero()
        factors = fit_choice_factors(
            users,
            items,
            np.zeros(len(users)),
            np.zeros(ui.shape[1]),
            ui.shape[0],
            factors=4,
            epochs=60,
            negatives=12,
            batch_size=16,
            learning_rate=0.05,
            random_state=0,
        )
        model.set_params(factors=dict.fromkeys(STAGES, factors))
    return model.fit(ui)


USER_ITEM = {
    "als": lambda: ALSRetriever(factors=8, regularization=0.01, iterations=15, random_state=23),
    "ease": lambda: EASERetriever(l2=1.0),
    "knn": lambda: ItemKNNRetriever(n_neighbors=6, shrink=0.0),
    "covisit": lambda: CoVisitRetriever(window=2),
    "choice": ChoiceRetriever,
    "segment": lambda: SegmentPopularityRetriever(segments=PARITY, global_weight=1.0),
    "popularity": PopularityRetriever,
    "peer_popularity": lambda: PeerPopularity(global_weight=1.0),
    "two_stage": lambda: TwoStageRecommender(
        retrievers=[("ease", EASERetriever(l2=1.0)), ("popularity", PopularityRetriever())],
        ranker=LambdaRanker(n_estimators=20, min_child_samples=2, random_state=0),
        n_candidates=6,
        random_state=0,
    ),
}
#: Rankers that only count popularity cannot learn who likes what.
PERSONAL = sorted(set(USER_ITEM) - {"popularity"})


@pytest.fixture(scope="module")
def user_item_models():
    ui = checkerboard()
    return ui, {name: _fit(make(), ui) for name, make in USER_ITEM.items()}


@pytest.mark.parametrize("name", sorted(USER_ITEM))
def test_batch_shape_and_order(user_item_models, name):
    ui, models = user_item_models
    users = np.array([0, 3, 5])
    ids, scores = models[name].recommend(users, ui[users], N=4)
    assert ids.shape == scores.shape == (3, 4)
    assert ids.dtype.kind == "i"
    assert (np.diff(scores, axis=1) <= 1e-12).all()


@pytest.mark.parametrize("name", sorted(USER_ITEM))
def test_never_returns_seen_items(user_item_models, name):
    ui, models = user_item_models
    users = np.arange(ui.shape[0])
    ids, _ = models[name].recommend(users, ui, N=ui.shape[1])
    for u in users:
        assert set(ids[u][ids[u] >= 0].tolist()).isdisjoint(ui[u].indices.tolist())


@pytest.mark.parametrize("name", sorted(USER_ITEM))
def test_short_lists_are_padded(user_item_models, name):
    ui, models = user_item_models
    ids, scores = models[name].recommend(np.array([0]), ui[[0]], N=ui.shape[1])
    n_free = ui.shape[1] - ui[0].nnz
    assert (ids[0, :n_free] >= 0).all() and len(set(ids[0, :n_free].tolist())) == n_free
    assert (ids[0, n_free:] == -1).all() and np.isneginf(scores[0, n_free:]).all()


@pytest.mark.parametrize("name", PERSONAL)
def test_learns_the_checkerboard(user_item_models, name):
    ui, models = user_item_models
    users = np.arange(ui.shape[0])
    ids, _ = models[name].recommend(users, ui, N=1)
    assert (ids[:, 0] % 2 == users % 2).mean() >= 0.9


@pytest.mark.parametrize("name", sorted(USER_ITEM))
def test_unknown_users_get_a_full_list_of_unseen_items(user_item_models, name):
    ui, models = user_item_models
    n_users, n_items = ui.shape
    rows = ui[[1, 2]]  # two histories under ids the model never saw
    ids, scores = models[name].recommend(np.array([n_users + 3, n_users + 40]), rows, N=3)
    assert ids.shape == (2, 3) and (ids >= 0).all() and (ids < n_items).all()
    assert np.isfinite(scores).all()
    for q in range(2):
        assert set(ids[q].tolist()).isdisjoint(rows[q].indices.tolist())


@pytest.mark.parametrize("name", sorted(USER_ITEM))
def test_deterministic_under_a_seed(user_item_models, name):
    ui, models = user_item_models
    again = _fit(clone(models[name]), ui)
    users = np.arange(ui.shape[0])
    a, b = models[name].recommend(users, ui), again.recommend(users, ui)
    assert np.array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


@pytest.mark.parametrize("name", sorted(USER_ITEM))
def test_unfitted_user_item_rankers_refuse(name):
    ui = checkerboard()
    with pytest.raises(NotFittedError):
        USER_ITEM[name]().recommend(np.array([0]), ui[[0]], N=2)


# --- slot -> people -------------------------------------------------------------------------------

COHORT = {"cohort_size": 30.0, "rank_mean": 2.0, "rank_sd": 0.5}


def _rank_teachers(model, k):
    return model.rank(["TP01", "TP03", "TP07"], COHORT, k=k)


def _rank_staff(model, k):
    cohorts = pd.DataFrame([COHORT, {**COHORT, "rank_mean": 4.0}])
    return model.rank(cohorts, pd.DataFrame([{"TP03": 1.0}, {"TP05": 0.5, "TP01": 0.5}]), k=k)


def _rank_rollcall(model, k):
    requests = [
        ClassRequest({"TP03": 0.7, "TP05": 0.3}, ("副科", "正科"), capacity=10),
        ClassRequest({"TP01": 1.0}, ("副处",), capacity=5, max_recent_hours=80.0),
    ]
    return model.rank(requests, k=k)


SLOT_PEOPLE = {
    "teacher": (TeacherMatcher, _rank_teachers),
    "staff": (StaffMatcher, _rank_staff),
    "rollcall": (RollcallRanker, _rank_rollcall),
}


@pytest.fixture(scope="module")
def slot_models(split):
    T, train, reserve = split
    return {
        name: make(random_state=0).fit(train, reserve, T) for name, (make, _) in SLOT_PEOPLE.items()
    }


@pytest.fixture(params=sorted(SLOT_PEOPLE))
def ranker(request, slot_models):
    return slot_models[request.param], SLOT_PEOPLE[request.param][1]


def test_ranked_shape_order_and_reasons(ranker):
    model, call = ranker
    out = call(model, 5)
    assert isinstance(out, Ranked)
    assert out.ids.shape == out.scores.shape and out.ids.shape[1] == 5
    assert out.ids.dtype == np.int64
    real = out.ids >= 0
    assert (np.diff(np.where(real, out.scores, -1e9), axis=1) <= 1e-12).all()
    assert len(out.reasons) == out.ids.shape[0]
    for q in range(out.ids.shape[0]):
        for j in range(out.ids.shape[1]):
            assert bool(out.reasons[q][j]) == bool(real[q, j])
            assert all(isinstance(r, str) and r for r in out.reasons[q][j])
    labels = out.labels()
    assert (labels[real] == out.vocabulary.lookup(out.ids[real])).all()


def test_long_ranked_lists_are_padded(ranker):
    model, call = ranker
    out = call(model, 100_000)
    pad = out.ids < 0
    assert np.isneginf(out.scores[pad]).all() and np.isfinite(out.scores[~pad]).all()
    for row in out.ids:  # no one twice, padding only at the end
        real = row[row >= 0]
        assert len(set(real.tolist())) == len(real)
        assert (row[len(real) :] == -1).all()


def test_ranked_lists_are_deterministic(ranker, split):
    model, call = ranker
    T, train, reserve = split
    again = clone(model).fit(train, reserve, T)
    a, b = call(model, 5), call(again, 5)
    assert np.array_equal(a.ids, b.ids) and np.allclose(a.scores, b.scores, equal_nan=True)


@pytest.mark.parametrize("name", sorted(SLOT_PEOPLE))
def test_unfitted_slot_rankers_refuse(name):
    make, call = SLOT_PEOPLE[name]
    with pytest.raises(NotFittedError):
        call(make(), 3)
