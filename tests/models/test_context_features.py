"""Time-context and item-attribute ranker features, and the time-window retriever."""

import numpy as np
import pytest
import scipy.sparse as sp

from ganxun.models.context_features import FeatureSet, ItemAttributeFeatures, TimeContextFeatures
from ganxun.models.ranker import LambdaRanker
from ganxun.models.recommender import FeatureContext, TwoStageRecommender
from ganxun.models.retrieval import EASERetriever, PopularityRetriever, TimeWindowRetriever

DAY = 86_400.0


def context(user_items, visible, userids=None, stage="recommend"):
    rows = sp.csr_matrix(user_items)
    ids = np.arange(rows.shape[0]) if userids is None else np.asarray(userids)
    return FeatureContext(
        stage=stage,
        userids=ids,
        user_items=rows,
        row=np.zeros(0, np.int64),
        visible=sp.csr_matrix(visible),
    )


def with_pairs(ctx, pr):
    return FeatureContext(
        stage=ctx.stage,
        userids=ctx.userids,
        user_items=ctx.user_items,
        row=np.asarray(pr),
        visible=ctx.visible,
    )


def sessions():
    """4 users × 4 items; user 0 active on day 10, items 1 (day 10) and 2 (day 100) by others."""
    x = sp.csr_matrix(
        np.array(
            [
                [1, 0, 0, 0],
                [1, 1, 0, 0],
                [0, 1, 1, 0],
                [1, 0, 1, 1],
            ],
            float,
        )
    )
    days = np.array(
        [
            [10, 0, 0, 0],
            [10, 10, 0, 0],
            [0, 10, 100, 0],
            [100, 0, 100, 100],
        ],
        float,
    )
    return x, sp.csr_matrix(days * DAY + 1.0)


def test_time_lift_gap_and_age_on_a_hand_example():
    x, ts = sessions()
    f = TimeContextFeatures(ts, bandwidths=(0,))
    ctx = with_pairs(context(x[[0]], x), [0, 0])
    out = f(np.array([0, 0]), np.array([1, 2]), ctx)
    assert f.names == ["time_lift_0", "time_gap", "time_item_age", "time_user_span"]
    # visible periods: item 0 {10,10,100}, item 1 {10,10}, item 2 {100,100}, item 3 {100}
    # user 0's share near day 10 is 1; base = share of all 8 interactions on day 10 = 4/8
    np.testing.assert_allclose(out[:, 0], [1.0 / 0.5, 0.0])
    np.testing.assert_allclose(out[:, 1], [0.0, 90.0])  # |user median - item median|
    np.testing.assert_allclose(out[:, 2], [0.0, -90.0])  # user median - item first day
    np.testing.assert_allclose(out[:, 3], [0.0, 0.0])
    # a wider window covers day 100 too: both items then sit at the average
    wide = TimeContextFeatures(ts, bandwidths=(90,))(np.array([0, 0]), np.array([1, 2]), ctx)
    np.testing.assert_allclose(wide[:, 0], [1.0, 1.0])


def test_time_features_are_nan_for_users_without_timed_history():
    x, ts = sessions()
    f = TimeContextFeatures(ts)
    empty = sp.csr_matrix((1, 4))
    ctx = with_pairs(context(empty, x, userids=[7]), [0])  # unknown user, no row
    out = f(np.array([7]), np.array([1]), ctx)
    assert np.isnan(out[0, :3]).all() and np.isnan(out[0, -3:]).all()


def _fit_stage_rows(timestamps, hist, fut, seed=0):
    """Feature rows the ranker learns from, with the time features computed from ``timestamps``."""
    recorded = []

    class Spy(TimeContextFeatures):
        def __call__(self, users, items, ctx):
            out = super().__call__(users, items, ctx)
            if ctx.stage == "fit":
                recorded.append(out.copy())
            return out

    f = Spy(timestamps, bandwidths=(0, 3))
    model = TwoStageRecommender(
        retrievers=[("ease", EASERetriever(l2=10.0)), ("pop", PopularityRetriever())],
        ranker=LambdaRanker(n_estimators=5, min_child_samples=5, random_state=seed),
        extra_features=f,
        extra_feature_names=f.names,
        n_candidates=10,
        random_state=seed,
    )
    model.fit(hist + fut, label_split=(hist, fut))
    return np.concatenate(recorded), model


