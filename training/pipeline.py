"""``ganxun train``: load + validate → features → fit → evaluate → track → bundle."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ganxun.features.contracts import ValidationReport, validate
from ganxun.features.events import events_as_tables
from ganxun.features.split import before, default_split_date, latest_event
from ganxun.training import sources
from ganxun.training.bundle import fingerprint, save_bundle
from ganxun.training.config import TrainConfig
from ganxun.training.database import default_url, load_events, make_engine
from ganxun.training.evaluate import evaluate
from ganxun.training.fitting import Fitted, default_lists, fit_all
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
) -> TrainResult:
    """Train every model on ``data`` and write a bundle under ``out``.

    Parameters
    ----------
    data : str or Path
        A folder of raw tables (with an optional ``truth/`` folder beside them) or a database URL.
    out : str or Path
        The artifacts folder: bundles, the MLflow store and the validation report go here.
    config : TrainConfig, optional
        Hyper-parameters and the time split.
    track : bool
        Log the run to MLflow.
    progress : bool
        Show a progress bar over the steps.
    """
    config = config or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = ["load + validate", "fit (split)", "evaluate", "fit (all data)", "bundle", "track"]
    bar = tqdm(steps, desc="train", unit="step", disable=not progress)
    timings: dict[str, float] = {}

    def step(name: str) -> None:
        timings[name] = time.perf_counter()
        bar.set_postfix_str(name)

    step("load + validate")
    report = load_validated(data, stored_events_url(out))
    tables = report.tables
    problems_csv = out / "problems.csv"
    report.problems_frame().to_csv(problems_csv, index=False)
    if report.problems:
        log.warning("%d rows set aside; see %s", len(report.problems), problems_csv)
    truth = None if sources.is_database_url(data) else sources.read_truth(Path(data) / "truth")
    bar.update()

    step("fit (split)")
    asof = latest_event(tables) + pd.Timedelta(days=1)
    pool, final = _start_final_fit(tables, asof, config)
    split = default_split_date(tables, config.test_months)
    try:
        at_split = fit_all(before(tables, split), split, config, planning=False)
        bar.update()

        step("evaluate")
        metrics = evaluate(at_split, tables, truth, config.recommender.k)
        bar.update()

        step("fit (all data)")  # with a second process: only the wait for it
        fitted = final.get() if final is not None else fit_for_bundle(tables, asof, config)
        if pool is not None:  # done: let the worker exit on its own, so that it releases what
            pool.close()  # it holds (a worker killed mid-way leaves a semaphore behind, which
            pool.join()  # the resource tracker reports as leaked when the process ends)
            pool = None
    finally:
        if pool is not None:  # the split fit failed: never wait for the other process
            pool.terminate()
            pool.join()
    bar.update()

    step("bundle")
    manifest = {
        "data_fingerprint": fingerprint(tables),
        "split_date": split.date().isoformat(),
        "metrics": metrics,
        "config": config.model_dump(),
        "rows": {name: int(len(df)) for name, df in tables.items()},
        "rows_set_aside": len(report.problems),
    }
    bundle = save_bundle(fitted, out, manifest)
    bar.update()

    step("track")
    run_id, version = None, None
    if track:
        figures = write_figures(at_split, fitted, tables, metrics, out / "figures" / bundle.name)
        run_id = log_run(
            out,
            params=config.model_dump(),
            metrics={**metrics, **{f"time.{k}_s": v for k, v in _durations(timings).items()}},
            files=[bundle / "manifest.json", problems_csv],
            figures=figures,
            tags={"bundle_version": bundle.name, "data_fingerprint": manifest["data_fingerprint"]},
        )
        version = register_bundle(bundle, run_id, out).version
    bar.update()
    bar.close()
    timings = _durations(timings)
    log.info("bundle %s written in %.1fs", bundle.name, sum(timings.values()))
    return TrainResult(bundle, metrics, report, run_id, timings, version)


#: Answers plus enrolments from which ``parallel_fit = "auto"`` fits in a second process.
PARALLEL_MIN_ROWS = 200_000


def use_parallel_fit(config: TrainConfig, tables: dict[str, pd.DataFrame]) -> bool:
    """Whether the all-data fit runs in a second process (see ``TrainConfig.parallel_fit``)."""
    if config.parallel_fit != "auto":
        return config.parallel_fit == "on"
    rows = sum(len(tables[t]) for t in ("responses", "enrollments") if t in tables)
    return (os.cpu_count() or 1) >= 2 and rows >= PARALLEL_MIN_ROWS


def fit_for_bundle(
    tables: dict[str, pd.DataFrame], asof: pd.Timestamp, config: TrainConfig
) -> Fitted:
    """:func:`fit_all` on all data, plus every cadre's default recommendation list."""
    fitted = fit_all(tables, asof, config)
    fitted.lists = default_lists(fitted)
    return fitted


def _start_final_fit(
    tables: dict[str, pd.DataFrame], asof: pd.Timestamp, config: TrainConfig
) -> tuple[Pool | None, AsyncResult | None]:
    """Start the all-data fit in a fresh (spawned) process, or (None, None) to fit in line."""
    if not use_parallel_fit(config, tables):
        return None, None
    try:
        pool = multiprocessing.get_context("spawn").Pool(1)
        return pool, pool.apply_async(fit_for_bundle, (tables, asof, config))
    except OSError as exc:  # no processes allowed here: fit in line
        log.warning("fitting in one process (%s)", exc)
        return None, None


def _durations(starts: dict[str, float]) -> dict[str, float]:
    """Seconds per step from the steps' start times (the last step ends now)."""
    ends = list(starts.values())[1:] + [time.perf_counter()]
    return {k: round(e - s, 3) for (k, s), e in zip(starts.items(), ends, strict=True)}
