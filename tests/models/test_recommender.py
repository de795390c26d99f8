"""Retrievers, the LambdaRank ranker and the two-stage recommender on small synthetic matrices."""

import numpy as np
import pytest
import scipy.sparse as sp

from ganxun.models.ranker import LambdaRanker, RankerBag
from ganxun.models.recommender import FEATURE_GROUPS, TwoStageRecommender
from ganxun.models.retrieval import (
    ALSRetriever,
    CoVisitRetriever,
    DLAERetriever,
    EASERetriever,
    ItemKNNRetriever,
    PopularityRetriever,
    SegmentPopularityRetriever,
)
from ganxun.training.metrics import ranking_metrics
from tests.models.toy_data import checkerboard, order_stamps


def simulate(n_users=240, n_items=80, n_clusters=4, per_user=16, seed=0):
    """Users pick their ``per_user`` highest-affinity items; affinity = own cluster + popularity +
    an idiosyncratic Gumbel part that no collaborative model can infer from the interactions."""
    rng = np.random.default_rng(seed)
    user_c = rng.integers(n_clusters, size=n_users)
    item_c = np.arange(n_items) % n_clusters
    popularity = np.log(rng.pareto(1.5, n_items) + 1.0)
    affinity = (
        2.0 * (user_c[:, None] == item_c[None, :])
        + 0.7 * popularity[None, :]
        + rng.gumbel(size=(n_users, n_items))
    )
    top = np.argsort(-affinity, axis=1)[:, :per_user]
    rows = np.repeat(np.arange(n_users), per_user)
    x = sp.csr_matrix((np.ones(rows.size), (rows, top.ravel())), shape=(n_users, n_items))
    held = rng.random(x.nnz) < 0.25
    coo = x.tocoo()

    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=x.shape)

    return part(~held), part(held), affinity


def ndcg(model, train, test, **kw):
    users = np.arange(train.shape[0])
    ids, _ = model.recommend(users, train, N=10, **kw)
    return ranking_metrics(ids, [set(test[u].indices) for u in users], 10)["ndcg@10"]


def small_ranker(seed=0):
    return LambdaRanker(
        n_estimators=60, num_leaves=7, min_child_samples=20, learning_rate=0.1, random_state=seed
    )


def small_two_stage(**kw):
    params = dict(
        retrievers=[
            ("ease", EASERetriever(l2=20.0)),
            ("als", ALSRetriever(factors=8, iterations=8, random_state=0)),
            ("knn", ItemKNNRetriever(n_neighbors=20)),
            ("popularity", PopularityRetriever()),
        ],
        ranker=small_ranker(),
        n_candidates=20,
        random_state=0,
    )
    params.update(kw)
    return TwoStageRecommender(**params)


def test_ease_matches_the_closed_form():
    rng = np.random.default_rng(1)
    x = (rng.random((30, 7)) < 0.4).astype(float)
    lam = 3.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(7))
    expected = np.eye(7) - p / np.diag(p)  # B = I - P diagMat(1 / diag(P))
    model = EASERetriever(l2=lam).fit(sp.csr_matrix(x))
    np.testing.assert_allclose(model.coef_, expected, atol=1e-10)
    np.testing.assert_allclose(np.diag(model.coef_), 0.0, atol=1e-12)
    np.testing.assert_allclose(model.score([2, 5]), x[[2, 5]] @ expected, atol=1e-10)


def test_dlae_matches_the_closed_form_and_reduces_to_ridge_and_ease():
    rng = np.random.default_rng(2)
    x = (rng.random((40, 9)) < 0.35).astype(float)
    g = x.T @ x
    lam, p = 2.0, 0.4
    penalty = np.diag(p / (1 - p) * np.diag(g) + lam)
    dlae = DLAERetriever(p=p, l2=lam).fit(sp.csr_matrix(x))
    np.testing.assert_allclose(dlae.coef_, np.linalg.solve(g + penalty, g), atol=1e-10)
    ridge = DLAERetriever(p=0.0, l2=lam).fit(sp.csr_matrix(x))  # no dropout: ridge regression
    np.testing.assert_allclose(ridge.coef_, np.linalg.solve(g + lam * np.eye(9), g), atol=1e-10)
    edlae = DLAERetriever(p=0.0, l2=lam, zero_diagonal=True).fit(sp.csr_matrix(x))
    ease = EASERetriever(l2=lam).fit(sp.csr_matrix(x))
    np.testing.assert_allclose(edlae.coef_, ease.coef_, atol=1e-10)
    emph = DLAERetriever(p=p, l2=lam, zero_diagonal=True).fit(sp.csr_matrix(x))
    inv = np.linalg.inv(g + penalty)
    np.testing.assert_allclose(emph.coef_, np.eye(9) - inv / np.diag(inv), atol=1e-10)
    assert not np.allclose(emph.coef_, ease.coef_, atol=1e-3)  # dropout changes the weights


