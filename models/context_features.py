"""Extra ranker features from interaction times and item attributes (generic, pure numpy).

Both classes are ``extra_features(users, items, context)`` callables for
:class:`ganxun.models.recommender.TwoStageRecommender`; :class:`FeatureSet` joins several of them.

:class:`TimeContextFeatures` describes *when* a user was active against *when* a candidate was
engaged with. Everything is read from the timestamps of the interactions in
``context.visible`` (the label split's history while the ranker learns, all interactions when
serving) and of the query rows ``context.user_items``: a held-out (label) interaction never
contributes its time. On data where held-out interactions were drawn at random from the same
sessions as the visible ones (MovieLens' stratified split), items engaged with by others around
the user's active days are likely among the user's held-out items.

:class:`ItemAttributeFeatures` compares a candidate's attributes (binary flags such as genres,
numbers such as a release year) with the user's visible history.

All values are scale-free or in the data's own units (days, years), so they mean the same at the
fit stage (smaller history) and when serving.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ganxun.models.retrieval import binarize

_DAY = 86_400.0


def _check_matrix(m, shape: tuple[int, int] | None, name: str) -> sp.csr_matrix:
    out = sp.csr_matrix(m, dtype=np.float64)
    if shape is not None and out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    if out.nnz and not np.isfinite(out.data).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


class TimeContextFeatures:
    """Time context of (user, candidate) pairs, from the timestamps of visible interactions.

    Times are binned into periods of ``unit`` (a day for Unix seconds). For a user, ``share_b(d)``
    is the share of the user's visible interactions within ``b`` periods of period ``d``. For a
    pair (u, i) and each bandwidth ``b``:

    ``time_lift_b``
        mean of ``share_b`` over the item's visible interactions divided by its mean over all
        visible interactions: > 1 when the item was engaged with around the user's active days
        more than the average interaction (NaN for a user without timed history or an item
        without visible interactions);

    and once per pair:

    ``time_gap``
        periods between the user's median active time and the item's median engagement time;
    ``time_item_age``
        periods between the item's first visible engagement and the user's median active time
        (negative: the item only appeared after the user's typical activity);
    ``time_user_span``
        periods between the user's first and last visible interaction.

    Parameters
    ----------
    timestamps : csr_matrix of shape (n_users, n_items)
        Time of each interaction (e.g. Unix seconds) at the cells of the interaction matrix; only
        the cells that are visible at a stage are read. Users past ``n_users`` (unknown at fit
        time) get NaN.
    bandwidths : sequence of int
        Half-widths, in periods, of the windows of ``time_lift_b``.
    unit : float
        Length of a period in timestamp units (86,400 for Unix seconds → days).
    """

    def __init__(
        self,
        timestamps,
        bandwidths: Sequence[int] = (0, 3, 14),
        unit: float = _DAY,
    ):
        self.timestamps = timestamps
        self.bandwidths = tuple(int(b) for b in bandwidths)
        self.unit = float(unit)
        if any(b < 0 for b in self.bandwidths):
            raise ValueError(f"bandwidths must be >= 0, got {self.bandwidths}")
        if self.unit <= 0:
            raise ValueError(f"unit must be > 0, got {unit}")
        self._cache_key = None
        self._cache = None

    @property
    def names(self) -> list[str]:
        """Column names, in the order of the returned features."""
        return [f"time_lift_{b}" for b in self.bandwidths] + [
            "time_gap",
            "time_item_age",
            "time_user_span",
        ]

    # -------------------------------------------------------------- helpers
    def _periods(self, mask: sp.csr_matrix, rows: np.ndarray | None = None):
        """(row, item, period) of the visible cells of ``mask`` (rows of ``timestamps``)."""
        ts = self._ts
        coo = mask.tocoo()
        src = coo.row if rows is None else rows[coo.row]
        known = src < ts.shape[0]
        r, c, src = coo.row[known], coo.col[known], src[known]
        t = np.asarray(ts[src, c]).ravel() if len(src) else np.empty(0)
        return r, c, np.floor(t / self.unit).astype(np.int64)

    def _item_stage(self, visible: sp.csr_matrix) -> dict:
        """Per-item period counts and summaries of the visible interactions (cached per stage)."""
        key = (id(visible), visible.shape, visible.nnz)
        if self._cache_key == key:
            return self._cache
        _, c, p = self._periods(visible)
        n_items = visible.shape[1]
        if len(p):
            p0 = int(p.min())
            n_p = int(p.max()) - p0 + 1
        else:
            p0, n_p = 0, 1
        counts = np.zeros((n_items, n_p))
        np.add.at(counts, (c, p - p0), 1.0)
        total = counts.sum(axis=1)
        order = np.lexsort((p, c))
        cs, ps = c[order], p[order]
        first = np.full(n_items, np.nan)
        median = np.full(n_items, np.nan)
        bounds = np.searchsorted(cs, np.arange(n_items + 1))
        lo, hi = bounds[:-1], bounds[1:]
        has = hi > lo
        first[has] = ps[lo[has]]
        # lower median of each item's sorted periods
        median[has] = ps[lo[has] + (hi[has] - lo[has] - 1) // 2]
        self._cache_key = key
        self._cache = {
            "p0": p0,
            "n_p": n_p,
            "counts": counts,
            "total": total,
            "all": counts.sum(axis=0),
            "first": first,
            "median": median,
        }
        return self._cache

    # ----------------------------------------------------------------- call
    def __call__(self, users, items, context) -> np.ndarray:
        """Feature rows of the pairs (``context.row[k]``, ``items[k]``); see the class doc."""
        self._ts = _check_matrix(self.timestamps, None, "timestamps")
        visible = context.visible
        if self._ts.shape[1] != visible.shape[1]:
            raise ValueError(
                f"timestamps have {self._ts.shape[1]} item columns, the interactions "
                f"{visible.shape[1]}"
            )
        st = self._item_stage(visible)
        p0, n_p = st["p0"], st["n_p"]
        rows = context.user_items
        n_rows = rows.shape[0]
        r, _, p = self._periods(rows, np.asarray(context.userids))
        pr, pi = np.asarray(context.row), np.asarray(items)
        inside = (p >= p0) & (p < p0 + n_p)
        user_hist = np.zeros((n_rows, n_p))
        np.add.at(user_hist, (r[inside], p[inside] - p0), 1.0)
        n_user = np.bincount(r, minlength=n_rows).astype(np.float64)
        out = []
        for b in self.bandwidths:
            # share of the user's interactions within b periods of each period
            c = np.cumsum(np.pad(user_hist, ((0, 0), (1, 0))), axis=1)
            idx = np.arange(n_p)
            near = c[:, np.minimum(idx + b + 1, n_p)] - c[:, np.maximum(idx - b, 0)]
            share = near / np.maximum(n_user, 1.0)[:, None]
            near_items = share @ st["counts"].T  # (n_rows, n_items): dense per batch
            item_mean = near_items[pr, pi] / np.maximum(st["total"][pi], 1.0)
            base = share @ st["all"] / max(st["all"].sum(), 1.0)
            lift = item_mean / np.maximum(base[pr], 1e-12)
            ok = (n_user[pr] > 0) & (st["total"][pi] > 0) & (base[pr] > 0)
            out.append(np.where(ok, lift, np.nan))
        u_med = np.full(n_rows, np.nan)
        u_span = np.full(n_rows, np.nan)
        if len(r):
            order = np.lexsort((p, r))
            rs, ps = r[order], p[order].astype(np.float64)
            bounds = np.searchsorted(rs, np.arange(n_rows + 1))
            lo, hi = bounds[:-1], bounds[1:]
            has = hi > lo
            u_med[has] = ps[lo[has] + (hi[has] - lo[has] - 1) // 2]
            u_span[has] = ps[hi[has] - 1] - ps[lo[has]]
        out.append(np.abs(u_med[pr] - st["median"][pi]))
        out.append(u_med[pr] - st["first"][pi])
        out.append(u_span[pr])
        del self._ts
        return np.column_stack(out)


class ItemAttributeFeatures:
    """A candidate's attributes against the user's visible history.

    Parameters
    ----------
    flags : ndarray of shape (n_items, n_flags), optional
        Binary attributes (e.g. genres; several may be set per item). Features: ``attr_match``
        — mean, over the candidate's flags, of the share of the user's history carrying that
        flag; ``attr_match_lift`` — that divided by the same mean for the whole visible catalogue
        of interactions (> 1: the user leans to the candidate's flags more than others do).
    numbers : ndarray of shape (n_items, n_numbers), optional
        Numeric attributes (e.g. release year); NaN = unknown. Per column ``c``: ``c`` (the
        candidate's value) and ``c_diff`` (candidate value minus the user's history mean).
    number_names : sequence of str
        Names of the numeric columns.
    """

    def __init__(self, flags=None, numbers=None, number_names: Sequence[str] = ()):
        self.flags = None if flags is None else np.asarray(flags, dtype=np.float64)
        self.numbers = None if numbers is None else np.asarray(numbers, dtype=np.float64)
        self.number_names = tuple(str(n) for n in number_names)
        if self.numbers is not None and self.numbers.shape[1] != len(self.number_names):
            raise ValueError(
                f"{self.numbers.shape[1]} numeric columns but {len(self.number_names)} names"
            )
        if self.flags is not None and not np.isin(self.flags, (0.0, 1.0)).all():
            raise ValueError("flags must be 0 or 1")

    @property
    def names(self) -> list[str]:
        """Column names, in the order of the returned features."""
        out = ["attr_match", "attr_match_lift"] if self.flags is not None else []
        for n in self.number_names:
            out += [n, f"{n}_diff"]
        return out

    def __call__(self, users, items, context) -> np.ndarray:
        """Feature rows of the pairs (``context.row[k]``, ``items[k]``); see the class doc."""
        pr, pi = np.asarray(context.row), np.asarray(items)
        hist = binarize(context.user_items)
        n_hist = np.diff(hist.indptr).astype(np.float64)
        out = []
        for arr in (self.flags, self.numbers):
            if arr is not None and arr.shape[0] != hist.shape[1]:
                raise ValueError(
                    f"item attributes have {arr.shape[0]} rows for {hist.shape[1]} items"
                )
        if self.flags is not None:
            f = self.flags
            profile = np.asarray(hist @ f) / np.maximum(n_hist, 1.0)[:, None]
            visible = binarize(context.visible)
            counts = np.asarray(visible.sum(axis=0)).ravel()
            base = counts @ f / max(counts.sum(), 1.0)
            n_flags = f[pi].sum(axis=1)
            match = np.einsum("ij,ij->i", f[pi], profile[pr]) / np.maximum(n_flags, 1.0)
            base_match = f[pi] @ base / np.maximum(n_flags, 1.0)
            ok = (n_hist[pr] > 0) & (n_flags > 0)
            out.append(np.where(ok, match, np.nan))
            out.append(
                np.where(ok & (base_match > 0), match / np.maximum(base_match, 1e-12), np.nan)
            )
        if self.numbers is not None:
            v = self.numbers
            known = np.isfinite(v)
            filled = np.where(known, v, 0.0)
            total = np.asarray(hist @ filled)
            n_known = np.asarray(hist @ known.astype(np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n_known > 0, total / np.maximum(n_known, 1.0), np.nan)
            for j in range(v.shape[1]):
                out.append(v[pi, j])
                out.append(v[pi, j] - mean[pr, j])
        return np.column_stack(out) if out else np.zeros((len(pi), 0))


class FeatureSet:
    """Several extra-feature callables (each with ``names``) as one, columns side by side."""

    def __init__(self, parts: Sequence):
        self.parts = list(parts)

    @property
    def names(self) -> list[str]:
        """Names of every part's columns, in order."""
        return [n for p in self.parts for n in p.names]

    def __call__(self, users, items, context) -> np.ndarray:
        """Every part's columns side by side."""
        cols = [np.asarray(p(users, items, context), dtype=np.float64) for p in self.parts]
        return np.column_stack(cols) if cols else np.zeros((len(items), 0))
