"""Small array helpers of the simulation: ids, dates, Arrow text columns, categorical draws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from ganxun.simulation.params import NEVER


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    """The inverse of :func:`sigmoid`."""
    return np.log(p) - np.log1p(-p)


def index_of(values, vocabulary) -> np.ndarray:
    """Positions of ``values`` in ``vocabulary``; ``KeyError`` naming up to five unknown ones."""
    idx = pd.Index(np.asarray(vocabulary).astype(str)).get_indexer(np.asarray(values).astype(str))
    if (idx < 0).any():
        bad = np.asarray(values)[idx < 0][:5]
        raise KeyError(f"unknown ids: {list(bad)}")
    return idx


def day_number(ts: pd.Timestamp) -> int:
    """Days since 1970-01-01 of a date (the simulation's integer dates)."""
    return int(np.datetime64(pd.Timestamp(ts).date(), "D").astype(np.int64))


def dates_from_days(days: np.ndarray) -> np.ndarray:
    """``datetime64[ns]`` dates of day numbers; :data:`NEVER` becomes NaT."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days == NEVER] = np.datetime64("NaT")
    return out


def make_ids(prefix: str, width: int, n: int) -> list[str]:
    """``n`` ids such as ``C000001``: a prefix and a zero-padded 1-based number."""
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def text_column(vocabulary: Sequence[str], codes) -> pd.Series:
    """Strings ``vocabulary[codes]`` (code -1 is missing), built in Arrow: fast and compact."""
    codes = np.asarray(codes, dtype=np.int64)
    taken = pa.array(list(vocabulary), pa.string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="str"))


def pick_rows(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of the probability matrix ``p`` (rows sum to 1)."""
    cum = np.cumsum(p, axis=1)
    out = (rng.random(len(p))[:, None] * cum[:, -1:] > cum).sum(axis=1)
    return np.minimum(out, p.shape[1] - 1)


def round_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weights of ``n`` topics with the first the main one, rounded to 0.01 and summing to 1."""
    if n == 1:
        return np.array([1.0])
    main = rng.uniform(0.5, 0.8)
    rest = (1.0 - main) * rng.dirichlet(np.full(n - 1, 4.0))
    w = np.maximum(np.round(np.concatenate([[main], rest]), 2), 0.05)
    w[0] = round(1.0 - w[1:].sum(), 2)
    return w


class Rows:
    """Typed column buffers appended month by month and concatenated once.

    ``defaults`` gives the value of a column that a batch leaves out.
    """

    def __init__(self, defaults: dict | None = None, **dtypes: type):
        self.dtypes = dtypes
        self.defaults = defaults or {}
        self.cols: dict[str, list[np.ndarray]] = {n: [] for n in dtypes}

    def add(self, **cols: np.ndarray) -> None:
        """Append one batch of rows (scalars broadcast to the batch size)."""
        arrays = [np.size(v) for v in cols.values() if np.ndim(v) > 0]
        size = max(arrays) if arrays else 1
        for name, buf in self.cols.items():
            value = cols[name] if name in cols else self.defaults[name]
            col = np.asarray(value).astype(self.dtypes[name], copy=False)
            buf.append(np.broadcast_to(col, (size,)).copy())

    def get(self) -> dict[str, np.ndarray]:
        """Every column as one array (concatenated once, then kept)."""
        for name, buf in self.cols.items():
            if len(buf) != 1:
                self.cols[name] = [np.concatenate(buf) if buf else np.zeros(0, self.dtypes[name])]
        return {name: buf[0] for name, buf in self.cols.items()}
