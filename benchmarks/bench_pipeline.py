"""Time ``ganxun generate`` and ``ganxun train`` per scale: median wall time and peak memory.

``python benchmarks/bench_pipeline.py [--scales tiny,city] [--repeats 3] [--quick] [--out DIR]``

Each run is a fresh process (so imports and peak RSS are counted as a user sees them); the peak
resident set size comes from ``os.wait4``. The offline metrics of each scale's last bundle
(knowledge, recommendation and quality against the truth) come from its manifest. Writes
``pipeline.json`` (steps and offline metrics) and ``offline_metrics.json`` to ``--out`` and prints a
Markdown table. ``--quick``: the tiny city once (seconds, not minutes), same commands.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

ROOT = benchlib.ROOT
#: Figures every run promises (``*`` = every row / scale).
FIGURES = (
    "steps.*.median_s",
    "steps.*.min_s",
    "steps.*.max_s",
    "steps.*.peak_rss_mib",
    "offline_metrics.*.knowledge.auc",
    "offline_metrics.*.knowledge.auc_share_of_oracle",
    "offline_metrics.*.knowledge.spearman_evidence",
    "offline_metrics.*.recommend.model.ndcg@10",
    "offline_metrics.*.recommend.als.ndcg@10",
    "offline_metrics.*.recommend.oracle.ndcg@10",
    "offline_metrics.*.recommend.model.repeats_in_top_k",
)


def run_ganxun(args: list[str]) -> tuple[float, float]:
    """Run ``python -m ganxun ARGS``; return (seconds, peak RSS in MiB)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TQDM_DISABLE="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganxun", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"ganxun {' '.join(args)} failed:\n{proc.stderr.read().decode()[-2000:]}"
        )
    return seconds, usage.ru_maxrss / 1024


def run(scales: list[str], repeats: int) -> dict:
    """Generate and train at each scale ``repeats`` times; the steps and the offline metrics."""
    rows = []
    quality: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            data, art = Path(tmp) / f"{scale}-data", Path(tmp) / f"{scale}-art"
            for step, args in (
                ("generate", ["generate", "--scale", scale, "--seed", "0", "--out", str(data)]),
                ("train", ["train", "--data", str(data), "--out", str(art)]),
            ):
                results = []
                for n in range(repeats):
                    print(f"{step} at {scale}, run {n + 1} of {repeats}…", flush=True)
                    results.append(run_ganxun(args))
                secs = [r[0] for r in results]
                rows.append(
                    {
                        "step": step,
                        "scale": scale,
                        "runs": repeats,
                        "median_s": round(statistics.median(secs), 2),
                        "min_s": round(min(secs), 2),
                        "max_s": round(max(secs), 2),
                        "peak_rss_mib": round(max(r[1] for r in results)),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            bundles = sorted((art / "bundles").iterdir())
            manifest = json.loads((bundles[-1] / "manifest.json").read_text())
            quality[scale] = manifest["metrics"]
    return {"scales": scales, "repeats": repeats, "steps": rows, "offline_metrics": quality}


def table(result: dict) -> str:
    """The steps as a Markdown table."""
    lines = [
        "| step | scale | runs | median s | min s | max s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["steps"]:
        lines.append(
            f"| {r['step']} | {r['scale']} | {r['runs']} | {r['median_s']} | {r['min_s']} | "
            f"{r['max_s']} | {r['peak_rss_mib']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run, write ``pipeline.json`` and print the table; the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scales", default="tiny,city", help="comma-separated scales")
    p.add_argument("--repeats", type=int, default=3, help="runs of each step per scale")
    p.add_argument("--quick", action="store_true", help="the tiny city once (seconds)")
    p.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = p.parse_args(argv)
    started = time.perf_counter()
    scales, repeats = (["tiny"], 1) if args.quick else (args.scales.split(","), args.repeats)
    result = benchlib.finish(run(scales, repeats), args.quick, started)
    benchlib.write(args.out, "pipeline", result)
    benchlib.write(args.out, "offline_metrics", result["offline_metrics"])
    print("\n" + table(result))
    if args.quick:
        benchlib.check_figures(result, FIGURES, "pipeline")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
