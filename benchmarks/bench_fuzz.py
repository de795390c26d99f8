"""Fuzz every route of the OpenAPI spec for longer than the test suite does; count the 5xx.

``python benchmarks/bench_fuzz.py [--examples 300] [--artifacts DIR] [--seed 0] [--quick]``

The same driver as ``tests/serving/test_fuzz.py`` (schemathesis strategies per operation, positive
and negative cases, about half of the id-like strings swapped for ids the bundle knows, a valid org
key on every call) against the app in-process (ASGI, with its lifespan), ``--examples`` cases per
operation and mode instead of the test's 15. The app serves a copy of the newest bundle under
``--artifacts`` in a temporary folder (default: the tiny synthetic city, generated and trained
here), so the events and keys the fuzzer writes never reach a real store. Every case is sent even
after a 5xx; each 5xx is listed as a curl line. Writes ``benchmarks/results/fuzz.json`` and prints
a Markdown table. Exit status 1 when any answer was a 5xx. ``--quick``: ``QUICK_EXAMPLES`` cases
per operation and mode (seconds), the same driver.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import benchlib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
QUICK_EXAMPLES = 2
#: Figures every run promises.
FIGURES = (
    "requests",
    "server_errors",
    "seconds",
    "operations.*.requests",
    "operations.*.server_errors",
)


def run(args: argparse.Namespace, tmp: Path) -> dict:
    """Fuzz a copy of the newest bundle of ``args.artifacts`` (default: the tiny city)."""
    import schemathesis
    from schemathesis import GenerationMode

    from ganxun.serving.app import create_app
    from ganxun.serving.auth import create_key
    from ganxun.serving.settings import Settings
    from ganxun.training.bundle import newest_bundle
    from ganxun.training.database import default_url, make_engine
    from tests.serving.test_fuzz import OPERATIONS, fuzz_operation, known_ids, negatable

    source = Path(args.artifacts) if args.artifacts else benchlib.tiny_artifacts(tmp)
    artifacts = benchlib.copy_newest_bundle(source, tmp / "fuzz-artifacts")
    bundle = newest_bundle(artifacts)
    key = create_key(make_engine(default_url(artifacts)), "org", note="bench_fuzz")
    ids = known_ids(bundle)
    app = create_app(Settings(artifacts=artifacts))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    rows, failures = [], []
    start = time.perf_counter()
    print(f"fuzzing {len(OPERATIONS)} operations, {args.examples} cases each…", flush=True)
    for method, path in OPERATIONS:
        operation = schema[path][method]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode == GenerationMode.NEGATIVE and not negatable(operation):
                continue
            t0 = time.perf_counter()
            # an operation without parameters has one case: a few repeats are enough
            examples = args.examples if negatable(operation) else min(args.examples, 5)
            result = fuzz_operation(
                operation, mode, key, ids, examples, validate=False, seed=args.seed
            )
            counts = collections.Counter(result.statuses)
            rows.append(
                {
                    "operation": result.label,
                    "mode": result.mode,
                    "requests": len(result.statuses),
                    "statuses": dict(sorted(counts.items())),
                    "server_errors": len(result.server_errors),
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
            failures += [{"operation": result.label, "curl": c} for c in result.server_errors]
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return {
        "bundle": bundle.name,
        "examples_per_operation_and_mode": args.examples,
        "seed": args.seed,
        "requests": sum(r["requests"] for r in rows),
        "server_errors": sum(r["server_errors"] for r in rows),
        "seconds": round(time.perf_counter() - start, 1),
        "operations": rows,
        "failures": failures[:100],
    }


def table(result: dict) -> str:
    lines = [
        "| operation | mode | requests | answers (status: count) | 5xx |",
        "|---|---|---|---|---|",
    ]
    for r in result["operations"]:
        answers = ", ".join(f"{s}: {n}" for s, n in r["statuses"].items())
        lines.append(
            f"| `{r['operation']}` | {r['mode']} | {r['requests']} | {answers} "
            f"| {r['server_errors']} |"
        )
    lines.append(
        f"\n{result['requests']} requests, **{result['server_errors']} 5xx**, "
        f"{result['seconds']} s ({result['examples_per_operation_and_mode']} examples per "
        f"operation and mode, seed {result['seed']})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, fuzz, write ``fuzz.json`` and print the table; the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--examples", type=int, default=300, help="cases per operation and mode")
    p.add_argument("--artifacts", help="fuzz a copy of this folder's newest bundle (default: tiny)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(benchlib.RESULTS))
    p.add_argument("--quick", action="store_true", help=f"{QUICK_EXAMPLES} cases per operation")
    args = p.parse_args(argv)
    if args.quick:
        args.examples = QUICK_EXAMPLES
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args, Path(tmp))
    benchlib.finish(result, args.quick, started)
    benchlib.write(Path(args.out), "fuzz", result)
    print(table(result))
    for f in result["failures"][:20]:
        print(f"5xx: {f['operation']}: {f['curl']}")
    if args.quick:
        benchlib.check_figures(result, FIGURES, "fuzz")
    return result


if __name__ == "__main__":
    sys.exit(1 if main()["server_errors"] else 0)
