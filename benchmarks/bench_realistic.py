"""Model quality on the realistic city, over seeds, chosen on validation and reported on test.

``python benchmarks/bench_realistic.py [--scale tiny|city] [--seeds 0 1 2] [--realism on off]
[--stage validation|test] [--set section.key=value ...] [--quick] [--out DIR]``

``--quick``: the tiny city, one seed, realism on, the validation stage (a minute).

Two cut-offs per city: the **test** split ``T`` (``truth["params"]["split_date"]``, the last six
months) and the **validation** split ``V = T - 6 months``. Settings are chosen at ``V``: models fit
on the events before ``V`` and are scored on what happened in ``[V, T)`` — no truth, no test
window. Only then are the chosen settings fitted before ``T`` and scored on the test window, with
the truth beside them. Validation figures (no truth needed, as on a real export):

* knowledge — AUC of the answers in the window (model, exposure baseline, smoothed accuracy);
* recommender — nDCG@10 on the courses cadres chose themselves (model, ALS, popularity) and on
  every enrolment (compulsory first, then recommendations, vs compulsory first, then popularity);
* ratings — within-rater pairwise order of the window's course scores, as predicted by the
  corrected course quality (a rater's own ranking is what inflation leaves intact);
* rollcall — Spearman of the predicted gain with the measured pre/post gain (relative to the
  class) of members of the window's classes: the gain model's own prediction
  (``gain_spearman``) and the gain the benefit uses, times the learning speed
  (``gain_speed_spearman``).

Writes ``OUT/realistic-<stage>.json`` (default ``benchmarks/results``) and prints mean ± sd per
figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from ganxun.features.contracts import validate
from ganxun.features.history import prepost_gains
from ganxun.features.split import before
from ganxun.models.rollcall import request_from_class
from ganxun.simulation import generate
from ganxun.training.config import load_config
from ganxun.training.evaluate import evaluate
from ganxun.training.fitting import fit_all
from ganxun.training.metrics import spearman

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

#: Figures every run of the realistic benchmark yields (the quick mode checks them).
FIGURES = (
    "on.summary.knowledge.auc.mean",
    "on.summary.knowledge.auc_accuracy.mean",
    "on.summary.recommend.model.ndcg@10.mean",
    "on.summary.recommend.als.ndcg@10.mean",
    "on.summary.recommend.all_enrolments.model.ndcg@10.mean",
    "on.summary.ratings.within_rater_order.mean",
    "on.summary.rollcall.gain_spearman.mean",
)

#: Figures printed (the JSON keeps every metric).
HEADLINE = (
    "knowledge.auc",
    "knowledge.auc_baseline",
    "knowledge.auc_accuracy",
    "knowledge.spearman_evidence",
    "knowledge.spearman_accuracy",
    "knowledge.auc_oracle",
    "recommend.model.ndcg@10",
    "recommend.als.ndcg@10",
    "recommend.popularity.ndcg@10",
    "recommend.oracle.ndcg@10",
    "recommend.model.repeats_in_top_k",
    "recommend.model.mandatory_in_top_k",
    "recommend.all_enrolments.model.ndcg@10",
    "recommend.all_enrolments.compulsory_then_popularity.ndcg@10",
    "quality.course.spearman",
    "quality.teacher.spearman",
    "quality.staff.spearman",
    "ratings.within_rater_order",
    "rollcall.gain_spearman",
    "rollcall.gain_speed_spearman",
)


def make_city(scale: str, seed: int, realism: bool):
    """The synthetic city, validated as a real export would be."""
    city = generate(scale, seed, realism=realism)
    report = validate(city.tables)
    report.raise_if_fatal()
    return report.tables, city.truth, len(report.problems)


def within_rater_order(fitted, window: pd.DataFrame) -> float:
    """Share of a rater's pairs of differently scored courses that the quality orders alike."""
    cat, q = fitted.catalog, fitted.quality.course.quality_
    w = window.assign(k=cat.courses.index(window["course_id"]))
    w = w[w["k"] >= 0]
    agree = total = 0
    for _, g in w.groupby("cadre_id"):
        if len(g) < 2:
            continue
        s = g["course_score"].to_numpy(float)
        p = q[g["k"].to_numpy()]
        ds, dp = np.sign(s[:, None] - s[None, :]), np.sign(p[:, None] - p[None, :])
        mask = np.triu(ds != 0, 1)
        agree += int((ds == dp)[mask].sum())
        total += int(mask.sum())
    return agree / total if total else float("nan")


