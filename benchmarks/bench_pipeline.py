"""Time ``ganxun generate`` and ``ganxun train`` per scale: median wall time and peak memory.

Each run is a fresh process (so imports and peak RSS are counted as a user sees them); the peak
resident set size comes from ``os.wait4``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str]) -> tuple[float, float]:
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


def main(scales: list[str], repeats: int, out: Path) -> list[dict]:
    """Benchmark generate and train at each scale and print a Markdown table."""
    rows = []
    quality: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            data, art = Path(tmp) / f"{scale}-data", Path(tmp) / f"{scale}-art"
            for step, args in (
                ("generate", ["generate", "--scale", scale, "--seed", "0", "--out", str(data)]),
                ("train", ["train", "--data", str(data), "--out", str(art)]),
            ):
                results = [run(args) for _ in range(repeats)]
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
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(rows, indent=2))
    (out / "offline_metrics.json").write_text(json.dumps(quality, indent=2))
    print("\n| step | scale | runs | median s | min s | max s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['step']} | {r['scale']} | {r['runs']} | {r['median_s']} | {r['min_s']} | "
            f"{r['max_s']} | {r['peak_rss_mib']} |"
        )
    return rows