def test_dlae_scores_and_recommends_unseen_items():
    ui = checkerboard()
    for zero_diagonal in (False, True):
        model = DLAERetriever(p=0.3, l2=1.0, zero_diagonal=zero_diagonal).fit(ui)
        assert model.score([0, 1, 2]).shape == (3, ui.shape[1])
        ids, _ = model.recommend([1], ui[[1]], N=2)
        assert sorted(ids[0].tolist()) == [5, 11]  # the two odd items user 1 has not seen
    with pytest.raises(ValueError, match="p must be"):
        DLAERetriever(p=1.0).fit(ui)
    with pytest.raises(ValueError, match="l2 must be"):
        DLAERetriever(l2=0.0).fit(ui)


def test_unknown_users_are_scored_from_their_rows():
    ui = checkerboard()
    fresh = sp.csr_matrix(ui[[1]])  # user 1's history under an id never seen in fit
    for model in (EASERetriever(l2=1.0).fit(ui), ItemKNNRetriever(n_neighbors=6).fit(ui)):
        ids, _ = model.recommend([ui.shape[0] + 5], fresh, N=2)
        assert sorted(ids[0].tolist()) == [5, 11]  # the two odd items user 1 has not seen
    als = ALSRetriever(factors=8, regularization=0.01, iterations=15, random_state=23).fit(ui)
    solved = als.score([ui.shape[0] + 5], fresh)[0]
    assert np.corrcoef(solved, als.score([1])[0])[0, 1] > 0.95
    assert not als.score([ui.shape[0] + 5]).any()  # no row, no signal


def test_binary_als_ignores_the_weights():
    ui = checkerboard()
    rated = ui.copy()
    rated.data = 1.0 + np.arange(rated.nnz) % 5  # ratings 1-5 on the same cells
    kw = dict(factors=4, iterations=5, random_state=3)
    binary = ALSRetriever(binary=True, **kw).fit(rated)
    plain = ALSRetriever(**kw).fit(ui)
    np.testing.assert_allclose(binary.item_factors_, plain.item_factors_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        binary.score([ui.shape[0] + 1], rated[[2]]),
        plain.score([ui.shape[0] + 1], ui[[2]]),
        rtol=1e-4,
        atol=1e-5,
    )
    weighted = ALSRetriever(**kw).fit(rated)
    assert not np.allclose(weighted.item_factors_, plain.item_factors_, atol=1e-3)


def test_cold_users_of_a_known_segment_get_their_peers_items():
    ui = checkerboard()
    model = TwoStageRecommender(
        retrievers=[
            ("ease", EASERetriever(l2=1.0)),
            ("peers", SegmentPopularityRetriever(segments=np.arange(20) % 2, global_weight=1.0)),
        ],
        ranker=LambdaRanker(n_estimators=20, min_child_samples=2, random_state=0),
        n_candidates=6,
        random_state=0,
    ).fit(ui)
    empty = sp.csr_matrix((2, ui.shape[1]))
    ids, _ = model.recommend([2, 3], empty, N=3)  # known users whose history is now empty
    assert (ids[0] % 2 == 0).all() and (ids[1] % 2 == 1).all()


def test_retrievers_validate_their_input():
    with pytest.raises(ValueError, match="non-negative"):
        EASERetriever().fit(sp.csr_matrix(np.array([[1.0, -1.0]])))
    model = EASERetriever(l2=1.0).fit(checkerboard())
    with pytest.raises(ValueError, match="item columns"):
        model.score([0], sp.csr_matrix((1, 3)))
    with pytest.raises(ValueError, match="timestamps"):
        CoVisitRetriever().fit(checkerboard())


