"""In-process speed of the course recommender on a trained bundle: one list and the whole batch.

``python benchmarks/bench_recommend_speed.py [--artifacts artifacts] [--calls 1000] [--quick]``

Times ``Predictor.recommend`` through the model (``precomputed=False``: bundles now ship every
cadre's list, which would otherwise answer) for ``--calls`` random cadres, then
``Predictor.materialize`` over every cadre with the lists cleared first (the batch ``ganxun train``
writes into the bundle, and the service computes for a bundle without lists), then the
precomputed path. Writes ``benchmarks/results/recommend_speed.json``. ``--quick``: ``QUICK_CALLS``
calls on the newest bundle of ``--artifacts`` if given, else on the tiny city trained here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import benchlib
import numpy as np

from ganxun.serving.predictor import Predictor
from ganxun.training.bundle import load_bundle, newest_bundle

ROOT = benchlib.ROOT
QUICK_CALLS = 50
#: Figures every run promises.
FIGURES = (
    "cadres",
    "model_path.median_ms",
    "model_path.p99_ms",
    "batch_cadres",
    "batch_s",
    "batch_ms_per_cadre",
    "precomputed_path.median_ms",
    "precomputed_path.p99_ms",
)


def _time_lists(predictor: Predictor, cadres: np.ndarray, k: int, precomputed: bool) -> dict:
    took = []
    for cadre in cadres:
        start = time.perf_counter()
        predictor.recommend(str(cadre), k=k, precomputed=precomputed)
        took.append(time.perf_counter() - start)
    ms = np.array(took) * 1000
    return {"median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}


def run(artifacts: Path, calls: int, k: int) -> dict:
    """Time the model path, the batch of every cadre's list and the precomputed path."""
    bundle = newest_bundle(artifacts)
    if bundle is None:
        raise SystemExit(f"no bundle under {artifacts}: run `ganxun train` first")
    predictor = Predictor(*load_bundle(bundle))
    ids = predictor.fitted.catalog.cadres.ids_
    cadres = np.random.default_rng(0).choice(ids, calls)
    _time_lists(predictor, cadres[:20], k, precomputed=False)  # warm-up
    result = {"bundle": bundle.name, "cadres": len(ids), "calls": calls, "k": k}
    print(f"{calls} lists through the model ({len(ids):,} cadres)…", flush=True)
    result["model_path"] = _time_lists(predictor, cadres, k, precomputed=False)
    predictor.lists.ready[:] = False  # the bundle's own lists: clear them to time the batch
    print("every cadre's default list (materialize)…", flush=True)
    start = time.perf_counter()
    result["batch_cadres"] = predictor.materialize()
    result["batch_s"] = time.perf_counter() - start
    result["batch_ms_per_cadre"] = 1000 * result["batch_s"] / max(result["batch_cadres"], 1)
    result["precomputed_path"] = _time_lists(predictor, cadres, k, precomputed=True)
    return result


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, measure, write and print the figures; the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, help="default: artifacts (quick: the tiny city)")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CALLS} calls (seconds)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            artifacts = args.artifacts or benchlib.tiny_artifacts(Path(tmp))
            result = run(artifacts, QUICK_CALLS, args.k)
    else:
        result = run(args.artifacts or ROOT / "artifacts", args.calls, args.k)
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, "recommend_speed", result)
    print(json.dumps(result, indent=2))
    if args.quick:
        benchlib.check_figures(result, FIGURES, "recommend_speed")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
