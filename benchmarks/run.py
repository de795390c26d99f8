"""Run the benchmarks and print their tables; results are written to benchmarks/results/.

Usage: ``python benchmarks/run.py [--only NAME ...] [--scales tiny,city] [--repeats 3]``

- ``pipeline`` — ``ganxun generate`` and ``ganxun train`` per scale: median wall time, peak RSS,
  and the offline metrics of the last run (knowledge, recommendation, quality vs the truth);
- ``a0910`` — cognitive diagnosis on ASSISTments 2009–2010 (public table anchor);
- ``ml100k`` — the two-stage recommender on MovieLens-100K (Microsoft Recommenders protocol);
- ``matching`` — teacher/staff plans and rollcall rosters against the synthetic city's oracle;
- ``load`` (only with ``--only load``) — the live server (``ganxun serve`` on ``artifacts/``, a
  city bundle): /health and recommendation throughput, latency at 100 req/s for 60 s;
- ``fuzz`` (only with ``--only fuzz``) — schemathesis over every route of the OpenAPI spec, 5xx
  count.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_pipeline  # noqa: E402

SCRIPTS = {"a0910": "bench_a0910.py", "ml100k": "bench_ml100k.py", "matching": "bench_matching.py"}
OPTIONAL = {"load": "bench_load.py", "fuzz": "bench_fuzz.py"}  # long; run only when named


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", choices=["pipeline", *SCRIPTS, *OPTIONAL], action="append")
    p.add_argument("--scales", default="tiny,city")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args()
    failed = []
    for name in args.only or ["pipeline", *SCRIPTS]:
        print(f"\n## {name}\n", flush=True)
        if name == "pipeline":
            bench_pipeline.main(args.scales.split(","), args.repeats, Path(args.out))
            continue
        extra = ["--scale", "city"] if name == "matching" else []
        script = SCRIPTS.get(name) or OPTIONAL[name]
        if subprocess.call([sys.executable, str(HERE / script), *extra]) != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