# ---------------------------------------------------------------- the ranker
def test_lambda_ranker_learns_a_ranking_and_explains_it():
    rng = np.random.default_rng(0)
    n_q, per = 60, 15
    x = rng.normal(size=(n_q * per, 3))
    y = (x[:, 0] + 0.1 * rng.normal(size=len(x)) > 0.8).astype(int)
    groups = np.repeat(np.arange(n_q), per)
    shuffle = rng.permutation(len(x))  # groups need not be contiguous
    ranker = small_ranker().fit(
        x[shuffle], y[shuffle], groups[shuffle], feature_names=["signal", "a", "b"]
    )
    assert list(ranker.importance_table())[0] == "signal"
    assert ranker.feature_importances_.sum() == pytest.approx(1.0)
    pred = ranker.predict(x)
    best = pred.reshape(n_q, per).argmax(axis=1)
    has_pos = y.reshape(n_q, per).any(axis=1)
    assert y.reshape(n_q, per)[np.arange(n_q), best][has_pos].mean() >= 0.9
    contrib = ranker.contributions(x[:5])
    np.testing.assert_allclose(contrib.sum(axis=1), pred[:5], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="relevance"):
        small_ranker().fit(x, -y, groups)


def test_monotone_features_can_only_move_the_score_one_way():
    rng = np.random.default_rng(3)
    n_q, per = 80, 12
    x = rng.normal(size=(n_q * per, 2))
    # relevance rises with "gap" overall but falls in a middle band: trees learn the dip
    y = ((x[:, 0] > 1.0) | ((x[:, 0] > -0.5) & (x[:, 0] < 0.0)) | (x[:, 1] > 1.2)).astype(int)
    groups = np.repeat(np.arange(n_q), per)
    names = ["gap", "other"]
    grid = np.column_stack([np.linspace(-3, 3, 200), np.zeros(200)])
    free = small_ranker().fit(x, y, groups, feature_names=names).predict(grid)
    tied = LambdaRanker(**{**small_ranker().get_params(), "monotone": {"gap": 1, "nope": -1}})
    pred = tied.fit(x, y, groups, feature_names=names).predict(grid)
    assert (np.diff(free) < -1e-9).any()  # unconstrained, the dip is learned
    assert (np.diff(pred) >= -1e-9).all()
    assert pred[-1] > pred[0]
    with pytest.raises(ValueError, match="monotone"):
        LambdaRanker(monotone={"gap": 2}).fit(x, y, groups, feature_names=names)


# ---------------------------------------------------------------- the two-stage model
@pytest.fixture(scope="module")
def simulation():
    return simulate()


@pytest.fixture(scope="module")
def fitted_two_stage(simulation):
    train, _, _ = simulation
    return small_two_stage().fit(train)


def test_two_stage_beats_popularity(simulation, fitted_two_stage):
    train, test, _ = simulation
    pop = ndcg(PopularityRetriever().fit(train), train, test)
    two = ndcg(fitted_two_stage, train, test)
    assert two >= 0.30
    assert two >= pop + 0.08
    summary = fitted_two_stage.train_summary_
    assert summary["queries"] > 100 and 0.0 < summary["candidate_recall"] <= 1.0


def test_an_extra_feature_that_carries_the_answer_lifts_ndcg(simulation, fitted_two_stage):
    train, test, affinity = simulation
    seen_contexts = []

    def true_affinity(users, items, context):
        seen_contexts.append(context.stage)
        assert context.user_items.shape[0] == len(context.userids)
        assert np.array_equal(users, context.userids[context.row])
        return affinity[users, items]

    model = small_two_stage(extra_features=true_affinity, extra_feature_names=["affinity"])
    model.fit(train)
    assert {"fit", "recommend"} >= set(seen_contexts) and "fit" in seen_contexts
    assert model.feature_names_[-1] == "affinity"
    assert ndcg(model, train, test) >= ndcg(fitted_two_stage, train, test) + 0.05
    assert "recommend" in seen_contexts


def test_never_returns_seen_excluded_or_disallowed_items(simulation, fitted_two_stage):
    train, _, _ = simulation
    n_items = train.shape[1]
    users = np.arange(30)
    rng = np.random.default_rng(3)
    exclude = sp.csr_matrix(rng.random((len(users), n_items)) < 0.2)
    allowed = rng.random(n_items) < 0.7
    ids, scores = fitted_two_stage.recommend(
        users, train[users], N=10, exclude=exclude, allowed=allowed
    )
    assert (np.diff(scores, axis=1) <= 1e-12).all()
    for r, u in enumerate(users):
        got = ids[r][ids[r] >= 0]
        assert len(got) == min(10, int((allowed & ~(exclude[r].toarray()[0] > 0)).sum()))
        assert set(got.tolist()).isdisjoint(train[u].indices.tolist())
        assert set(got.tolist()).isdisjoint(exclude[r].indices.tolist())
        assert allowed[got].all()


