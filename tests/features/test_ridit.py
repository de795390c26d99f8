"""Within-rater ridits: inflated, capped ratings read against each rater's own scale."""

import numpy as np
import pandas as pd

from ganxun.features.ratings import rescale_ratings, ridit_scores


def test_a_rater_who_gives_everything_five_says_nothing_of_one_course_against_another():
    raters = ["a"] * 6 + ["b"] * 6
    scores = [5, 5, 5, 5, 5, 5, 4, 5, 4, 5, 5, 5]
    r = ridit_scores(raters, scores, prior=1.0)
    assert np.ptp(r[:6]) == 0  # rater a: one value
    # rater b's 4s are below b's 5s, and b's 5 counts for more than a's 5
    assert r[6] < r[7] and r[7] > r[0]
    assert ((r >= 1) & (r <= 5)).all()


def test_order_within_a_rater_is_kept_and_missing_scores_stay_missing():
    raters = ["a", "a", "a", "b", "b"]
    scores = [3, 5, np.nan, 4, 2]
    r = ridit_scores(raters, scores)
    assert np.isnan(r[2])
    assert r[0] < r[1] and r[4] < r[3]


def test_tables_keep_their_rows_and_only_scores_change():
    cr = pd.DataFrame(
        {
            "cadre_id": ["a", "a", "b"],
            "course_id": ["K1", "K2", "K1"],
            "course_score": [5, 4, 5],
            "teacher_score": pd.array([5, None, 4], dtype="Int64"),
        }
    )
    sr = pd.DataFrame({"cadre_id": ["a"], "staff_id": ["S1"], "score": [5]})
    out = rescale_ratings({"course_ratings": cr, "staff_ratings": sr, "other": cr})
    assert out["other"] is cr
    assert out["course_ratings"]["course_id"].tolist() == ["K1", "K2", "K1"]
    assert out["course_ratings"]["teacher_score"].isna().tolist() == [False, True, False]
    assert (
        out["course_ratings"]["course_score"].iloc[0]
        > out["course_ratings"]["course_score"].iloc[1]
    )
