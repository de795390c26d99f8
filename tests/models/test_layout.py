import numpy as np
import scipy.sparse as sp

from ganxun.models.layout import topic_year_hours, unit_reserve, weakest_topics


def test_hours_and_share_per_unit_topic_year():
    course_topics = sp.csr_matrix(np.array([[1.0, 0.0], [0.5, 0.5]]))
    out = topic_year_hours(
        cadre_idx=np.array([0, 0, 1, 2]),
        course_idx=np.array([0, 1, 1, 0]),
        years=np.array([2025, 2025, 2026, 2025]),
        hours=np.array([4.0, 2.0, 2.0, 8.0]),
        cadre_unit=np.array([0, 0, 1]),
        course_topics=course_topics,
        unit_sizes=np.array([2, 1]),
    ).set_index(["unit", "topic", "year"])
    assert out.loc[(0, 0, 2025), "hours"] == 5.0  # 4 h of course 0 + half of course 1
    assert out.loc[(0, 0, 2025), "trained_share"] == 0.5  # one of the unit's two cadres
    assert (1, 1, 2025) not in out.index  # unit 1 had no topic-1 training
    assert out.loc[(1, 0, 2025), "hours"] == 8.0 and out.loc[(0, 1, 2026), "hours"] == 1.0


def test_unit_means_and_weakest_topics():
    reserve = np.array([[0.2, 0.8, 0.5], [0.4, 0.6, 0.5], [0.9, 0.9, 0.1]])
    gap = np.maximum(0, 0.7 - reserve)
    mean_r, mean_g = unit_reserve(np.array([0, 0, 1]), reserve, gap, 3)
    assert np.allclose(mean_r[0], [0.3, 0.7, 0.5])
    assert np.isnan(mean_r[2]).all()
    assert weakest_topics(mean_g, 2)[0].tolist() == [0, 2]
    assert weakest_topics(mean_g, 1)[1].tolist() == [2]
