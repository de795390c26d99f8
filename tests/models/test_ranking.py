import numpy as np
import scipy.sparse as sp

from ganxun.models.ranking import count_listed, expand_to_groups, top_k


def test_top_k_orders_and_excludes():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [1.0, 0.0, -np.inf, 0.2]])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]]))
    ids, best = top_k(scores, 3, exclude)
    assert ids.tolist() == [[3, 2, 0], [0, 3, 1]]
    assert best[0].tolist() == [0.7, 0.5, 0.1]


def test_near_duplicates_are_excluded_with_their_group():
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0]]))
    groups = np.array([0, 1, 0, 2])  # item 2 re-issues item 0
    assert expand_to_groups(seen, groups).toarray().tolist() == [[1, 0, 1, 0]]


def test_count_listed_ignores_padding():
    marked = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]]))
    assert count_listed(np.array([[0, 1, -1], [1, 2, -1]]), marked) == 2
