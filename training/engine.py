"""Training engines: where ``ganxun train`` reads, validates and fits (one small interface).

``pandas`` (the default) runs in this process on pandas / NumPy tables; ``spark`` runs the same
steps on Apache Spark (:mod:`ganxun.training.spark`, imported only when chosen, so the default
engine and ``make demo`` never need Java). Both produce the same :class:`Fitted` and so the same
bundle; the pipeline (:func:`ganxun.training.pipeline.train`) only calls the methods below.
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Protocol

import pandas as pd

from ganxun.features.contracts import Problem, ValidationReport
from ganxun.features.split import before
from ganxun.training.bundle import fingerprint
from ganxun.training.config import TrainConfig
from ganxun.training.fitting import Fitted, default_lists, fit_all

log = logging.getLogger(__name__)

ENGINES = ("pandas", "spark")


@dataclass
class Loaded:
    """What loading + validation gave the pipeline.

    ``tables`` are the clean tables the driver evaluates on (pandas): every row with the default
    engine, the driver's sample of cadres with the Spark engine. ``problems`` holds the first
    problems (for printing); ``n_problems`` counts them all; ``problems_file`` holds them all.
    """

    report: ValidationReport
    n_problems: int
    problems_file: Path
    fingerprint: str
    rows: dict[str, int]
    latest: pd.Timestamp  # the newest event date over every event table
    extra_manifest: dict = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The clean tables on the driver (see the class docstring)."""
        return self.report.tables

    @property
    def problems(self) -> list[Problem]:
        """The first problems found (all of them with the default engine)."""
        return self.report.problems


class Engine(Protocol):
    """The steps of ``ganxun train`` that depend on where the data live."""

    name: str

    def load(self, data: str | Path, out: Path, events_url: str | None) -> Loaded:
        """Read and validate the raw tables (fatal problems raise ``ContractError``)."""

    def start_final(self, asof: pd.Timestamp, config: TrainConfig) -> None:
        """Start the all-data fit early where the engine can (optional)."""

    def fit_split(self, split: pd.Timestamp, config: TrainConfig) -> Fitted:
        """Fit on what was known before ``split`` (for the offline evaluation; no planners)."""

    def fit_final(self, asof: pd.Timestamp, config: TrainConfig) -> Fitted:
        """Fit on all data as of ``asof``, with every cadre's default list."""

    def bundle_files(self, fitted: Fitted, work: Path) -> dict[str, Path]:
        """Extra files the bundle embeds (name → file)."""

    def close(self) -> None:
        """Release what the engine holds (a second process, a Spark session's caches)."""


class PandasEngine:
    """The default engine: pandas tables in this process (the all-data fit may use a second)."""

    name = "pandas"

    def __init__(self) -> None:
        self._tables: dict[str, pd.DataFrame] = {}
        self._pool: Pool | None = None
        self._final: AsyncResult | None = None

    def load(self, data, out: Path, events_url: str | None) -> Loaded:
        """Read + validate with :func:`ganxun.training.pipeline.load_validated`; problems.csv."""
        from ganxun.features.split import latest_event
        from ganxun.training.pipeline import load_validated

        report = load_validated(data, events_url)
        self._tables = report.tables
        problems_csv = out / "problems.csv"
        report.problems_frame().to_csv(problems_csv, index=False)
        return Loaded(
            report=report,
            n_problems=len(report.problems),
            problems_file=problems_csv,
            fingerprint=fingerprint(report.tables),
            rows={name: int(len(df)) for name, df in report.tables.items()},
            latest=latest_event(report.tables),
        )

    def start_final(self, asof, config) -> None:
        """Start the all-data fit in a spawned process when ``use_parallel_fit`` says so."""
        from ganxun.training.pipeline import use_parallel_fit

        if not use_parallel_fit(config, self._tables):
            return
        try:
            self._pool = multiprocessing.get_context("spawn").Pool(1)
            self._final = self._pool.apply_async(fit_for_bundle, (self._tables, asof, config))
        except OSError as exc:  # no processes allowed here: fit in line
            log.warning("fitting in one process (%s)", exc)
            self._pool = self._final = None

    def fit_split(self, split, config) -> Fitted:
        """:func:`fit_all` on the tables before ``split``, without planners."""
        return fit_all(before(self._tables, split), split, config, planning=False)

    def fit_final(self, asof, config) -> Fitted:
        """The second process's result, or :func:`fit_for_bundle` here."""
        if self._final is not None:
            fitted = self._final.get()
            # done: let the worker exit on its own, so that it releases what it holds (a worker
            # killed mid-way leaves a semaphore behind, reported as leaked when the process ends)
            self._pool.close()
            self._pool.join()
            self._pool = self._final = None
            return fitted
        return fit_for_bundle(self._tables, asof, config)

    def bundle_files(self, fitted, work) -> dict[str, Path]:
        """None: the joblib parts hold everything."""
        return {}

    def close(self) -> None:
        """Stop the second process if it still runs (the split fit failed: never wait for it)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = self._final = None


def fit_for_bundle(
    tables: dict[str, pd.DataFrame], asof: pd.Timestamp, config: TrainConfig
) -> Fitted:
    """:func:`fit_all` on all data, plus every cadre's default recommendation list."""
    fitted = fit_all(tables, asof, config)
    fitted.lists = default_lists(fitted)
    return fitted


def get_engine(name: str = "pandas", spark_master: str | None = None) -> Engine:
    """The engine called ``name``; ``spark`` imports pyspark here and nowhere earlier."""
    if name == "pandas":
        if spark_master:
            raise ValueError("--spark-master needs --engine spark")
        return PandasEngine()
    if name == "spark":
        from ganxun.training.spark.engine import SparkEngine

        return SparkEngine(master=spark_master)
    raise ValueError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
