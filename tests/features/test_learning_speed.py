"""The empirical-Bayes learning speed read from earlier pre/post exam gains."""

import numpy as np
import pandas as pd

from ganxun.features.history import SpeedPrior, learning_speed, speed_prior


def _gains(n_cadres: int, per_cadre: int, signal_sd: float, noise_sd: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    persistent = rng.normal(0.0, signal_sd, n_cadres)
    cadre = np.repeat(np.arange(n_cadres), per_cadre)
    residual = persistent[cadre] + rng.normal(0.0, noise_sd, len(cadre))
    frame = pd.DataFrame(
        {"cadre_id": [f"C{c:05d}" for c in cadre], "residual": residual, "gain": 0.15 + residual}
    )
    return frame, persistent


def test_prior_recovers_the_persistent_and_the_noise_variance():
    gains, _ = _gains(4000, 3, signal_sd=0.05, noise_sd=0.15)
    prior = speed_prior(gains)
    assert abs(prior.signal_var - 0.05**2) < 0.25 * 0.05**2
    assert abs(prior.noise_var - 0.15**2) < 0.1 * 0.15**2
    assert abs(prior.mean_gain - 0.15) < 0.01


def test_speed_tracks_the_persistent_part_and_beats_the_raw_mean():
    gains, persistent = _gains(3000, 2, signal_sd=0.05, noise_sd=0.15, seed=1)
    prior = speed_prior(gains)
    by = gains.groupby("cadre_id")["residual"]
    speed = learning_speed(by.mean().to_numpy(), by.size().to_numpy(), prior)
    truth = 1.0 + persistent / prior.mean_gain
    # shrinkage: closer to the truth in squared error than the unshrunk ratio
    raw = 1.0 + by.mean().to_numpy() / prior.mean_gain
    assert np.mean((speed - truth) ** 2) < 0.8 * np.mean((raw - truth) ** 2)
    assert np.corrcoef(speed, persistent)[0, 1] > 0.3


def test_more_exams_move_the_speed_further_and_none_leave_it_at_one():
    prior = SpeedPrior(signal_var=0.0025, noise_var=0.0225, mean_gain=0.15)
    past = np.array([0.05, 0.05, 0.05, -2.0])
    n = np.array([0, 1, 6, 6])
    speed = learning_speed(past, n, prior)
    assert speed[0] == 1.0
    assert 1.0 < speed[1] < speed[2]
    assert speed[3] == 0.2  # the floor


def test_no_cadre_seen_twice_means_no_signal():
    gains, _ = _gains(500, 1, signal_sd=0.05, noise_sd=0.15)
    prior = speed_prior(gains)
    assert prior.signal_var == 0.0
    speed = learning_speed(np.full(3, 0.1), np.ones(3), prior)
    assert np.array_equal(speed, np.ones(3))
    assert speed_prior(gains.iloc[:0]) == SpeedPrior()
