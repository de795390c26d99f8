"""Read and write raw tables and truth: folders of CSV/Parquet/Excel files or a SQL database."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ganxun.features.contracts import LIST_SEP, TABLES

log = logging.getLogger(__name__)

SUFFIXES = (".parquet", ".csv", ".xlsx")


def is_database_url(source: str | Path) -> bool:
    """True when ``source`` looks like a SQLAlchemy URL (``postgresql://…``, ``sqlite:///…``)."""
    return "://" in str(source)


def read_tables(source: str | Path) -> dict[str, pd.DataFrame]:
    """Read every contract table found in a folder or a database.

    In a folder, table ``name`` is ``name.parquet``, ``name.csv`` or ``name.xlsx`` (the first that
    exists). Values are read as they are; :func:`ganxun.features.contracts.validate` coerces and
    checks them. Tables that are absent are simply not in the result (validation reports them).
    """
    if is_database_url(source):
        return _read_database(str(source))
    folder = Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    out: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        for suffix in SUFFIXES:
            path = folder / f"{name}{suffix}"
            if path.exists():
                out[name] = _read_file(path)
                break
    return out


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
        )
    return pd.read_excel(path, dtype=object)


def _read_database(url: str) -> dict[str, pd.DataFrame]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        present = set(sa.inspect(engine).get_table_names())
        with engine.connect() as conn:
            return {n: pd.read_sql_table(n, conn) for n in TABLES if n in present}
    finally:
        engine.dispose()


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` with tuple/list cells joined by the contract's list separator."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, (tuple, list))).any():
            out[c] = out[c].map(lambda v: LIST_SEP.join(v) if isinstance(v, (tuple, list)) else v)
    return out


def write_tables(tables: dict[str, pd.DataFrame], target: str | Path, fmt: str = "parquet") -> None:
    """Write tables to a folder as ``fmt`` files (parquet, csv or xlsx) or to a database URL."""
    if is_database_url(target):
        import sqlalchemy as sa

        engine = sa.create_engine(str(target))
        try:
            for name, df in tables.items():
                _flat(df).to_sql(name, engine, if_exists="replace", index=False, chunksize=50_000)
        finally:
            engine.dispose()
        return
    folder = Path(target)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        flat = _flat(df)
        if fmt == "parquet":
            flat.to_parquet(folder / f"{name}.parquet", index=False)
        elif fmt == "csv":
            flat.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
        elif fmt == "xlsx":
            flat.to_excel(folder / f"{name}.xlsx", index=False)
        else:
            raise ValueError(f"unknown format {fmt!r}: use parquet, csv or xlsx")


def write_truth(truth: dict[str, object], folder: str | Path) -> None:
    """Write the synthetic city's hidden truth: frames as parquet, arrays as npz, params as json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for key, value in truth.items():
        if isinstance(value, pd.DataFrame):
            value.to_parquet(folder / f"{key}.parquet", index=False)
        elif isinstance(value, dict):
            (folder / f"{key}.json").write_text(
                json.dumps(value, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
        elif isinstance(value, pd.DatetimeIndex):
            arrays[key] = value.to_numpy().astype("datetime64[D]")
        else:
            arr = np.asarray(value)
            arrays[key] = arr.astype(str) if arr.dtype == object else arr
    if arrays:
        np.savez_compressed(folder / "arrays.npz", **arrays)


def read_truth(folder: str | Path) -> dict[str, object] | None:
    """Read a truth folder written by :func:`write_truth`; None when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    truth: dict[str, object] = {}
    for path in folder.glob("*.parquet"):
        truth[path.stem] = pd.read_parquet(path)
    for path in folder.glob("*.json"):
        truth[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    npz = folder / "arrays.npz"
    if npz.exists():
        with np.load(npz, allow_pickle=False) as data:
            for key in data.files:
                value = data[key]
                truth[key] = pd.DatetimeIndex(value) if value.dtype.kind == "M" else value
    return truth
