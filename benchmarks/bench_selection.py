"""Selection reference (选拔任用参考, issue 14): does the fit rank candidates as the truth would?

Usage: ``python benchmarks/bench_selection.py --artifacts ARTIFACTS --data data/city [--quick]
[--out DIR]``

Reads the newest bundle under ``--artifacts`` (trained on ``--data`` by ``ganxun train``) and the
city's ``truth/``. For every post to fill — each rank from 正科 up × each post category with a
requirement — the candidates are the cadres in service of that rank and the rank below (every
unit), as ``POST /v1/posts/fit`` takes them by default. The served fit (the share of the post's
requirement the estimated reserve meets, :func:`ganxun.models.post_fit.requirement_fit`) is
compared with the *true* fit: the same function of the simulator's true mastery at the bundle's
cut-off (``training.evaluate._truth_matrix``).

Figures:

* ``spearman_median`` (headline, target ≥ 0.8), ``spearman_min``, ``spearman_mean``: Spearman of
  the served ranking score with the true fit over each post's candidates; and the medians over
  the candidates with evidence (``spearman_with_evidence_median``) and those marked 证据不足
  (``spearman_thin_median``);
* ``thin_evidence``: candidates marked 证据不足 and whether they are ranked below equally fit
  candidates — within each post, candidates are binned by true fit (deciles) and the mean rank
  percentile (1 = top) of thin-evidence candidates is compared with the others' in the same bin;
  ``rank_gap_mean`` is thin − others averaged over bins (negative: thin ranked lower), target
  ≥ −0.05;
* ``interval_coverage``: share of candidates whose true fit lies in the served 10–90% interval
  (0.8 if the interval were calibrated), for thin and other candidates — low while the reserve's
  scale (P(correct) on an average item) sits above the simulator's mastery scale: the interval
  is about the estimate's uncertainty, not that bias;
* ``year_end_reserve``: Spearman of the bundle's year-end reserves (the dossier's radar history)
  with the true mastery at each year end, against using today's reserve for every year;
* ``latency_ms``: one served ranking (``Selection.rank``) of the largest post's candidates.

``--quick``: the tiny realistic city, trained into a temporary folder (seconds), or the tiny
bundle and data given by ``--artifacts`` and ``--data``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchlib  # noqa: E402

from ganxun.features.catalog import segment_of  # noqa: E402
from ganxun.features.contracts import CATEGORIES, RANKS  # noqa: E402
from ganxun.models.post_fit import (  # noqa: E402
    THIN_EVIDENCE,
    evidence_weight,
    fit_interval,
    ranking_score,
    requirement_fit,
)
from ganxun.training.bundle import load_bundle, newest_bundle  # noqa: E402
from ganxun.training.evaluate import _truth_matrix  # noqa: E402
from ganxun.training.sources import read_truth  # noqa: E402

#: Posts are filled from these ranks up (a 科员 post has no rank below to draw from).
POST_RANKS = ("正科", "副处", "正处", "副厅")
MIN_CANDIDATES = 20
FIGURES = (
    "spearman_median",
    "spearman_min",
    "spearman_mean",
    "posts",
    "thin_evidence.share",
    "thin_evidence.rank_gap_mean",
    "interval_coverage.all",
    "year_end_reserve.model",
    "year_end_reserve.today_only",
    "latency_ms",
)


def _spearman(a, b) -> float:
    rho = spearmanr(a, b).statistic
    return float(rho) if np.isfinite(rho) else float("nan")


def rank_gap(pred: np.ndarray, truth: np.ndarray, thin: np.ndarray, bins: int = 10):
    """Mean rank percentile (1 = top) of thin-evidence minus other candidates of equal true fit.

    Candidates are binned by true fit (quantiles); bins holding both groups count, weighted by
    the smaller group's size. Returns (gap, weight) — NaN gap when no bin holds both groups.
    """
    n = len(pred)
    pct = 1.0 - (pd.Series(pred).rank(method="average").to_numpy() - 1) / max(n - 1, 1)
    pct = 1.0 - pct  # 1 = ranked top
    edges = np.unique(np.quantile(truth, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, truth, side="right") - 1, 0, max(len(edges) - 2, 0))
    gaps, weights = [], []
    for b in np.unique(which):
        sel = which == b
        a, o = sel & thin, sel & ~thin
        if a.any() and o.any():
            gaps.append(pct[a].mean() - pct[o].mean())
            weights.append(min(a.sum(), o.sum()))
    if not gaps:
        return float("nan"), 0
    return float(np.average(gaps, weights=weights)), int(sum(weights))


def year_end_agreement(fitted, truth) -> dict:
    """Spearman of each year-end reserve with the truth then, and of today's reserve instead."""
    rec = fitted.records
    months = pd.DatetimeIndex(truth["months"])
    model, today = [], []
    for y, day in enumerate(rec.year_end_days.tolist()[:-1]):  # the last one is today
        at = pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(day))
        pos = int(months.searchsorted(at))
        if pos >= len(months):
            continue
        true_m = _truth_matrix(fitted, truth, pos).ravel()
        model.append(_spearman(rec.year_end_reserve[y].ravel(), true_m))
        today.append(_spearman(fitted.knowledge.reserve.ravel(), true_m))
    return {
        "years": [int(v) for v in rec.years.tolist()[: len(model)]],
        "per_year_model": [round(v, 4) for v in model],
        "per_year_today_only": [round(v, 4) for v in today],
        "model": float(np.mean(model)) if model else float("nan"),
        "today_only": float(np.mean(today)) if today else float("nan"),
    }


