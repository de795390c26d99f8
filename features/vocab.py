"""One mapping between external ids (``cadre_id``) and internal indices (``cadre_idx``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


class Vocabulary:
    """Map external string ids to contiguous integer indices and back.

    Fitted once on training data; ids never seen get ``-1`` from :meth:`index`, so callers decide
    how to treat them (cold start, 404) instead of silently getting someone else's row.
    """

    def __init__(self, ids: Iterable[str]):
        self.ids_ = np.asarray(pd.unique(pd.Series(list(ids), dtype="object")), dtype=object)
        self._pos = pd.Index(self.ids_)

    def __len__(self) -> int:
        return len(self.ids_)

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def index(self, ids: Iterable[str] | pd.Series) -> np.ndarray:
        """Indices of ``ids`` (``-1`` for ids not in the vocabulary)."""
        return self._pos.get_indexer(pd.Index(list(ids) if not isinstance(ids, pd.Series) else ids))

    def one(self, key: str) -> int:
        """Index of a single id, or ``-1`` when unknown."""
        return int(self._pos.get_loc(key)) if key in self._pos else -1

    def lookup(self, idx: Iterable[int] | np.ndarray) -> np.ndarray:
        """External ids at the given indices."""
        return self.ids_[np.asarray(idx, dtype=np.int64)]


def ids_in(ids, among) -> np.ndarray:
    """Boolean mask of which ``ids`` are among ``among`` (both array-likes of string ids).

    ``Series.isin`` on pandas' string dtype walks the value set in Python (a quarter of a second
    per call for a city's 20,000 cadres, and the hour rules make hundreds of such calls); Arrow's
    hash join does it in milliseconds. Missing ids are never among anything.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = list(among) if isinstance(among, set | frozenset) else among
    if isinstance(getattr(ids, "dtype", None), pd.CategoricalDtype):  # test each category once
        cat = pd.Categorical(ids)
        known = ids_in(np.asarray(cat.categories, dtype=object), values)
        return (cat.codes >= 0) & np.append(known, False)[cat.codes]

    def strings(x):
        if not isinstance(x, pd.Series | pd.Index):
            x = np.asarray(x, dtype=object)
        return pa.array(x, type=pa.string(), from_pandas=True)

    try:
        left, right = strings(ids), strings(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all strings: pandas' own way
        return pd.Index(np.asarray(ids, dtype=object)).isin(np.asarray(values, dtype=object))
    mask = pc.is_in(left, value_set=right, skip_nulls=True)
    return mask.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
