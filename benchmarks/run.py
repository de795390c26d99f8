"""Run the benchmarks, then print one table of every headline figure against its target.

Usage: ``python benchmarks/run.py [--only NAME ...] [--quick] [--scales tiny,city] [--repeats 3]
[--artifacts artifacts] [--data data/city] [--out benchmarks/results]``

Each benchmark runs as its own process (``benchmarks/bench_NAME.py``) and writes
``OUT/NAME.json``:

- ``pipeline`` — ``ganxun generate`` and ``ganxun train`` per scale: median wall time, peak RSS,
  and the offline metrics of the last run (knowledge, recommendation, quality vs the truth);
- ``a0910`` — cognitive diagnosis on ASSISTments 2009–2010 (public table anchor);
- ``ml100k`` — the two-stage recommender on MovieLens-100K (Microsoft Recommenders protocol);
- ``matching`` — teacher/staff plans and rollcall rosters against the city's oracle, latency;
- ``load`` — the live server (``ganxun serve`` on the newest bundle under ``--artifacts``, a city
  bundle from ``make demo``): /health and recommendation throughput, latency at 100 req/s for
  60 s; runs by default when ``--artifacts`` holds a bundle;
- ``fuzz`` (only when named) — schemathesis over every route of the OpenAPI spec, 5xx count;
- ``recommend_speed`` (only when named) — in-process list latency and the batch of every list;
- ``recommend_oracle``, ``schedule_horizon`` (only when named) — recommender diagnostics on the
  city folder ``--data`` (with its ``truth/``);
- ``selection`` (only when named) — the selection reference against the truth, on the newest
  bundle under ``--artifacts`` trained on ``--data``.

At the end it prints the summary — every target of ``benchmarks/targets.py`` with the value
measured in *this* run and met / NOT met; "not run" when no benchmark of this run measured it,
"not comparable" when it was measured outside the target's setting (quick mode, the tiny city) —
and writes it to ``OUT/summary.json``. ``--quick`` runs every benchmark (or those named) in its
quick mode on the tiny city or a sample of the public data (about two minutes in all); exit
status 1 when a benchmark failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402
import targets  # noqa: E402


@dataclass(frozen=True)
class Bench:
    """A benchmark script, whether ``make bench`` runs it, and what it needs."""

    script: str
    default: bool
    needs: str = ""  # "artifacts" (a bundle), "data" (a city folder with truth/), both joined by
    # "+" (a bundle trained on that folder), or a dataset name


BENCHMARKS = {
    "pipeline": Bench("bench_pipeline.py", True),
    "a0910": Bench("bench_a0910.py", True, needs="a0910"),
    "ml100k": Bench("bench_ml100k.py", True, needs="ml-100k"),
    "matching": Bench("bench_matching.py", True),
    "design": Bench("bench_design.py", True),
    "load": Bench("bench_load.py", True, needs="artifacts"),
    "fuzz": Bench("bench_fuzz.py", False),
    "recommend_speed": Bench("bench_recommend_speed.py", False, needs="artifacts"),
    "recommend_oracle": Bench("bench_recommend_oracle.py", False, needs="data"),
    "schedule_horizon": Bench("bench_schedule_horizon.py", False, needs="data"),
    "selection": Bench("bench_selection.py", False, needs="artifacts+data"),
}


def _missing(bench: Bench, artifacts: Path, data: Path) -> str | None:
    """Why ``bench`` cannot run with these inputs, or None."""
    from ganxun.training.bundle import newest_bundle

    needs = bench.needs.split("+")
    if "artifacts" in needs and newest_bundle(artifacts) is None:
        return f"no bundle under {artifacts} (make demo or ganxun train builds one)"
    if "data" in needs and not (data / "truth").is_dir():
        return f"no city folder with truth/ at {data} (ganxun generate --scale city --out {data})"
    if bench.needs in ("a0910", "ml-100k"):
        folder = benchlib.datasets_dir() / bench.needs
        if not folder.is_dir():
            return f"no {bench.needs} data in {folder} (set GANXUN_DATASETS)"
    return None


def _arguments(name: str, args: argparse.Namespace, artifacts: Path, data: Path) -> list[str]:
    """The command-line arguments of benchmark ``name`` in this run."""
    extra = ["--out", str(args.out)]
    if args.quick:
        extra.append("--quick")
    needs = BENCHMARKS[name].needs.split("+")
    if args.quick and len(needs) > 1:
        return extra  # quick mode brings its own tiny bundle and data
    if "artifacts" in needs or (name == "fuzz" and args.quick):
        extra += ["--artifacts", str(artifacts)]
    if "data" in needs:
        extra += ["--data", str(data)]
    if args.quick:
        return extra
    if name == "pipeline":
        extra += ["--scales", args.scales, "--repeats", str(args.repeats)]
    elif name in ("matching", "design"):
        extra += ["--scale", "city"]
    return extra


def _fresh(result: dict, since: float) -> bool:
    return isinstance(result, dict) and result.get("finished_at", 0) >= since


def load_result(out: Path, name: str, since: float) -> dict | None:
    """The result of benchmark ``name`` finished after ``since`` (Unix time), or None.

    ``matching.json`` and ``design.json`` keep one result per scale: the city's when it is
    fresh, else the newest fresh one.
    """
    path = Path(out) / f"{name}.json"
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    if "finished_at" in stored:
        return stored if _fresh(stored, since) else None
    fresh = {k: v for k, v in stored.items() if _fresh(v, since)}
    if not fresh:
        return None
    return fresh.get("city") or max(fresh.values(), key=lambda r: r["finished_at"])


def summarize(out: Path, since: float, notes: dict[str, str] | None = None) -> list[dict]:
    """One row per target: the figure measured since ``since`` and met / NOT met / not run / …

    ``notes`` says, per benchmark, why it has no result (skipped, failed, not selected).
    """
    notes = notes or {}
    results = {name: load_result(out, name, since) for name in BENCHMARKS}
    return [
        targets.judge(t, results.get(t.benchmark), notes.get(t.benchmark, ""))
        for t in targets.TARGETS
    ]


def table(rows: list[dict]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| figure | value | target | status | note | source |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = (
            "" if r["value"] is None else f"{r['value']:g}{(' ' + r['unit']) if r['unit'] else ''}"
        )
        status = f"**{r['status']}**" if r["status"] in ("met", "NOT met") else r["status"]
        lines.append(
            f"| {r['figure']} | {value} | {r['target']} | {status} | {r['note']} | {r['source']} |"
        )
    counts = {
        s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)
    }
    lines.append("\n" + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    """Run the selected benchmarks, then write and print the summary; the summary."""
    started, wall0 = time.time(), time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or [n for n in BENCHMARKS if args.quick or BENCHMARKS[n].default]
    ran: dict[str, dict] = {}
    notes = {
        n: "not selected (--only)"
        if BENCHMARKS[n].default
        else f"optional: python benchmarks/run.py --only {n}"
        for n in BENCHMARKS
    }
    with tempfile.TemporaryDirectory() as tmp:
        artifacts, data = Path(args.artifacts).resolve(), Path(args.data).resolve()
        if args.quick:  # one tiny city for every quick mode that needs a bundle or a folder
            needs = {BENCHMARKS[n].needs for n in names} | (
                {"artifacts"} if "fuzz" in names else set()
            )
            if "artifacts" in needs:
                artifacts = benchlib.tiny_artifacts(Path(tmp))
            if "data" in needs:
                data = benchlib.tiny_data(Path(tmp) / "tiny-data")
        for name in names:
            bench = BENCHMARKS[name]
            reason = _missing(bench, artifacts, data)
            if reason:
                print(f"\n## {name}: not run — {reason}\n", flush=True)
                ran[name] = {"status": "skipped", "note": reason}
                notes[name] = f"skipped: {reason}"
                continue
            print(f"\n## {name}\n", flush=True)
            t0 = time.perf_counter()
            command = [
                sys.executable,
                str(HERE / bench.script),
                *_arguments(name, args, artifacts, data),
            ]
            code = subprocess.call(command)
            seconds = round(time.perf_counter() - t0, 1)
            # a result written in this run means it ran to the end (load and fuzz exit 1 when a
            # target is missed: the summary says so); no result means it failed
            done = load_result(out, name, started) is not None
            ran[name] = {"status": "ok" if done else "failed", "exit": code, "seconds": seconds}
            notes[name] = "" if done else f"{name} failed (exit {code}), no result"
    rows = summarize(out, started, notes)
    summary = {
        "started_at": started,
        "seconds": round(time.perf_counter() - wall0, 1),
        "quick": bool(args.quick),
        "benchmarks": ran,
        "rows": rows,
    }
    benchlib.write(out, "summary", summary)
    print("\n## Summary: headline figures against their targets\n")
    print(table(rows))
    print(
        "\nbenchmarks: "
        + ", ".join(f"{n} {r['status']} ({r.get('seconds', '–')} s)" for n, r in ran.items())
    )
    print(f"written to {out / 'summary.json'}")
    return summary


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments and :func:`run`; the summary."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", choices=list(BENCHMARKS), action="append")
    p.add_argument("--quick", action="store_true", help="every benchmark's quick mode")
    p.add_argument("--scales", default="tiny,city", help="pipeline scales")
    p.add_argument("--repeats", type=int, default=3, help="pipeline runs per step")
    p.add_argument("--artifacts", default="artifacts", help="bundle for load and recommend_speed")
    p.add_argument(
        "--data", default="data/city", help="city folder for the recommender diagnostics"
    )
    p.add_argument("--out", default=str(benchlib.RESULTS))
    return run(p.parse_args(argv))


def failed(summary: dict) -> list[str]:
    """The benchmarks of a summary that ended without a result."""
    return [n for n, r in summary["benchmarks"].items() if r["status"] == "failed"]


if __name__ == "__main__":
    bad = failed(main())
    if bad:
        print(f"failed: {', '.join(bad)}", file=sys.stderr)
    sys.exit(1 if bad else 0)