def rollcall_gain_spearman(fitted, tables: dict, start, end) -> tuple[float, float]:
    """Spearman of predicted with measured relative gains of the classes in [start, end).

    Two predictions: the gain model's alone, and the gain the benefit uses (times the cadre's
    learning speed, 1 when ``rollcall.use_learning_speed`` is off) — so one run judges both.
    """
    rr = fitted.planning.rollcall if fitted.planning else None
    if rr is None:
        return float("nan"), float("nan")
    gains = prepost_gains({**tables})
    gains = gains[(gains["start_on"] >= start) & (gains["start_on"] < end)]
    if gains.empty:
        return float("nan"), float("nan")
    gains = gains.assign(rel=gains["gain"] - gains.groupby("class_id")["gain"].transform("mean"))
    preds, speeds, truth = [], [], []
    for cid, g in gains.groupby("class_id"):
        req = request_from_class(tables, cid)
        cand = rr.candidates(req, all_ranks=True).set_index("cadre_id")
        known = g[g["cadre_id"].isin(cand.index)]
        if len(known) < 3:
            continue
        p = cand.loc[known["cadre_id"], "predicted_gain"].to_numpy(float)
        q = p * cand.loc[known["cadre_id"], "learning_speed"].to_numpy(float)
        preds.append(p - p.mean())
        speeds.append(q - q.mean())
        truth.append(known["rel"].to_numpy(float))
    if not preds:
        return float("nan"), float("nan")
    measured = np.concatenate(truth)
    return (
        spearman(np.concatenate(preds), measured),
        spearman(np.concatenate(speeds), measured),
    )


def one_run(scale: str, seed: int, realism: bool, stage: str, overrides: list[str]) -> dict:
    """Fit at the stage's cut-off and score the window after it."""
    t0 = time.perf_counter()
    tables, truth, n_problems = make_city(scale, seed, realism)
    T = pd.Timestamp(truth["params"]["split_date"])
    config = load_config(overrides=[f"seed={seed}", *overrides])
    if stage == "validation":
        cut, upto, judge_truth = T - pd.DateOffset(months=6), before(tables, T), None
    else:
        cut, upto, judge_truth = T, tables, truth
    fitted = fit_all(before(tables, cut), cut, config)
    metrics = evaluate(fitted, upto, judge_truth)
    ratings = upto["course_ratings"]
    metrics["ratings.within_rater_order"] = within_rater_order(
        fitted, ratings[ratings["rated_on"] >= cut]
    )
    gain, with_speed = rollcall_gain_spearman(fitted, upto, cut, cut + pd.DateOffset(months=6))
    metrics["rollcall.gain_spearman"] = gain
    metrics["rollcall.gain_speed_spearman"] = with_speed
    metrics["validation_problems"] = n_problems
    metrics["seconds"] = time.perf_counter() - t0
    return metrics


def summarise(runs: list[dict]) -> dict:
    """Mean and standard deviation of every numeric figure over the runs."""
    keys = sorted({k for r in runs for k, v in r.items() if isinstance(v, (int, float))})
    out = {}
    for k in keys:
        vals = [float(r[k]) for r in runs if k in r and np.isfinite(r[k])]
        if vals:
            out[k] = {
                "mean": statistics.fmean(vals),
                "sd": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                "n": len(vals),
            }
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; return (and write) its result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="city", choices=["tiny", "city"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--realism", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument("--stage", default="validation", choices=["validation", "test"])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--quick", action="store_true", help="tiny city, one seed, realism on")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        args.scale, args.seeds, args.realism, args.stage = "tiny", [0], ["on"], "validation"
    result: dict = {"scale": args.scale, "stage": args.stage, "overrides": args.overrides}
    for mode in args.realism:
        runs = []
        for seed in args.seeds:
            print(f"[{args.stage}] realism {mode}, seed {seed} …", file=sys.stderr, flush=True)
            runs.append(one_run(args.scale, seed, mode == "on", args.stage, args.overrides))
        result[mode] = {"runs": runs, "summary": summarise(runs)}
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, f"realistic-{args.stage}", result)
    print(f"| figure | {' | '.join(f'realism {m}' for m in args.realism)} |")
    print(f"|---|{'---|' * len(args.realism)}")
    for k in HEADLINE:
        cells = []
        for mode in args.realism:
            s = result[mode]["summary"].get(k)
            cells.append(f"{s['mean']:.4f} ± {s['sd']:.4f}" if s else "—")
        print(f"| {k} | {' | '.join(cells)} |")
    if args.quick:
        benchlib.check_figures(result, FIGURES, "realistic")
    return result


if __name__ == "__main__":
    main()
