"""Choose ``recommender.schedule_months`` on a validation split before the test split.

Usage: ``python benchmarks/bench_schedule_horizon.py --data data/city [--months 1,2,3,4,6]
[--cut 2025-05-01] [--quick] [--out DIR]``

Only data before the test split (the default split of ``ganxun train``, ``test_months`` before
the last event) is read. The models are fitted at the validation cut-off (by default
``test_months`` months before the test split) and the recommender is evaluated on the self-chosen
courses of the ``test_months`` months after it (never past the test split), for each horizon; the
calendar is read as published by the validation cut-off. Knowledge
and quality are fitted once and shared by every horizon. Prints one row per horizon and writes
``schedule_horizon.json``. ``--quick``: the tiny city (written to a temporary folder unless
``--data`` is given) and horizons ``QUICK_MONTHS``, seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchlib  # noqa: E402

from ganxun.features.contracts import validate  # noqa: E402
from ganxun.features.split import after, before, default_split_date  # noqa: E402
from ganxun.training.config import load_config  # noqa: E402
from ganxun.training.evaluate import evaluate_recommender  # noqa: E402
from ganxun.training.fitting import (  # noqa: E402
    Fitted,
    build_catalog,
    fit_knowledge,
    fit_quality,
    fit_recommender,
)
from ganxun.training.sources import read_tables, read_truth  # noqa: E402

COLUMNS = ("ndcg@10", "recall@10")
LISTS = ("model", "als", "peer_popularity", "oracle")
QUICK_MONTHS = "1,6"
#: Figures every run promises (one row per horizon).
FIGURES = tuple(f"rows.*.{name}.{col}" for name in LISTS for col in COLUMNS) + (
    "rows.*.model.true_gap_share",
    "rows.*.seconds",
)


def run(data: Path, months: list[int], cut: str | None, overrides: list[str]) -> dict:
    """Fit at the validation cut-off once per horizon; the recommender's metrics per horizon."""
    config = load_config(None, overrides)
    tables = validate(read_tables(data)).tables
    truth = read_truth(Path(data) / "truth")
    test_split = default_split_date(tables, config.test_months)
    window = pd.DateOffset(months=config.test_months)
    cut = pd.Timestamp(cut) if cut else test_split - window
    if cut + window > test_split:
        raise SystemExit(f"the validation window after {cut.date()} runs past the test split")
    known = before(tables, cut + window)
    print(f"test split {test_split.date()}; validation cut-off {cut.date()}", flush=True)
    at_cut = before(known, cut)
    cat = build_catalog(at_cut)
    knowledge = fit_knowledge(at_cut, cat, cut, config.knowledge)
    quality = fit_quality(at_cut, cat, cut)
    future = after(known, cut)
    oracle_tables = {**known, "courses": tables["courses"]}  # the truth is aligned to every course
    rows = []
    for m in months:
        t0 = time.perf_counter()
        cfg = config.model_copy(deep=True)
        cfg.recommender.schedule_months = m
        rec = fit_recommender(at_cut, cat, knowledge, quality, cut, cfg)
        fitted = Fitted(cut, cat, knowledge, rec, quality, layout=None)
        metrics = evaluate_recommender(fitted, future, cfg.recommender.k, truth, oracle_tables)
        row = {"schedule_months": m}
        for name in LISTS:
            row[name] = {col: metrics.get(f"recommend.{name}.{col}") for col in COLUMNS}
        row["model"]["true_gap_share"] = metrics.get("recommend.model.true_gap_share")
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(pd.json_normalize([row]).round(4).to_string(index=False), flush=True)
    return {
        "data": str(data),
        "test_split": str(test_split.date()),
        "cut": str(cut.date()),
        "overrides": overrides,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run, write ``schedule_horizon.json`` and print the table."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", type=Path, help="a city folder with truth/ (required unless --quick)")
    p.add_argument("--months", default="1,2,3,4,6")
    p.add_argument("--cut", help="validation cut-off (default: test_months before the test split)")
    p.add_argument("--set", action="append", default=[], help="config override, KEY=VALUE")
    p.add_argument("--out", type=Path, default=benchlib.RESULTS)
    p.add_argument("--quick", action="store_true", help=f"the tiny city, months {QUICK_MONTHS}")
    args = p.parse_args(argv)
    if args.data is None and not args.quick:
        p.error("--data is required (or --quick)")
    months = [int(m) for m in (QUICK_MONTHS if args.quick else args.months).split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or benchlib.tiny_data(Path(tmp))
        result = run(data, months, args.cut, args.set)
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, "schedule_horizon", result)
    table = pd.json_normalize(result["rows"]).set_index("schedule_months")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.round(4).to_string())
    if args.quick:
        benchlib.check_figures(result, FIGURES, "schedule_horizon")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
