"""The hour-rule forecast (学时达标预测) alone, over seeds, at the validation or the test cut-off.

``python benchmarks/bench_compliance.py [--scale tiny|city] [--seeds 0 1 2] [--realism on off]
[--stage validation|test] [--quick] [--out DIR]``

``--quick``: the tiny city, one seed, realism on, the test stage (seconds; the tiny city is too
young for a validation period).

The same figures as the ``compliance.*`` metrics of ``ganxun train`` and of
``bench_realistic.py`` (:func:`ganxun.training.evaluate.evaluate_compliance`), without fitting the
other models, so a forecast setting can be judged in minutes: the forecaster learns from the
periods before the last one-year period that ended before the cut-off, and forecasts 6 and 3
months before that period's end who will not meet each rule still owing hours (AUC), beside the
cadre's own pace alone. At the **validation** cut-off ``V = T - 6 months`` that period is 2024 and
nothing after ``V`` is read; at the **test** cut-off ``T`` it is 2025. No truth is needed: the
outcome is in the records (hours credited by the period's end).

Writes ``OUT/compliance-<stage>.json`` (default ``benchmarks/results``) and prints mean ± sd.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd

from ganxun.features.split import before
from ganxun.training.evaluate import evaluate_compliance

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402
from bench_realistic import make_city, summarise  # noqa: E402

#: Figures every run yields (the quick mode checks them).
FIGURES = (
    "on.summary.compliance.auc_6m.mean",
    "on.summary.compliance.auc_pace_6m.mean",
    "on.summary.compliance.auc_3m.mean",
    "on.summary.compliance.auc_pace_3m.mean",
)

HEADLINE = (
    "compliance.auc_6m",
    "compliance.auc_pace_6m",
    "compliance.auc_3m",
    "compliance.auc_pace_3m",
    "compliance.missed_share_6m",
    "compliance.rows_6m",
    "seconds",
)


def one_run(scale: str, seed: int, realism: bool, stage: str) -> dict:
    """The forecast's figures for one city at the stage's cut-off."""
    t0 = time.perf_counter()
    tables, truth, _ = make_city(scale, seed, realism)
    T = pd.Timestamp(truth["params"]["split_date"])
    cut = T - pd.DateOffset(months=6) if stage == "validation" else T
    metrics = evaluate_compliance(before(tables, cut), cut)
    metrics["seconds"] = time.perf_counter() - t0
    return metrics


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; return (and write) its result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="city", choices=["tiny", "city"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--realism", nargs="+", default=["on"], choices=["on", "off"])
    parser.add_argument("--stage", default="validation", choices=["validation", "test"])
    parser.add_argument("--quick", action="store_true", help="tiny city, one seed, realism on")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        args.scale, args.seeds, args.realism, args.stage = "tiny", [0], ["on"], "test"
    result: dict = {"scale": args.scale, "stage": args.stage}
    for mode in args.realism:
        runs = []
        for seed in args.seeds:
            print(f"[{args.stage}] realism {mode}, seed {seed} …", file=sys.stderr, flush=True)
            runs.append(one_run(args.scale, seed, mode == "on", args.stage))
        result[mode] = {"runs": runs, "summary": summarise(runs)}
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, f"compliance-{args.stage}", result)
    print(f"| figure | {' | '.join(f'realism {m}' for m in args.realism)} |")
    print(f"|---|{'---|' * len(args.realism)}")
    for k in HEADLINE:
        cells = []
        for mode in args.realism:
            s = result[mode]["summary"].get(k)
            each = ", ".join(f"{r[k]:.3f}" for r in result[mode]["runs"] if k in r)
            cells.append(f"{s['mean']:.4f} ± {s['sd']:.4f} ({each})" if s else "—")
        print(f"| {k} | {' | '.join(cells)} |")
    if args.quick:
        benchlib.check_figures(result, FIGURES, "compliance")
    return result


if __name__ == "__main__":
    main()
