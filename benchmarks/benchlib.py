"""What every benchmark script shares: where data and results live, quick-mode inputs, checks.

- :func:`datasets_dir` — the public datasets, by the rule notebook 03 and the tests follow:
  ``$GANXUN_DATASETS``, else ``../shared/datasets`` beside the repository;
- :func:`tiny_artifacts` / :func:`tiny_data` — the tiny synthetic city, trained or written to a
  folder, the input of the scripts' quick modes when no real bundle or data folder is given;
- :func:`finish` — stamps a result with ``quick`` and ``finished_at`` (``benchmarks/run.py``
  counts a figure as measured in a run only when its result was finished after the run began);
- :func:`check_figures` — every figure a script promises is present and a finite number (the
  quick modes call it on their own output; it says nothing about the values).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def datasets_dir() -> Path:
    """The public datasets folder: ``$GANXUN_DATASETS`` or ``../shared/datasets``."""
    return Path(os.environ.get("GANXUN_DATASETS", ROOT.parent / "shared" / "datasets"))


def ganxun(*args: str, cwd: Path = ROOT) -> None:
    """Run ``python -m ganxun ARGS`` in a fresh process; raise with its stderr when it fails."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TQDM_DISABLE="1")
    done = subprocess.run(
        [sys.executable, "-m", "ganxun", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"ganxun {' '.join(args)} failed:\n{done.stderr[-3000:]}")


def tiny_artifacts(folder: Path, seed: int = 0) -> Path:
    """Generate and train the tiny city into ``folder``; return its artifacts folder."""
    print(f"quick mode: generating and training the tiny city (seed {seed})…", flush=True)
    ganxun("generate", "--scale", "tiny", "--seed", str(seed), "--out", str(folder / "data"))
    ganxun("train", "--data", str(folder / "data"), "--out", str(folder / "artifacts"))
    return folder / "artifacts"


def tiny_data(folder: Path, seed: int = 0) -> Path:
    """Write the tiny city (tables as CSV and its ``truth/``) into ``folder``; return it."""
    from ganxun.simulation import generate
    from ganxun.training.sources import write_tables, write_truth

    city = generate("tiny", seed=seed)
    write_tables(city.tables, folder, "csv")
    write_truth(city.truth, folder / "truth")
    return folder


def copy_newest_bundle(artifacts: Path, into: Path) -> Path:
    """Copy the newest bundle under ``artifacts`` into a fresh artifacts folder ``into``.

    A benchmark that writes keys, events or audit rows then never touches the original store.
    """
    from ganxun.training.bundle import newest_bundle

    bundle = newest_bundle(artifacts)
    if bundle is None:
        raise SystemExit(f"no bundle under {artifacts}: run `ganxun train` (or make demo) first")
    shutil.copytree(bundle, into / "bundles" / bundle.name)
    return into


def finish(result: dict, quick: bool, started: float | None = None) -> dict:
    """Stamp ``result`` with ``quick``, ``finished_at`` (Unix time and ISO) and the run time."""
    now = time.time()
    result["quick"] = bool(quick)
    result["finished_at"] = now
    result["finished_at_iso"] = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    if started is not None:
        result["runtime_s"] = round(time.perf_counter() - started, 1)
    return result


def write(out: Path, name: str, result: dict) -> Path:
    """Write ``result`` as ``OUT/NAME.json`` and return the path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=float) + "\n")
    return path


def _lookup(value, parts: list[str], prefix: str):
    """Yield ``(path, value)`` for every match of ``parts`` (``*`` matches every key or item)."""
    if not parts:
        yield prefix, value
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(value, dict):
            children = list(value.items())
        elif isinstance(value, list):
            children = list(enumerate(value))
        else:
            children = []
        if not children:
            yield f"{prefix}.*", None
        for key, child in children:
            yield from _lookup(child, rest, f"{prefix}.{key}")
        return
    if isinstance(value, dict):  # the longest key first: keys may hold dots ("recommend.x")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in value:
                yield from _lookup(value[key], parts[n:], f"{prefix}.{key}")
                return
        yield f"{prefix}.{head}", None
    elif isinstance(value, list) and head.isdigit() and int(head) < len(value):
        yield from _lookup(value[int(head)], rest, f"{prefix}.{head}")
    else:
        yield f"{prefix}.{head}", None


def missing_figures(result: dict, paths: Iterable[str]) -> list[str]:
    """The paths (``a.b.*.c``) of ``result`` that are absent or not a finite number.

    ``*`` matches every key of a dict or item of a list; a key may itself hold dots (the offline
    metrics' ``recommend.model.ndcg@10``).
    """
    bad = []
    for path in paths:
        for where, value in _lookup(result, path.split("."), ""):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not math.isfinite(value):
                bad.append(f"{where.lstrip('.')} = {value!r}")
    return bad


def check_figures(result: dict, paths: Iterable[str], name: str) -> None:
    """Raise AssertionError naming every promised figure that is missing or not finite."""
    bad = missing_figures(result, paths)
    if bad:
        raise AssertionError(f"{name}: figures missing or not finite: " + "; ".join(bad))
    print(f"{name}: every promised figure is present and finite", flush=True)
