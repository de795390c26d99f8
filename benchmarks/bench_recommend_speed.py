"""In-process speed of the course recommender on a trained bundle: one list and the whole batch.

``python benchmarks/bench_recommend_speed.py [--artifacts artifacts] [--calls 1000]``

Times ``Predictor.recommend`` (the model path) for ``--calls`` random cadres, then
``Predictor.materialize`` (every cadre's default list, what the service precomputes after a bundle
loads), then the precomputed path. Writes ``benchmarks/results/recommend_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ganxun.serving.predictor import Predictor
from ganxun.training.bundle import load_bundle, newest_bundle

ROOT = Path(__file__).resolve().parent.parent


def _time_lists(predictor: Predictor, cadres: np.ndarray, k: int) -> dict[str, float]:
    took = []
    for cadre in cadres:
        start = time.perf_counter()
        predictor.recommend(str(cadre), k=k)
        took.append(time.perf_counter() - start)
    ms = np.array(took) * 1000
    return {"median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}


def main() -> dict:
    """Measure, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    bundle = newest_bundle(args.artifacts)
    if bundle is None:
        raise SystemExit(f"no bundle under {args.artifacts}: run `ganxun train` first")
    predictor = Predictor(*load_bundle(bundle))
    cadres = np.random.default_rng(0).choice(predictor.fitted.catalog.cadres.ids_, args.calls)
    _time_lists(predictor, cadres[:20], args.k)  # warm-up
    result = {"bundle": bundle.name, "cadres": len(predictor.fitted.catalog.cadres.ids_)}
    result["model_path"] = _time_lists(predictor, cadres, args.k)
    start = time.perf_counter()
    result["batch_cadres"] = predictor.materialize()
    result["batch_s"] = time.perf_counter() - start
    result["precomputed_path"] = _time_lists(predictor, cadres, args.k)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "recommend_speed.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
