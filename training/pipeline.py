"""``ganxun train``: load + validate → features → fit → evaluate → track → bundle."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ganxun.features.contracts import ValidationReport, validate
from ganxun.features.events import events_as_tables
from ganxun.features.split import EVENT_DATES, default_split_date
from ganxun.training import sources
from ganxun.training.bundle import save_bundle
from ganxun.training.config import TrainConfig
from ganxun.training.database import default_url, load_events, make_engine
from ganxun.training.engine import Engine, fit_for_bundle, get_engine  # noqa: F401 - re-exported
from ganxun.training.evaluate import evaluate
from ganxun.training.registry import register_bundle
from ganxun.training.run_report import write_figures
from ganxun.training.tracking import log_run

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced."""

    bundle: Path
    metrics: dict[str, float]
    report: ValidationReport
    run_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None  # the registered MLflow model version
    rows_set_aside: int | None = None  # every problem (``report.problems`` may hold the first)

    def __post_init__(self) -> None:
        if self.rows_set_aside is None:
            self.rows_set_aside = len(self.report.problems)


def stored_events_url(out: Path) -> str | None:
    """The event store to read: ``GANXUN_DATABASE_URL``, else the artifacts' SQLite file if any."""
    url = os.environ.get("GANXUN_DATABASE_URL")
    if url:
        return url
    path = out / "ganxun.db"
    return default_url(out) if path.exists() else None


def load_validated(data: str | Path, events_url: str | None = None) -> ValidationReport:
    """Read the raw tables (plus stored events, if any) and validate them.

    Events received by the service become rows appended to enrollments, responses and
    course_ratings, so the next retrain absorbs them. Fatal problems raise ContractError.
    """
    raw = sources.read_tables(data)
    if events_url:
        engine = make_engine(events_url)
        try:
            extra = events_as_tables(load_events(engine))
        finally:
            engine.dispose()
        for name, rows in extra.items():
            log.info("adding %d stored events to %s", len(rows), name)
            base = raw.get(name)
            raw[name] = (
                rows
                if base is None
                else pd.concat([base.astype(object), rows.astype(object)], ignore_index=True)
            )
    report = validate(raw)
    report.raise_if_fatal()
    return report


def train(
    data: str | Path,
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    track: bool = True,
    progress: bool = True,
    engine: str | Engine = "pandas",
    spark_master: str | None = None,
) -> TrainResult:
    """Train every model on ``data`` and write a bundle under ``out``.

    Parameters
    ----------
    data : str or Path
        A folder of raw tables (with an optional ``truth/`` folder beside them) or a database URL
        (with the Spark engine also ``jdbc:…`` or ``hive:DB``).
    out : str or Path
        The artifacts folder: bundles, the MLflow store and the validation report go here.
    config : TrainConfig, optional
        Hyper-parameters and the time split.
    track : bool
        Log the run to MLflow.
    progress : bool
        Show a progress bar over the steps.
    engine : str or Engine
        ``"pandas"`` (default: this process) or ``"spark"`` (:mod:`ganxun.training.spark`), or
        an engine object; every engine writes the same bundle.
    spark_master : str, optional
        The Spark master URL (``local[*]`` when omitted) for ``engine="spark"``.
    """
    config = config or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    eng = get_engine(engine, spark_master) if isinstance(engine, str) else engine
    if hasattr(eng, "configure"):
        eng.configure(config)
    steps = ["load + validate", "fit (split)", "evaluate", "fit (all data)", "bundle", "track"]
    bar = tqdm(steps, desc=f"train ({eng.name})", unit="step", disable=not progress)
    timings: dict[str, float] = {}

    def step(name: str) -> None:
        timings[name] = time.perf_counter()
        bar.set_postfix_str(name)

    step("load + validate")
    loaded = eng.load(data, out, stored_events_url(out))
    if loaded.n_problems:
        log.warning("%d rows set aside; see %s", loaded.n_problems, loaded.problems_file)
    truth = None if _is_url(data) else sources.read_truth(Path(data) / "truth")
    bar.update()

    step("fit (split)")
    asof = loaded.latest + pd.Timedelta(days=1)
    split = default_split_date(_latest_only(loaded.latest), config.test_months)
    try:
        eng.start_final(asof, config)
        at_split = eng.fit_split(split, config)
        bar.update()

        step("evaluate")
        metrics = evaluate(at_split, loaded.tables, truth, config.recommender.k)
        bar.update()

        step("fit (all data)")  # with a second process: only the wait for it
        fitted = eng.fit_final(asof, config)
        bar.update()

        step("bundle")
        manifest = {
            "data_fingerprint": loaded.fingerprint,
            "split_date": split.date().isoformat(),
            "metrics": metrics,
            "config": config.model_dump(),
            "rows": loaded.rows,
            "rows_set_aside": loaded.n_problems,
            **loaded.extra_manifest,
        }
        with tempfile.TemporaryDirectory(dir=out) as work:
            bundle = save_bundle(fitted, out, manifest, eng.bundle_files(fitted, Path(work)))
    finally:  # done, or a fit failed: never wait for a second process
        eng.close()
    bar.update()

    step("track")
    run_id, version = None, None
    if track:
        figures = write_figures(
            at_split, fitted, loaded.tables, metrics, out / "figures" / bundle.name
        )
        run_id = log_run(
            out,
            params=config.model_dump(),
            metrics={**metrics, **{f"time.{k}_s": v for k, v in _durations(timings).items()}},
            files=[bundle / "manifest.json", loaded.problems_file],
            figures=figures,
            tags={
                "bundle_version": bundle.name,
                "data_fingerprint": manifest["data_fingerprint"],
                "engine": eng.name,
            },
        )
        version = register_bundle(bundle, run_id, out).version
    bar.update()
    bar.close()
    timings = _durations(timings)
    log.info("bundle %s written in %.1fs", bundle.name, sum(timings.values()))
    return TrainResult(bundle, metrics, loaded.report, run_id, timings, version, loaded.n_problems)


def _is_url(data: str | Path) -> bool:
    """A database, JDBC or Hive source (no ``truth/`` folder beside it)."""
    return sources.is_database_url(data) or str(data).startswith(("jdbc:", "hive:"))


def _latest_only(latest: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """A one-row event table holding ``latest`` (what ``default_split_date`` reads)."""
    table, column = next(iter(EVENT_DATES.items()))
    return {table: pd.DataFrame({column: [latest]})}


#: Answers plus enrolments from which ``parallel_fit = "auto"`` fits in a second process.
PARALLEL_MIN_ROWS = 200_000


def use_parallel_fit(config: TrainConfig, tables: dict[str, pd.DataFrame]) -> bool:
    """Whether the all-data fit runs in a second process (see ``TrainConfig.parallel_fit``)."""
    if config.parallel_fit != "auto":
        return config.parallel_fit == "on"
    rows = sum(len(tables[t]) for t in ("responses", "enrollments") if t in tables)
    return (os.cpu_count() or 1) >= 2 and rows >= PARALLEL_MIN_ROWS


def _durations(starts: dict[str, float]) -> dict[str, float]:
    """Seconds per step from the steps' start times (the last step ends now)."""
    ends = list(starts.values())[1:] + [time.perf_counter()]
    return {k: round(e - s, 3) for (k, s), e in zip(starts.items(), ends, strict=True)}
