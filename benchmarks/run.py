"""Run every benchmark and print one table; results are written to benchmarks/results/.

Usage: ``python benchmarks/run.py [--only pipeline] [--scales tiny,city] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline  # noqa: E402

BENCHES = {"pipeline": bench_pipeline.main}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", choices=sorted(BENCHES), action="append")
    p.add_argument("--scales", default="tiny,city")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()
    for name in args.only or sorted(BENCHES):
        BENCHES[name](args.scales.split(","), args.repeats, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
