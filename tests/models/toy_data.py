"""Small interaction matrices shared by the recommender tests and the ranker contract."""

import numpy as np
import scipy.sparse as sp


def checkerboard(n_users: int = 20, n_items: int = 12) -> sp.csr_matrix:
    """Even users like even items, odd users odd items; some own-parity items left unseen."""
    rows, cols = [], []
    for u in range(n_users):
        for i in range(u % 2, n_items, 2):
            if (u + i) % 3:
                rows.append(u)
                cols.append(i)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))


def order_stamps(user_items: sp.csr_matrix) -> sp.csr_matrix:
    """A timestamp per interaction: its position in the row (1-based, so it is stored)."""
    ts = sp.csr_matrix(user_items, dtype=float, copy=True)
    for u in range(ts.shape[0]):
        lo, hi = ts.indptr[u], ts.indptr[u + 1]
        ts.data[lo:hi] = np.arange(1, hi - lo + 1)
    return ts
