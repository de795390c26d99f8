"""The Spark engine beside the default engine on the city: wall time and peak memory per step.

    python benchmarks/bench_spark.py [--scale city] [--seed 0] [--master local[2]] [--quick]
        [--out DIR]

``--quick``: the tiny city (the same two processes; a few minutes, most of it Spark's start-up).

Generates the city (``ganxun.simulation.generate(scale, seed)``) as Parquet once, then trains it
with each engine in a fresh process (no MLflow tracking). Each process samples the resident
memory of its whole process tree (the Python driver, Spark's JVM and its Python workers) every
0.2 s; samples are assigned to the pipeline steps by the steps' timings. Writes
``benchmarks/results/bench_spark.json`` and prints per-step times, peak memory, the ratio and
the largest metric differences.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
KEY_METRICS = (
    "knowledge.auc",
    "knowledge.spearman",
    "recommend.model.ndcg@10",
    "recommend.als.ndcg@10",
)


def tree_rss(proc) -> float:
    """Resident memory of a process and all its descendants, MiB."""
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def child(engine: str, data: str, out: str, master: str, result: str) -> None:
    """Train once with ``engine`` and write timings, per-step peak memory and metrics."""
    import psutil

    from ganxun.training.pipeline import train

    me = psutil.Process()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), tree_rss(me)))
            stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter()
    thread.start()
    got = train(
        data,
        out,
        track=False,
        progress=False,
        engine=engine,
        spark_master=master if engine == "spark" else None,
    )
    stop.set()
    thread.join()
    wall = time.perf_counter() - t0
    steps, start, peaks = list(got.timings.items()), t0, {}
    # the train() call's own set-up (imports, Spark session) is counted in its first step
    first_step = sum(v for _, v in steps)
    start = t0 + (wall - first_step)
    for name, seconds in steps:
        inside = [m for t, m in samples if start <= t < start + seconds]
        peaks[name] = max(inside) if inside else None
        start += seconds
    Path(result).write_text(
        json.dumps(
            {
                "engine": engine,
                "wall_s": wall,
                "timings_s": got.timings,
                "peak_mib": peaks,
                "peak_total_mib": max(m for _, m in samples),
                "metrics": got.metrics,
                "rows_set_aside": got.rows_set_aside,
            },
            indent=2,
            default=float,
        )
    )


#: Figures the benchmark promises (its quick mode checks them).
FIGURES = ("ratio_wall", "max_abs_metric_difference", "runs.pandas.wall_s", "runs.spark.wall_s")


def main(argv: list[str] | None = None) -> dict | None:
    """Run both engines and compare them; return (and write) the summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="city")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--quick", action="store_true", help="the tiny city")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=5, metavar=("ENGINE", "DATA", "OUT", "MASTER", "RESULT"))
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return None
    started = time.perf_counter()
    if args.quick:
        args.scale = "tiny"
    args.out.mkdir(parents=True, exist_ok=True)
    data = args.out / f"{args.scale}{args.seed}"
    if not (data / "cadres.parquet").exists():
        from ganxun.simulation import generate
        from ganxun.training.sources import write_tables, write_truth

        city = generate(args.scale, args.seed)
        write_tables(city.tables, data, "parquet")
        write_truth(city.truth, data / "truth")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TQDM_DISABLE="1")
    runs = {}
    for engine in ("pandas", "spark"):
        with tempfile.TemporaryDirectory() as out:
            result = Path(out) / "result.json"
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    engine,
                    str(data),
                    str(Path(out) / "art"),
                    args.master,
                    str(result),
                ],
                check=True,
                env=env,
                cwd=ROOT,
            )
            runs[engine] = json.loads(result.read_text())
        print(f"{engine}: {runs[engine]['wall_s']:.1f}s", flush=True)
    pd_run, sp_run = runs["pandas"], runs["spark"]
    diffs = {
        k: (pd_run["metrics"][k], sp_run["metrics"].get(k))
        for k in pd_run["metrics"]
        if isinstance(pd_run["metrics"][k], float) and isinstance(sp_run["metrics"].get(k), float)
    }
    summary = {
        "scale": args.scale,
        "seed": args.seed,
        "master": args.master,
        "cpus": os.cpu_count(),
        "runs": runs,
        "ratio_wall": sp_run["wall_s"] / pd_run["wall_s"],
        "key_metrics": {k: diffs.get(k) for k in KEY_METRICS},
        "max_abs_metric_difference": max(abs(a - b) for a, b in diffs.values()),
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import benchlib

    benchlib.finish(summary, args.quick, started)
    benchlib.write(args.out, "bench_spark", summary)
    print(f"\n{'step':18s} {'pandas s':>9s} {'spark s':>9s} {'pandas MiB':>11s} {'spark MiB':>10s}")
    for step in pd_run["timings_s"]:
        print(
            f"{step:18s} {pd_run['timings_s'][step]:9.1f} {sp_run['timings_s'][step]:9.1f} "
            f"{pd_run['peak_mib'][step] or 0:11.0f} {sp_run['peak_mib'][step] or 0:10.0f}"
        )
    print(
        f"{'whole run':18s} {pd_run['wall_s']:9.1f} {sp_run['wall_s']:9.1f} "
        f"{pd_run['peak_total_mib']:11.0f} {sp_run['peak_total_mib']:10.0f}"
    )
    print(f"ratio spark / pandas (wall): {summary['ratio_wall']:.2f}")
    for k, (a, b) in summary["key_metrics"].items() if all(summary["key_metrics"].values()) else []:
        print(f"{k:35s} pandas {a:.4f}  spark {b:.4f}  diff {b - a:+.4f}")
    print(
        f"largest |difference| over all {len(diffs)} metrics: "
        f"{summary['max_abs_metric_difference']:.4f}"
    )
    if args.quick:
        benchlib.check_figures(summary, FIGURES, "spark")
    return summary


if __name__ == "__main__":
    main()