def test_padding_when_fewer_items_are_allowed(simulation, fitted_two_stage):
    train, _, _ = simulation
    allowed = np.zeros(train.shape[1], bool)
    free = np.setdiff1d(np.arange(train.shape[1]), train[0].indices)[:3]
    allowed[free] = True
    ids, scores = fitted_two_stage.recommend([0], train[[0]], N=10, allowed=allowed)
    assert sorted(ids[0, :3].tolist()) == sorted(free.tolist())
    assert (ids[0, 3:] == -1).all() and np.isneginf(scores[0, 3:]).all()


def test_cold_users_get_a_list(simulation, fitted_two_stage):
    train, _, _ = simulation
    n_users, n_items = train.shape
    empty = sp.csr_matrix((2, n_items))
    ids, scores = fitted_two_stage.recommend([n_users + 7, 0], empty, N=10)
    assert (ids >= 0).all() and np.isfinite(scores).all()
    assert len(set(ids[0].tolist())) == 10


def test_deterministic_under_random_state(simulation, fitted_two_stage):
    train, _, _ = simulation
    again = small_two_stage().fit(train)
    users = np.arange(40)
    a = fitted_two_stage.recommend(users, train[users])
    b = again.recommend(users, train[users])
    assert np.array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


def test_explain_returns_feature_rows_and_contributions(simulation, fitted_two_stage):
    train, _, _ = simulation
    ids, scores = fitted_two_stage.recommend([4], train[[4]], N=3)
    why = fitted_two_stage.explain(4, ids[0], n_top=2)
    assert list(why) == ids[0].tolist()
    for j, item in enumerate(ids[0].tolist()):
        entry = why[item]
        assert entry["score"] == pytest.approx(scores[0, j])
        assert set(entry["features"]) == set(fitted_two_stage.feature_names_)
        assert set(entry["top_features"]) <= set(entry["features"])
        assert len(entry["top_features"]) <= 2


@pytest.mark.parametrize(
    "kw",
    [
        {"feature_groups": ("retrieval",)},
        {"feature_groups": ("popularity", "activity", "similarity")},
        {"retrievers": [("knn", ItemKNNRetriever(n_neighbors=20))]},
    ],
)
def test_ablations_fit_and_serve(simulation, kw):
    train, _, _ = simulation
    model = small_two_stage(**kw).fit(train)
    ids, _ = model.recommend(np.arange(5), train[:5], N=5)
    assert (ids >= 0).all()
    groups = kw.get("feature_groups", FEATURE_GROUPS)
    assert any(n.endswith("_z") for n in model.feature_names_) == ("retrieval" in groups)


def test_time_split_and_timestamp_retrievers(simulation):
    train, _, _ = simulation
    stamps = order_stamps(train)
    model = small_two_stage(
        retrievers=[("covisit", CoVisitRetriever(window=3)), ("popularity", PopularityRetriever())]
    )
    with pytest.raises(ValueError, match="timestamps"):
        model.fit(train)
    model.fit(train, timestamps=stamps)
    assert model.train_summary_["splits"] == 1
    with pytest.raises(ValueError, match="label_split"):
        small_two_stage().fit(train, label_split="sideways")


def test_explicit_label_split_and_bad_parameters(simulation):
    train, test, _ = simulation
    model = small_two_stage(refit=False).fit(train + test, label_split=(train, test))
    assert model.train_summary_["held_out"] == test.nnz
    with pytest.raises(ValueError, match="feature groups"):
        small_two_stage(feature_groups=("retrieval", "nonsense")).fit(train)
    capped = small_two_stage(max_train_users=50, n_label_splits=2).fit(train)
    assert capped.train_summary_["queries"] <= 100
    with pytest.raises(ValueError, match="non-negative"):
        capped.recommend([-1], train[[0]])
    with pytest.raises(ValueError, match="extra_feature_names"):
        small_two_stage(extra_features=lambda u, i, c: np.zeros(len(u))).fit(train)


class StageProbe(PopularityRetriever):
    """A popularity retriever that records the stage it is fitted for."""

    stage_aware = True
    stages: list = []

    def fit(self, user_items, stage="recommend"):
        StageProbe.stages.append(stage)
        return super().fit(user_items)