def run(artifacts: Path, data: Path) -> dict:
    """Every post's Spearman, the thin-evidence check, coverage, year-end agreement, latency."""
    from ganxun.serving.predictor import Predictor
    from ganxun.serving.selection import Selection, standard_errors

    bundle = newest_bundle(artifacts)
    if bundle is None:
        raise SystemExit(f"no bundle under {artifacts}: run ganxun train first")
    fitted, manifest = load_bundle(bundle)
    truth = read_truth(Path(data) / "truth")
    months = pd.DatetimeIndex(truth["months"])
    true_m = _truth_matrix(fitted, truth, int(months.searchsorted(fitted.asof)))
    k, cat = fitted.knowledge, fitted.catalog
    ranks = cat.cadre_info["rank"].to_numpy()
    serving = cat.cadre_info["in_service"].to_numpy(bool)
    se, ability_se = standard_errors(k.model, np.arange(len(k.reserve)), k.confidence)
    rows, gaps, weights, covered, covered_thin = [], [], [], [], []
    largest = (np.zeros(0, np.int64), None)
    for rank in POST_RANKS:
        at = RANKS.index(rank)
        pool = np.flatnonzero(serving & np.isin(ranks, RANKS[at - 1 : at + 1]))
        if len(pool) < MIN_CANDIDATES:
            continue
        for category in CATEGORIES:
            targets = cat.targets[int(segment_of(rank, category)[0])].astype(float)
            if targets.sum() <= 0:
                continue
            pred = ranking_score(k.reserve[pool], targets)  # what the service ranks by
            true = requirement_fit(true_m[pool], targets)
            thin = evidence_weight(k.total[pool], targets) < THIN_EVIDENCE
            low, high = fit_interval(k.reserve[pool], se[pool], targets, ability_se[pool])
            fit = requirement_fit(k.reserve[pool], targets)
            inside = (true >= np.minimum(low, fit) - 1e-9) & (true <= np.maximum(high, fit) + 1e-9)
            covered.append(inside[~thin])
            covered_thin.append(inside[thin])
            gap, weight = rank_gap(pred, true, thin)
            if weight:
                gaps.append(gap)
                weights.append(weight)
            rows.append(
                {
                    "rank": rank,
                    "category": category,
                    "candidates": int(len(pool)),
                    "spearman": round(_spearman(pred, true), 4),
                    "spearman_with_evidence": round(_spearman(pred[~thin], true[~thin]), 4)
                    if (~thin).sum() > 2
                    else None,
                    "spearman_thin": round(_spearman(pred[thin], true[thin]), 4)
                    if thin.sum() > 2
                    else None,
                    "thin": int(thin.sum()),
                    "rank_gap_thin": None if not weight else round(gap, 4),
                    "saturated_true": round(float((true >= 1 - 1e-9).mean()), 4),
                }
            )
            if len(pool) > len(largest[0]):
                largest = (pool, targets)
    rhos = np.array([r["spearman"] for r in rows], float)
    with_evidence = np.array([r["spearman_with_evidence"] or np.nan for r in rows], float)
    thin_rhos = np.array([r["spearman_thin"] or np.nan for r in rows], float)
    predictor = Predictor(fitted, manifest)
    view = Selection(predictor, None)
    t0 = time.perf_counter()
    view.rank(largest[0][:5000], largest[1], k=50)
    latency = (time.perf_counter() - t0) * 1000
    n_thin = sum(r["thin"] for r in rows)
    n_all = sum(r["candidates"] for r in rows)
    cov_other = np.concatenate(covered) if covered else np.zeros(0, bool)
    cov_thin = np.concatenate(covered_thin) if covered_thin else np.zeros(0, bool)
    return {
        "bundle": str(bundle),
        "cadres": int(len(cat.cadres)),
        "asof": str(pd.Timestamp(fitted.asof).date()),
        "posts": len(rows),
        "spearman_median": float(np.nanmedian(rhos)),
        "spearman_min": float(np.nanmin(rhos)),
        "spearman_mean": float(np.nanmean(rhos)),
        "spearman_with_evidence_median": float(np.nanmedian(with_evidence))
        if np.isfinite(with_evidence).any()
        else None,
        "spearman_thin_median": float(np.nanmedian(thin_rhos))
        if np.isfinite(thin_rhos).any()
        else None,
        "rows": rows,
        "thin_evidence": {
            "share": n_thin / max(n_all, 1),
            "rank_gap_mean": float(np.average(gaps, weights=weights)) if gaps else float("nan"),
            "threshold": THIN_EVIDENCE,
        },
        "interval_coverage": {
            "all": float(np.concatenate([cov_other, cov_thin]).mean()),
            "thin": float(cov_thin.mean()) if len(cov_thin) else None,
            "other": float(cov_other.mean()) if len(cov_other) else None,
        },
        "year_end_reserve": year_end_agreement(fitted, truth),
        "latency_ms": latency,
        "latency_candidates": int(min(len(largest[0]), 5000)),
    }


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run, write ``selection.json`` and print the table."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--artifacts", type=Path, help="folder with bundles/ (trained on --data)")
    p.add_argument("--data", type=Path, help="the city folder with truth/")
    p.add_argument("--out", type=Path, default=benchlib.RESULTS)
    p.add_argument("--quick", action="store_true", help="the tiny realistic city, trained here")
    args = p.parse_args(argv)
    if not args.quick and (args.artifacts is None or args.data is None):
        p.error("--artifacts and --data are required (or --quick)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick and (args.artifacts is None or args.data is None):
            from ganxun.training.pipeline import train

            data = benchlib.tiny_data(Path(tmp) / "data")
            artifacts = Path(tmp) / "artifacts"
            train(data, artifacts, track=False, progress=False)
        else:
            data, artifacts = args.data, args.artifacts
        result = run(artifacts, data)
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, "selection", result)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(pd.DataFrame(result["rows"]).to_string(index=False))
    print(
        f"Spearman median {result['spearman_median']:.3f} (min {result['spearman_min']:.3f}) over "
        f"{result['posts']} posts; thin evidence {result['thin_evidence']['share']:.1%} of "
        f"candidates, rank gap {result['thin_evidence']['rank_gap_mean']:+.3f}; interval coverage "
        f"{result['interval_coverage']['all']:.1%}; year-end reserve Spearman "
        f"{result['year_end_reserve']['model']:.3f} (today only "
        f"{result['year_end_reserve']['today_only']:.3f}); {result['latency_ms']:.0f} ms",
        flush=True,
    )
    if args.quick:
        benchlib.check_figures(result, FIGURES, "selection")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
