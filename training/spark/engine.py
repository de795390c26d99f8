"""The Spark engine behind ``ganxun train --engine spark [--spark-master URL]``."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ganxun.features.contracts import Problem, ValidationReport
from ganxun.features.split import EVENT_DATES
from ganxun.training.config import TrainConfig
from ganxun.training.engine import Loaded
from ganxun.training.fitting import Fitted
from ganxun.training.spark.fit import (
    SparkTables,
    fit_spark,
    sample_tables,
    split_tables,
    stratified_sample,
)
from ganxun.training.spark.lists import default_lists_spark, per_cadre_frames
from ganxun.training.spark.read import ROW, read_raw
from ganxun.training.spark.session import spark_session
from ganxun.training.spark.validate import validate_spark

log = logging.getLogger(__name__)

#: How many problems the driver reads back for the command line to print.
PROBLEMS_SHOWN = 10


class SparkEngine:
    """Read, validate and fit on Spark; the pipeline's other steps are the default engine's."""

    name = "spark"

    def __init__(self, master: str | None = None, spark=None) -> None:
        self.master = master
        self._spark = spark
        self._tables: SparkTables | None = None
        self._sample: np.ndarray | None = None
        self._config: TrainConfig | None = None

    @property
    def spark(self):
        """The session (created on first use)."""
        if self._spark is None:
            parts = self._config.spark.shuffle_partitions if self._config else 0
            self._spark = spark_session(self.master, shuffle_partitions=parts or None)
        return self._spark

    def configure(self, config: TrainConfig) -> None:
        """Remember the configuration before the session starts (its shuffle partitions)."""
        self._config = config

    def load(self, data, out: Path, events_url: str | None) -> Loaded:
        """Read with ``spark.read``, validate in Spark, write ``problems.parquet`` under ``out``.

        Stored service events are appended as in the default engine (read on the driver: they
        are the few events since the last training).
        """
        spark = self.spark
        raw = read_raw(spark, data)
        if events_url:
            raw = _with_events(spark, raw, events_url)
        checked = validate_spark(spark, raw)
        problems_dir = out / "problems.parquet"
        checked.write_problems(str(problems_dir))
        checked.raise_if_fatal()
        files = sorted(problems_dir.glob("*.parquet"))
        first = spark.read.parquet(str(problems_dir)).limit(PROBLEMS_SHOWN).toPandas()
        n_problems = spark.read.parquet(str(problems_dir)).count()
        self._tables = split_tables(checked.tables)
        config = self._config or TrainConfig()
        self._sample = stratified_sample(
            self._tables.driver["cadres"],
            self._tables.driver["units"],
            config.spark.sample_cadres,
            config.seed,
        )
        evaluated = sample_tables(spark, self._tables, self._sample)
        report = ValidationReport(evaluated, [_problem(r) for r in first.to_dict("records")])
        rows = {n: int(len(df)) for n, df in self._tables.driver.items()}
        rows |= {n: int(df.count()) for n, df in self._tables.events.items()}
        return Loaded(
            report=report,
            n_problems=int(n_problems),
            problems_file=files[0] if files else problems_dir,
            fingerprint=_fingerprint(self._tables),
            rows=rows,
            latest=_latest(self._tables),
            extra_manifest={
                "engine": "spark",
                "spark_master": spark.sparkContext.master,
                "driver_sample_cadres": int(len(self._sample)),
            },
        )

    def start_final(self, asof, config) -> None:
        """Nothing: Spark parallelises within each fit."""

    def fit_split(self, split, config) -> Fitted:
        """:func:`fit_spark` on the tables before ``split``, without planners."""
        return fit_spark(self.spark, self._tables.before(split), split, config, planning=False)

    def fit_final(self, asof, config) -> Fitted:
        """:func:`fit_spark` on all data, and every cadre's default list in Spark."""
        fitted = fit_spark(self.spark, self._tables, asof, config)
        fitted.lists = default_lists_spark(self.spark, fitted, config.spark.cadres_per_batch)
        return fitted

    def bundle_files(self, fitted, work: Path) -> dict[str, Path]:
        """``reserve.parquet`` and ``lists.parquet``: the per-cadre outputs as tables."""
        work.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, frame in per_cadre_frames(fitted).items():
            path = work / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            out[path.name] = path
        return out

    def close(self) -> None:
        """Drop cached tables (the session stays for the process, as Spark prefers)."""
        if self._spark is not None:
            self._spark.catalog.clearCache()


def _problem(row: dict) -> Problem:
    row_no = row["row"]
    return Problem(
        row["table"],
        None if pd.isna(row_no) else int(row_no),
        row["column"],
        row["reason"],
        bool(row["fatal"]),
    )


def _latest(tables: SparkTables) -> pd.Timestamp:
    """The newest event date over the event tables (Spark and driver ones)."""
    from pyspark.sql import functions as F

    dates = []
    for name, column in EVENT_DATES.items():
        if name in tables.events:
            value = tables.events[name].agg(F.max(column)).first()[0]
        elif name in tables.driver and len(tables.driver[name]):
            value = tables.driver[name][column].max()
        else:
            value = None
        if value is not None and pd.notna(value):
            dates.append(pd.Timestamp(value))
    return max(dates)


def _fingerprint(tables: SparkTables) -> str:
    """SHA-256 over every table's rows, from row hashes summed where the rows are.

    Not the default engine's fingerprint (which hashes the driver's columns in order).
    """
    from pyspark.sql import functions as F

    h = hashlib.sha256()
    for name in sorted({**tables.driver, **tables.events}):
        if name in tables.events:
            df = tables.events[name]
            cols = [c for c in df.columns if c != ROW]
            n, total = df.agg(F.count("*"), F.sum(F.xxhash64(*cols).cast("decimal(38,0)"))).first()
        else:
            df = tables.driver[name]
            cols = list(df.columns)
            n = len(df)
            total = int(pd.util.hash_pandas_object(df, index=False).astype("uint64").sum())
        h.update(f"{name}:{n}:{','.join(cols)}:{total}".encode())
    return h.hexdigest()


def _with_events(spark, raw: dict, events_url: str) -> dict:
    """Raw tables plus the service's stored events (as rows of the event tables)."""
    from pyspark.sql import functions as F

    from ganxun.features.events import events_as_tables
    from ganxun.training.database import load_events, make_engine
    from ganxun.training.spark.read import _from_pandas, with_row_numbers

    engine = make_engine(events_url)
    try:
        extra = events_as_tables(load_events(engine))
    finally:
        engine.dispose()
    out = dict(raw)
    for name, rows in extra.items():
        if not len(rows):
            continue
        log.info("adding %d stored events to %s", len(rows), name)
        added = _from_pandas(spark, rows)
        base = raw.get(name)
        if base is None:
            out[name] = with_row_numbers(added)
            continue
        base = base.drop(ROW)
        for c in base.columns:
            if c not in added.columns:
                added = added.withColumn(c, F.lit(None))
        added = added.select(*[added[c].cast(base.schema[c].dataType) for c in base.columns])
        out[name] = with_row_numbers(base.unionByName(added))
    return out