def test_time_features_never_read_the_label_part_at_fit_stage():
    rng = np.random.default_rng(0)
    n_users, n_items = 60, 30
    x = sp.csr_matrix((rng.random((n_users, n_items)) < 0.3).astype(float))
    coo = x.tocoo()
    future = rng.random(x.nnz) < 0.25

    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=x.shape)

    hist, fut = part(~future), part(future)
    days = rng.integers(0, 200, size=x.nnz).astype(float)
    stamps = sp.csr_matrix((days * DAY + 1.0, (coo.row, coo.col)), shape=x.shape)
    moved = days.copy()
    moved[future] = rng.integers(300, 900, size=future.sum())  # only label cells change
    stamps_moved = sp.csr_matrix((moved * DAY + 1.0, (coo.row, coo.col)), shape=x.shape)
    a, model = _fit_stage_rows(stamps, hist, fut)
    b, _ = _fit_stage_rows(stamps_moved, hist, fut)
    assert a.shape == b.shape and len(a) > 0
    np.testing.assert_array_equal(a, b)
    # ... while moving history times does change them (the comparison can fail)
    shifted = days.copy()
    shifted[~future] = rng.integers(300, 900, size=(~future).sum())
    stamps_hist = sp.csr_matrix((shifted * DAY + 1.0, (coo.row, coo.col)), shape=x.shape)
    c, _ = _fit_stage_rows(stamps_hist, hist, fut)
    assert not np.array_equal(np.nan_to_num(a), np.nan_to_num(c))
    ids, _ = model.recommend(np.arange(5), N=3)
    assert ids.shape == (5, 3)


def test_time_features_validate_their_input():
    x, ts = sessions()
    with pytest.raises(ValueError, match="bandwidths"):
        TimeContextFeatures(ts, bandwidths=(-1,))
    with pytest.raises(ValueError, match="item columns"):
        TimeContextFeatures(ts[:, :3])(
            np.array([0]), np.array([1]), with_pairs(context(x[[0]], x), [0])
        )


def test_time_window_retriever_prefers_items_of_the_users_days():
    x, ts = sessions()
    r = TimeWindowRetriever(bandwidth=0).fit(x, timestamps=ts)
    s = r.score([0, 9], sp.csr_matrix(np.vstack([x[[0]].toarray(), np.zeros((1, 4))])))
    assert s[0, 1] > s[0, 2] and s[0, 1] > s[0, 3]
    assert np.ptp(s[1]) == 0  # an unknown user: no preference
    wide = TimeWindowRetriever(bandwidth=100).fit(x, timestamps=ts).score([0], x[[0]])
    assert wide[0, 2] == wide[0, 1] == 2  # every interaction of the item is in the window
    with pytest.raises(ValueError, match="timestamps"):
        TimeWindowRetriever().fit(x)


def test_item_attribute_features_compare_the_candidate_with_the_history():
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1]], float))
    flags = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], float)
    year = np.array([[1990.0], [1994.0], [np.nan], [2000.0]])
    f = ItemAttributeFeatures(flags=flags, numbers=year, number_names=["year"])
    assert f.names == ["attr_match", "attr_match_lift", "year", "year_diff"]
    ctx = with_pairs(context(x[[0]], x), [0, 0])
    out = f(np.array([0, 0]), np.array([2, 3]), ctx)
    # user 0's history is all flag 0; item 2 has only flag 1, item 3 both
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5])
    # catalogue shares: flag 0 in 3 of 4 interactions, flag 1 in 2 of 4
    np.testing.assert_allclose(out[1, 1], 0.5 / ((0.75 + 0.5) / 2))
    assert np.isnan(out[0, 2]) and out[1, 2] == 2000.0
    np.testing.assert_allclose(out[1, 3], 2000.0 - 1992.0)
    with pytest.raises(ValueError, match="0 or 1"):
        ItemAttributeFeatures(flags=flags * 2)
    both = FeatureSet([f, TimeContextFeatures(sp.csr_matrix(x.shape), bandwidths=())])
    assert both.names[:4] == f.names and len(both.names) == 7
