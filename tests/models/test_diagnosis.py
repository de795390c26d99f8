import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, logit
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from ganxun.models.diagnosis import LogisticDiagnosis
from ganxun.models.stacked_diagnosis import StackedDiagnosis

N_USERS, N_ITEMS, N_TOPICS = 300, 240, 6


def _simulate(seed=0, answers_per_user=150):
    """Users with a known mastery per topic answer items of known difficulty on 1–2 topics.

    ``true_theta[u, k]`` is the logit of P(correct) on an item of average difficulty on topic k,
    which is what ``LogisticDiagnosis.mastery`` estimates.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, N_TOPICS, N_ITEMS)
    second = np.where(rng.random(N_ITEMS) < 0.3, (first + 1) % N_TOPICS, first)
    Q = sp.csr_matrix(
        (np.ones(2 * N_ITEMS), (np.tile(np.arange(N_ITEMS), 2), np.concatenate([first, second]))),
        shape=(N_ITEMS, N_TOPICS),
    )
    Q.data[:] = 1.0  # the duplicate (item, topic) entries of single-topic items
    Qn = sp.diags(1 / np.asarray(Q.sum(axis=1)).ravel()) @ Q
    ability = rng.normal(0.5, 1.0, N_USERS)
    true_theta = ability[:, None] + rng.normal(0, 0.8, (N_USERS, N_TOPICS))
    difficulty = rng.normal(0, 1.0, N_ITEMS)
    difficulty -= (Qn.T @ difficulty / np.asarray(Qn.sum(axis=0)).ravel()) @ Qn.T  # topic mean 0
    users = np.repeat(np.arange(N_USERS), answers_per_user)
    items = np.concatenate(
        [rng.choice(N_ITEMS, answers_per_user, replace=False) for _ in range(N_USERS)]
    )
    p = expit(
        np.asarray((Qn[items].multiply(true_theta[users])).sum(axis=1)).ravel() - difficulty[items]
    )
    correct = (rng.random(len(p)) < p).astype(int)
    test = rng.random(len(p)) < 0.2
    return {
        "Q": Q,
        "true_theta": true_theta,
        "train": (users[~test], items[~test], correct[~test]),
        "test": (users[test], items[test], correct[test], p[test]),
    }


@pytest.fixture(scope="module")
def sim():
    return _simulate()


@pytest.fixture(scope="module")
def logistic(sim):
    u, i, y = sim["train"]
    return LogisticDiagnosis().fit(u, i, y, sim["Q"], N_USERS)


@pytest.fixture(scope="module")
def stacked(sim):
    u, i, y = sim["train"]
    model = StackedDiagnosis(n_folds=5, n_estimators=150, random_state=0)
    return model.fit(u, i, y, sim["Q"], N_USERS)


def test_recovers_mastery_and_predicts_like_the_truth(sim, logistic):
    mastery = logistic.mastery()
    assert mastery.shape == (N_USERS, N_TOPICS)
    assert ((mastery > 0) & (mastery < 1)).all()
    rho = spearmanr(mastery.ravel(), sim["true_theta"].ravel()).statistic
    assert rho > 0.8
    u, i, y, p_true = sim["test"]
    auc = roc_auc_score(y, logistic.predict_proba(u, i))
    assert auc > roc_auc_score(y, p_true) - 0.03


def test_prior_sets_the_profile_of_users_without_answers(sim):
    u, i, y = sim["train"]
    rng = np.random.default_rng(1)
    prior = sim["true_theta"] + rng.normal(0, 0.3, sim["true_theta"].shape)
    silent = 7  # answers nothing
    keep = u != silent
    model = LogisticDiagnosis().fit(u[keep], i[keep], y[keep], sim["Q"], N_USERS, theta_prior=prior)
    np.testing.assert_allclose(model.mastery([silent])[0], expit(prior[silent]), atol=0.06)
    assert (model.confidence([silent]) == 0).all()
    others = np.setdiff1d(np.arange(N_USERS), [silent])
    assert model.confidence(others).mean() > 0.3
    # The prior also helps users who did answer.
    rho_prior = spearmanr(model.mastery().ravel(), sim["true_theta"].ravel()).statistic
    rho_plain = spearmanr(
        LogisticDiagnosis().fit(u, i, y, sim["Q"], N_USERS).mastery().ravel(),
        sim["true_theta"].ravel(),
    ).statistic
    assert rho_prior > rho_plain


def test_confidence_grows_with_the_number_of_answers(sim):
    u, i, y = sim["train"]
    topic0 = np.flatnonzero(sim["Q"][:, 0].toarray().ravel())
    extra_users, extra_items = [], []
    for user, n in ((0, 2), (1, 10), (2, 40)):  # topic-0 answers of three new users
        extra_users.append(np.full(n, N_USERS + user))
        extra_items.append(np.resize(topic0, n))
    users = np.concatenate([u, *extra_users])
    items = np.concatenate([i, *extra_items])
    correct = np.concatenate([y, np.ones(52, int)])
    model = LogisticDiagnosis().fit(users, items, correct, sim["Q"], N_USERS + 3)
    conf = model.confidence(N_USERS + np.arange(3))[:, 0]
    se = model.theta_se(N_USERS + np.arange(3))[:, 0]
    assert 0 < conf[0] < conf[1] < conf[2] < 1
    assert se[0] > se[1] > se[2]
    # Answers on other topics leave topic-0 confidence of the population untouched.
    assert (model.confidence([-1]) == 0).all()


def test_unknown_users_and_unseen_items_get_finite_probabilities(sim):
    u, i, y = sim["train"]
    answered = i < N_ITEMS - 20  # the last 20 items are never answered
    Q = sp.vstack([sim["Q"], sp.csr_matrix((1, N_TOPICS))]).tocsr()  # and one has no topics
    for model in (LogisticDiagnosis(), StackedDiagnosis(n_folds=2, n_estimators=20)):
        model.fit(u[answered], i[answered], y[answered], Q, N_USERS + 1)  # user 300 is silent
        users = np.array([-1, 0, 0, -1, N_USERS, 0, N_USERS])
        items = np.array([0, -1, N_ITEMS - 1, -1, 5, N_ITEMS, N_ITEMS])
        p = model.predict_proba(users, items)
        assert np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
        assert model.mastery([-1, N_USERS]).shape == (2, N_TOPICS)
    assert model.predict_proba(np.array([], int), np.array([], int)).shape == (0,)


def test_unseen_item_uses_its_topics_mean_difficulty(sim):
    u, i, y = sim["train"]
    answered = i != 3
    model = LogisticDiagnosis().fit(u[answered], i[answered], y[answered], sim["Q"], N_USERS)
    assert model.item_difficulty_[3] == 0.0
    topics = sim["Q"][3].indices
    expected = expit(model.theta_[0, topics].mean())
    np.testing.assert_allclose(model.predict_proba([0], [3]), [expected])


def test_partial_update_moves_only_the_items_topics(sim, logistic):
    model = clone(logistic).fit(*sim["train"], sim["Q"], N_USERS)
    item = int(np.flatnonzero(np.diff(sim["Q"].indptr) == 2)[0])  # an item on two topics
    topics = sim["Q"][item].indices
    others = np.setdiff1d(np.arange(N_TOPICS), topics)
    before, conf_before = model.mastery([5])[0], model.confidence([5])[0]
    after = model.partial_update(5, item, 1)
    assert (after[topics] > before[topics]).all()
    np.testing.assert_array_equal(after[others], before[others])
    np.testing.assert_array_equal(after, model.mastery([5])[0])
    assert (model.confidence([5])[0][topics] > conf_before[topics]).all()
    assert (model.partial_update(5, item, 0, lr=0.5)[topics] < after[topics]).all()
    np.testing.assert_array_equal(model.mastery([6]), logistic.mastery([6]))
    with pytest.raises(ValueError, match="out of range"):
        model.partial_update(-1, item, 1)


def test_stacked_is_at_least_as_good_as_logistic(sim, logistic, stacked):
    u, i, y, _ = sim["test"]
    auc_logistic = roc_auc_score(y, logistic.predict_proba(u, i))
    auc_stacked = roc_auc_score(y, stacked.predict_proba(u, i))
    assert auc_stacked >= auc_logistic - 0.01
    np.testing.assert_allclose(stacked.mastery(), logistic.mastery())
    assert stacked.confidence().shape == (N_USERS, N_TOPICS)
    assert list(stacked.features([0], [0]).columns) == stacked.feature_names_


def test_stacked_is_deterministic_under_random_state(sim):
    u, i, y = (a[:8000] for a in sim["train"])
    tu, ti, _, _ = sim["test"]
    fits = [
        StackedDiagnosis(n_folds=3, n_estimators=40, subsample=0.7, random_state=3)
        .fit(u, i, y, sim["Q"], N_USERS)
        .predict_proba(tu, ti)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0], fits[1])
    other = StackedDiagnosis(n_folds=3, n_estimators=40, subsample=0.7, random_state=4)
    assert not np.array_equal(other.fit(u, i, y, sim["Q"], N_USERS).predict_proba(tu, ti), fits[0])


def test_stacked_early_stopping_on_an_eval_set(sim):
    u, i, y = (a[:8000] for a in sim["train"])
    tu, ti, ty, _ = sim["test"]
    model = StackedDiagnosis(n_folds=2, n_estimators=400, learning_rate=0.3, random_state=0)
    model.fit(u, i, y, sim["Q"], N_USERS, eval_set=(tu, ti, ty))
    assert 1 <= model.best_iteration_ < 400


def test_not_fitted_raises():
    for model in (LogisticDiagnosis(), StackedDiagnosis()):
        with pytest.raises(NotFittedError):
            model.predict_proba([0], [0])
        with pytest.raises(NotFittedError):
            model.mastery()


def test_bad_inputs_raise_clear_errors(sim):
    u, i, y = sim["train"]
    Q = sim["Q"]
    model = LogisticDiagnosis()
    with pytest.raises(ValueError, match="same length"):
        model.fit(u, i[:-1], y, Q, N_USERS)
    with pytest.raises(ValueError, match="users index .* out of range"):
        model.fit(u, i, y, Q, N_USERS - 1)
    with pytest.raises(ValueError, match="items index .* out of range"):
        model.fit(u, i + 1, y, Q, N_USERS)
    with pytest.raises(ValueError, match="0 or 1"):
        model.fit(u, i, y * 2, Q, N_USERS)
    with pytest.raises(ValueError, match="theta_prior must have shape"):
        model.fit(u, i, y, Q, N_USERS, theta_prior=np.zeros((N_USERS, N_TOPICS + 1)))
    with pytest.raises(ValueError, match="same length"):
        StackedDiagnosis().fit(u, i, y[:-1], Q, N_USERS)
    model.fit(u, i, y, Q, N_USERS)
    with pytest.raises(ValueError, match="same length"):
        model.predict_proba([0, 1], [0])
    with pytest.raises(ValueError, match="out of range"):
        model.predict_proba([N_USERS], [0])
    with pytest.raises(ValueError, match="out of range"):
        model.predict_proba([0], [-2])


def test_users_without_answers_get_the_population_profile(sim):
    u, i, y = sim["train"]
    keep = u != 3
    model = LogisticDiagnosis().fit(u[keep], i[keep], y[keep], sim["Q"], N_USERS)
    np.testing.assert_allclose(model.mastery([3]), model.mastery([-1]))
    assert (model.confidence([3]) == 0).all()
    assert logit(model.mastery([-1])).std() > 0  # topics differ in mean mastery


def _grouped(seed=2, n_groups=6, answers_per_user=40):
    """Users in groups that share strong and weak topics, with a time-varying covariate.

    ``logit P = theta[u, k] + 1.5 * x - difficulty``: ``x`` (e.g. exposure to training) differs
    between answers, and ``true_now`` is theta plus 1.5 × the covariate at the cut-off ``C``.
    """
    rng = np.random.default_rng(seed)
    Q = sp.csr_matrix((np.ones(N_ITEMS), (np.arange(N_ITEMS), np.arange(N_ITEMS) % N_TOPICS)))
    group = rng.integers(0, n_groups, N_USERS)
    effect = rng.normal(0, 1.5, (n_groups, N_TOPICS))
    theta = rng.normal(0, 0.5, N_USERS)[:, None] + effect[group] + rng.normal(0, 0.3, (N_USERS, 6))
    C = rng.gamma(1.0, 1.0, (N_USERS, N_TOPICS))
    users = np.repeat(np.arange(N_USERS), answers_per_user)
    items = rng.integers(0, N_ITEMS, len(users))
    topic = items % N_TOPICS
    x = C[users, topic] * rng.uniform(0, 1, len(users))  # less exposure when answering
    difficulty = rng.normal(0, 1, N_ITEMS)
    p = expit(theta[users, topic] + 1.5 * x - difficulty[items])
    y = (rng.random(len(p)) < p).astype(int)
    return {"Q": Q, "group": group, "theta": theta, "C": C, "x": x, "now": theta + 1.5 * C,
            "train": (users, items, y)}  # fmt: skip


@pytest.fixture(scope="module")
def grouped():
    return _grouped()


def test_group_effects_give_silent_users_their_groups_profile(grouped):
    u, i, y = grouped["train"]
    silent = np.arange(20)  # answer nothing: only their group says anything about them
    keep = ~np.isin(u, silent)
    plain = LogisticDiagnosis().fit(u[keep], i[keep], y[keep], grouped["Q"], N_USERS)
    model = LogisticDiagnosis().fit(
        u[keep], i[keep], y[keep], grouped["Q"], N_USERS, user_groups=grouped["group"]
    )
    assert len(model.group_effects_) == 1 and model.group_effects_[0].shape == (6, N_TOPICS)
    truth = grouped["theta"][silent].ravel()
    rho = spearmanr(model.mastery(silent).ravel(), truth).statistic
    assert rho > 0.7
    assert np.ptp(plain.mastery(silent), axis=0).max() < 1e-9  # without groups: all alike
    # two columns of groupings, and -1 for "in no group of this grouping"
    two = np.column_stack([grouped["group"], np.where(np.arange(N_USERS) % 2, 0, -1)])
    assert len(LogisticDiagnosis().fit(u, i, y, grouped["Q"], N_USERS, user_groups=two)
               .group_effects_) == 2  # fmt: skip
    with pytest.raises(ValueError, match="user_groups"):
        LogisticDiagnosis().fit(u, i, y, grouped["Q"], N_USERS, user_groups=grouped["group"][:5])
    with pytest.raises(ValueError, match="user_groups"):
        LogisticDiagnosis().fit(u, i, y, grouped["Q"], N_USERS, user_groups=grouped["group"] - 2)


def test_time_varying_covariate_is_learned_and_moves_the_reserve(grouped):
    u, i, y = grouped["train"]
    cov = (grouped["x"], grouped["C"])
    model = LogisticDiagnosis(l2_disc_mean=100.0).fit(
        u, i, y, grouped["Q"], N_USERS, user_groups=grouped["group"], covariates=cov
    )
    assert model.covariate_coef_[0] == pytest.approx(1.5, abs=0.3)
    assert abs(np.log(model.item_discrimination_).mean()) < 0.05  # the scale is pinned
    # the reserve is the mastery at the cut-off (C), not at the answers' (lower) exposure
    rho = spearmanr(model.theta_.ravel(), grouped["now"].ravel()).statistic
    without = LogisticDiagnosis(l2_disc_mean=100.0).fit(
        u, i, y, grouped["Q"], N_USERS, user_groups=grouped["group"]
    )
    assert rho > spearmanr(without.theta_.ravel(), grouped["now"].ravel()).statistic + 0.05
    # more training later moves the cell by the learned effect, in full
    delta = np.zeros(N_TOPICS)
    delta[2] = 1.0
    before = model.theta_[3].copy()
    model.shift_covariates(3, delta)
    np.testing.assert_allclose(model.theta_[3] - before, delta * model.covariate_coef_[0])
    with pytest.raises(ValueError, match="delta must have shape"):
        model.shift_covariates(3, np.zeros(N_TOPICS + 1))
    with pytest.raises(ValueError, match="delta must have shape"):
        without.shift_covariates(3, delta)  # no covariates fitted
    with pytest.raises(ValueError, match="covariates"):
        LogisticDiagnosis().fit(
            u, i, y, grouped["Q"], N_USERS, covariates=(grouped["x"][:9], grouped["C"])
        )


def test_discrimination_scale_inflates_unless_pinned(grouped):
    u, i, y = grouped["train"]
    free = LogisticDiagnosis().fit(u, i, y, grouped["Q"], N_USERS, user_groups=grouped["group"])
    pinned = LogisticDiagnosis(l2_disc_mean=100.0).fit(
        u, i, y, grouped["Q"], N_USERS, user_groups=grouped["group"]
    )
    assert abs(np.log(pinned.item_discrimination_).mean()) < 0.05
    assert np.log(free.item_discrimination_).mean() > np.log(pinned.item_discrimination_).mean()
    with pytest.raises(ValueError, match="l2_group must be positive"):
        LogisticDiagnosis(l2_group=0).fit(u, i, y, grouped["Q"], N_USERS)


def test_partial_update_steps_from_the_current_prediction(sim, logistic):
    import copy

    model = copy.deepcopy(logistic)
    item = int(np.flatnonzero(np.diff(sim["Q"].indptr) == 2)[0])
    start, end = model.Q_.indptr[item], model.Q_.indptr[item + 1]
    topics, qw = model.Q_.indices[start:end], model.Q_.data[start:end]
    for user, correct in ((4, 1), (4, 0), (np.int64(9), 1)):
        p = model.predict_proba([user], [item])[0]
        before = model.theta_[user, topics].copy()
        model.partial_update(user, item, correct, lr=0.3)
        a = model.item_discrimination_[item]
        np.testing.assert_allclose(
            model.theta_[user, topics] - before, 0.3 * a * qw * (correct - p)
        )
    with pytest.raises(ValueError, match="out of range"):
        model.partial_update(4, N_ITEMS, 1)


def _with_floor(sim, floor=0.25, seed=1):
    """The same users and items, but answers a guess gets right with probability ``floor``."""
    rng = np.random.default_rng(seed)
    u, i, _ = sim["train"]
    Q = sim["Q"]
    Qn = sp.diags(1 / np.asarray(Q.sum(axis=1)).ravel()) @ Q
    z = np.asarray((Qn[i].multiply(sim["true_theta"][u])).sum(axis=1)).ravel()
    p = floor + (1 - floor) * expit(z)
    return u, i, (rng.random(len(p)) < p).astype(int)


def test_a_guessing_floor_is_recovered_and_keeps_weak_users_apart(sim):
    u, i, y = _with_floor(sim)
    floor = LogisticDiagnosis(guessing=0.25).fit(u, i, y, sim["Q"], N_USERS)
    plain = LogisticDiagnosis().fit(u, i, y, sim["Q"], N_USERS)
    assert np.all(floor.item_guessing_ == 0.25)
    test_u, test_i, _, _ = sim["test"]
    p_true = 0.25 + 0.75 * sim["test"][3]
    y_test = (np.random.default_rng(5).random(len(p_true)) < p_true).astype(int)
    ll = {
        name: np.mean(np.log(np.where(y_test, q, 1 - q)))
        for name, q in (
            ("floor", floor.predict_proba(test_u, test_i)),
            ("plain", plain.predict_proba(test_u, test_i)),
        )
    }
    assert ll["floor"] > ll["plain"]  # the right form predicts new answers better
    assert np.all(plain.item_guessing_ == 0)
    # the floor model reads mastery on the scale of knowing, not of lucky answers
    truth = sim["true_theta"].ravel()
    rho_floor = spearmanr(floor.mastery().ravel(), truth)[0]
    rho_plain = spearmanr(plain.mastery().ravel(), truth)[0]
    assert rho_floor >= rho_plain - 0.005
    weak = truth < np.quantile(truth, 0.2)
    assert floor.mastery().ravel()[weak].mean() < plain.mastery().ravel()[weak].mean()
    p = floor.predict_proba(u[:500], i[:500])
    assert (p >= floor.item_guessing_[i[:500]] - 1e-12).all()


def test_with_the_floor_a_correct_answer_moves_mastery_less(sim):
    u, i, y = _with_floor(sim)
    floor = LogisticDiagnosis(guessing=0.25).fit(u, i, y, sim["Q"], N_USERS)
    no_floor = clone(floor)
    no_floor.__dict__.update(
        {k: np.copy(v) for k, v in floor.__dict__.items() if k.endswith("_") and k != "Q_"}
    )
    no_floor.Q_ = floor.Q_
    no_floor.item_guessing_[:] = 0.0
    user, item = 7, int(i[0])
    topics = sim["Q"][item].indices
    before = floor.mastery()[user, topics]
    gain_floor = floor.partial_update(user, item, 1, lr=0.5)[topics] - before
    gain_plain = no_floor.partial_update(user, item, 1, lr=0.5)[topics] - before
    assert (gain_floor > 0).all() and (gain_floor < gain_plain).all()
    # a wrong answer says as much with or without a floor
    loss_floor = floor.partial_update(user, item, 0, lr=0.5)[topics]
    loss_plain = no_floor.partial_update(user, item, 0, lr=0.5)[topics]
    assert (loss_floor < before + gain_floor).all() and (loss_plain < before + gain_plain).all()