def test_reference_and_stage_aware_retrievers(simulation):
    train, test, _ = simulation
    StageProbe.stages = []
    model = small_two_stage(
        retrievers=[("ease", EASERetriever(l2=20.0)), ("probe", StageProbe())],
        reference_retrievers=[("als", ALSRetriever(factors=8, iterations=8, random_state=0))],
    ).fit(train + test, label_split=(train, test))
    assert StageProbe.stages == ["fit", "recommend"]
    # the reference is fitted on everything and kept, but proposes and describes nothing
    assert set(model.retrievers_) == {"ease", "probe", "als"}
    assert model.reference_names_ == ("als",)
    assert not any(n.startswith("als") for n in model.feature_names_)
    assert model.retrievers_["als"].user_items_.nnz == (train + test).nnz
    ids, _ = model.recommend(np.arange(5), train[:5], N=5)
    assert (ids >= 0).all()
    with pytest.raises(ValueError, match="unique"):
        small_two_stage(reference_retrievers=[("ease", EASERetriever())]).fit(train)


def test_negative_sampling_and_label_allowed(simulation):
    train, test, _ = simulation
    full = small_two_stage().fit(train + test, label_split=(train, test))
    sampled = small_two_stage(negative_fraction=0.2).fit(train + test, label_split=(train, test))
    a, b = full.train_summary_, sampled.train_summary_
    assert b["positives"] == a["positives"] and b["queries"] == a["queries"]
    assert b["rows"] < 0.5 * a["rows"]
    assert ndcg(sampled, train, test) >= 0.25
    # items outside label_allowed are never training candidates, so never labels either
    allowed = np.ones(train.shape[1], bool)
    allowed[np.unique(test.indices)[:10]] = False
    limited = small_two_stage().fit(train + test, label_split=(train, test), label_allowed=allowed)
    assert limited.train_summary_["positives"] < a["positives"]
    with pytest.raises(ValueError, match="label_allowed"):
        small_two_stage().fit(train, label_allowed=np.ones(3, bool))


class CalibratedEASE(EASERetriever):
    """EASE whose raw scores the ranker may read (as the choice model's utilities are)."""

    calibrated = True


def test_a_calibrated_retriever_also_gives_its_raw_score(simulation):
    train, test, _ = simulation
    model = small_two_stage(
        retrievers=[("plain", EASERetriever(l2=20.0)), ("cal", CalibratedEASE(l2=20.0))]
    ).fit(train + test, label_split=(train, test))
    names = model.feature_names_
    assert "cal_score" in names and "plain_score" not in names
    assert names.index("cal_score") == names.index("cal_z") + 1
    ids, _ = model.recommend([3], train[[3]], N=1)
    item = int(ids[0, 0])
    entry = model.explain(3, [item])[item]
    raw = model.retrievers_["cal"].score(np.array([3]))[0, item]  # its serving rows, as explain
    assert entry["features"]["cal_score"] == pytest.approx(raw)


def test_bagged_rankers_average_their_scores(simulation):
    train, test, _ = simulation
    bag = small_two_stage(n_rankers=3).fit(train)
    assert isinstance(bag.ranker_, RankerBag) and len(bag.ranker_.rankers) == 3
    assert bag.train_summary_["rankers"] == 3
    assert bag.train_summary_["splits"] == 3 * small_two_stage().n_label_splits
    feats = np.random.default_rng(0).normal(size=(50, len(bag.feature_names_)))
    members = np.array([r.predict(feats) for r in bag.ranker_.rankers])
    assert not np.allclose(members[0], members[1])  # each learnt on its own label splits
    np.testing.assert_allclose(bag.ranker_.predict(feats), members.mean(axis=0))
    contrib = bag.ranker_.contributions(feats)
    np.testing.assert_allclose(contrib.sum(axis=1), members.mean(axis=0), atol=1e-6)
    assert sum(bag.ranker_.importance_table().values()) == pytest.approx(1.0)
    ids, scores = bag.recommend([4], train[[4]], N=3)
    why = bag.explain(4, ids[0])
    assert why[int(ids[0, 0])]["score"] == pytest.approx(scores[0, 0])
    assert ndcg(bag, train, test) >= 0.30
    single = small_two_stage(n_rankers=1).fit(train)
    assert isinstance(single.ranker_, LambdaRanker)
    with pytest.raises(ValueError, match="n_rankers"):
        small_two_stage(n_rankers=0).fit(train)
