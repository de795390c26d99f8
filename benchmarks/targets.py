"""Every headline target of the project, in one place, with where it comes from.

``benchmarks/run.py`` judges each against the results of the benchmarks it ran and prints one
table (figure, value, target, met / NOT met / not run / not comparable); the scripts that check
a target themselves (matching, load, ml100k) read their thresholds from here.

A target is judged only on a result measured in its own setting (the city scale, the full public
split, the load test's 100 req/s for 60 s on a city bundle); a quick-mode or tiny-city result is
"not comparable", and a figure no benchmark of this run produced is "not run" — never "met".
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

OPS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, ">=": operator.ge, ">": operator.gt}
CITY_CADRES = 20_000  # the city scale (docs/BENCHMARKS.md; ganxun.simulation "city")


def _none(_: dict) -> str | None:
    return None


@dataclass(frozen=True)
class Target:
    """One headline figure and its target."""

    key: str
    figure: str  # what is measured, in words
    benchmark: str  # the benchmark of run.py that measures it (its results file stem)
    op: str  # one of OPS: value OP threshold is "met"
    threshold: float
    unit: str
    source: str  # where the target was set
    value: Callable[[dict], float | None]  # the figure, from the benchmark's result
    setting: Callable[[dict], str | None] = _none  # why a result is not comparable, or None

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return bool(OPS[self.op](value, self.threshold))


# ---------------------------------------------------------------- readers of the results


def _get(d, *keys):
    for k in keys:
        if isinstance(d, dict) and k in d:
            d = d[k]
        elif isinstance(d, list) and isinstance(k, int) and -len(d) <= k < len(d):
            d = d[k]
        else:
            return None
    return d


def _step(step: str, scale: str = "city") -> Callable[[dict], float | None]:
    def read(r: dict) -> float | None:
        rows = [s for s in r.get("steps", []) if s["step"] == step and s["scale"] == scale]
        return rows[-1]["median_s"] if rows else None

    return read


def _metric(name: str, scale: str = "city") -> Callable[[dict], float | None]:
    return lambda r: _get(r, "offline_metrics", scale, name)


def _ratio(num: str, den: str, scale: str = "city") -> Callable[[dict], float | None]:
    def read(r: dict) -> float | None:
        a, b = _get(r, "offline_metrics", scale, num), _get(r, "offline_metrics", scale, den)
        return a / b if a is not None and b else None

    return read


def _pipeline_city(r: dict) -> str | None:
    scales = r.get("scales", [])
    return None if "city" in scales else f"scales {', '.join(scales) or 'none'}, not city"


def _a0910(model: str, column: str) -> Callable[[dict], float | None]:
    def read(r: dict) -> float | None:
        rows = [x for x in r.get("results", []) if x["model"] == model and x["split"] == "test"]
        return rows[-1][column] if rows else None

    return read


def _ml100k(column: str) -> Callable[[dict], float | None]:
    def read(r: dict) -> float | None:
        rows = [x for x in r.get("test", []) if x["model"] == "two-stage (full)"]
        return rows[-1][column] if rows else None

    return read


def _matching_city(r: dict) -> str | None:
    return None if r.get("scale") == "city" else f"scale {r.get('scale')}, not city"


def _load_city(r: dict) -> str | None:
    n = r.get("cadres", 0)
    return None if n >= CITY_CADRES else f"bundle of {n:,} cadres, not a city bundle"


def _selection_city(r: dict) -> str | None:
    n = r.get("cadres", 0)
    return None if n >= CITY_CADRES else f"bundle of {n:,} cadres, not the city"


def _load_rate(r: dict) -> str | None:
    fixed = r.get("fixed_rate", {})
    rate = _get(fixed, "recommendations", "target_rps")
    if rate != 100 or fixed.get("duration_s", 0) < 60:
        return f"{rate} req/s for {fixed.get('duration_s')} s, not 100 req/s for 60 s"
    return _load_city(r)


def _load_errors(r: dict) -> float | None:
    a = _get(r, "fixed_rate", "recommendations", "errors")
    b = _get(r, "fixed_rate", "health", "errors")
    return None if a is None or b is None else a + b


# ---------------------------------------------------------------- the targets

DOCS = "docs/BENCHMARKS.md"
TARGETS: tuple[Target, ...] = (
    Target(
        "pipeline.generate_city_s",
        "generate the city (median wall time)",
        "pipeline",
        "<",
        60,
        "s",
        f"issue 2; {DOCS} §1",
        _step("generate"),
        _pipeline_city,
    ),
    Target(
        "pipeline.train_city_s",
        "train the city (median wall time)",
        "pipeline",
        "<=",
        120,
        "s",
        f"issue 2; {DOCS} §1",
        _step("train"),
        _pipeline_city,
    ),
    Target(
        "knowledge.auc_share_of_oracle",
        "knowledge: (AUC − 0.5) as a share of the oracle's, city",
        "pipeline",
        ">=",
        0.90,
        "",
        f"issue 3; {DOCS} §2",
        _metric("knowledge.auc_share_of_oracle"),
        _pipeline_city,
    ),
    Target(
        "knowledge.spearman_evidence",
        "knowledge: Spearman with true mastery, cells with exam evidence, city",
        "pipeline",
        ">=",
        0.85,
        "",
        f"issue 3; {DOCS} §2",
        _metric("knowledge.spearman_evidence"),
        _pipeline_city,
    ),
    Target(
        "a0910.stacked_auc",
        "a0910 test AUC, StackedDiagnosis",
        "a0910",
        ">=",
        0.785,
        "",
        f"{DOCS} §2 (a0910)",
        _a0910("StackedDiagnosis", "auc"),
    ),
    Target(
        "a0910.stacked_acc",
        "a0910 test accuracy, StackedDiagnosis",
        "a0910",
        ">=",
        0.740,
        "",
        f"{DOCS} §2 (a0910)",
        _a0910("StackedDiagnosis", "acc"),
    ),
    Target(
        "recommend.model_over_als",
        "recommender nDCG@10 ÷ ALS alone, city",
        "pipeline",
        ">=",
        1.25,
        "×",
        f"issue 7; {DOCS} §3",
        _ratio("recommend.model.ndcg@10", "recommend.als.ndcg@10"),
        _pipeline_city,
    ),
    Target(
        "recommend.model_over_oracle",
        "recommender nDCG@10 ÷ the oracle's, city",
        "pipeline",
        ">=",
        0.80,
        "",
        f"issue 7; {DOCS} §3",
        _ratio("recommend.model.ndcg@10", "recommend.oracle.ndcg@10"),
        _pipeline_city,
    ),
    Target(
        "recommend.repeats",
        "recommender: taken courses repeated in the top 10, city",
        "pipeline",
        "==",
        0,
        "",
        f"issue 7; {DOCS} §3",
        _metric("recommend.model.repeats_in_top_k"),
        _pipeline_city,
    ),
    Target(
        "ml100k.ndcg",
        "MovieLens-100K nDCG@10, two-stage",
        "ml100k",
        ">=",
        0.50,
        "",
        f"{DOCS} §3 (MovieLens-100K)",
        _ml100k("ndcg"),
    ),
    Target(
        "ml100k.precision",
        "MovieLens-100K Precision@10, two-stage",
        "ml100k",
        ">=",
        0.44,
        "",
        f"{DOCS} §3 (MovieLens-100K)",
        _ml100k("precision"),
    ),
    Target(
        "matching.teacher_share",
        "teacher plan: mean true rating, share of the oracle's, city",
        "matching",
        ">=",
        0.97,
        "",
        f"issue 4; {DOCS} §4",
        lambda r: _get(r, "teacher_plan", "plans", "model", "share_of_oracle"),
        _matching_city,
    ),
    Target(
        "matching.staff_share",
        "staff plan: mean true rating, share of the oracle's, city",
        "matching",
        ">=",
        0.97,
        "",
        f"issue 4; {DOCS} §4",
        lambda r: _get(r, "staff_plan", "plans", "model", "share_of_oracle"),
        _matching_city,
    ),
    Target(
        "matching.rollcall_share",
        "rollcall roster: true benefit, share of the oracle's, city",
        "matching",
        ">=",
        0.95,
        "",
        f"issue 4; {DOCS} §4",
        lambda r: _get(r, "rollcall", "benefit_share_of_oracle", "model"),
        _matching_city,
    ),
    Target(
        "matching.rollcall_violations",
        "rollcall roster: constraint violations over all requests, city",
        "matching",
        "==",
        0,
        "",
        f"issue 4; {DOCS} §4",
        lambda r: _get(r, "rollcall", "constraint_violations", "model"),
        _matching_city,
    ),
    Target(
        "matching.rollcall_p99_s",
        "one rollcall (candidates + roster), p99 latency, city",
        "matching",
        "<=",
        0.200,
        "s",
        f"issue 16 §1; {DOCS} §4",
        lambda r: _get(r, "latency", "rollcall", "p99_s"),
        _matching_city,
    ),
    Target(
        "design.vs_historical",
        "designed class: true gain ÷ the historical class with the same goal, city",
        "design",
        ">=",
        1.3,
        "×",
        f"issue 15; {DOCS} §7",
        lambda r: _get(r, "design", "ratio_to_historical", "design"),
        _matching_city,
    ),
    Target(
        "design.p99_s",
        "one city-scale class design, p99 latency",
        "design",
        "<=",
        2.0,
        "s",
        f"issue 15; {DOCS} §7",
        lambda r: _get(r, "latency", "p99_s"),
        _matching_city,
    ),
    Target(
        "design.evaluation_spearman",
        "evaluation: Spearman of the class gain with the true class effect, city",
        "design",
        ">=",
        0.7,
        "",
        f"issue 15; {DOCS} §7",
        lambda r: _get(r, "evaluation", "spearman"),
        _matching_city,
    ),
    Target(
        "load.throughput_ratio",
        "recommendations ÷ /health throughput, live server, city bundle",
        "load",
        ">=",
        0.5,
        "×",
        f"issue 5; {DOCS} §5",
        lambda r: _get(r, "throughput", "ratio"),
        _load_city,
    ),
    Target(
        "load.p99_ms",
        "recommendations p99 latency at 100 req/s for 60 s, city bundle",
        "load",
        "<=",
        25,
        "ms",
        f"issue 5; {DOCS} §5",
        lambda r: _get(r, "fixed_rate", "recommendations", "p99_ms"),
        _load_rate,
    ),
    Target(
        "load.errors",
        "errors at 100 req/s for 60 s (non-2xx, failures, answers after the timeout)",
        "load",
        "==",
        0,
        "",
        f"issue 5; {DOCS} §5",
        _load_errors,
        _load_rate,
    ),
    Target(
        "fuzz.server_errors",
        "5xx answers while fuzzing every route",
        "fuzz",
        "==",
        0,
        "",
        f"issue 5; {DOCS} §5",
        lambda r: r.get("server_errors"),
    ),
    Target(
        "compliance.auc_6m",
        "hour compliance: AUC of the forecast of who misses a rule, 6 months before the end, city",
        "pipeline",
        ">=",
        0.90,
        "",
        f"issue 14; {DOCS} §6",
        _metric("compliance.auc_6m"),
        _pipeline_city,
    ),
    Target(
        "selection.spearman_median",
        "selection reference: Spearman of the fit with the true fit (median over posts), city",
        "selection",
        ">=",
        0.80,
        "",
        f"issue 14; {DOCS} §6",
        lambda r: r.get("spearman_median"),
        _selection_city,
    ),
    Target(
        "selection.thin_rank_gap",
        "selection reference: rank percentile of thin-evidence minus equally fit candidates, city",
        "selection",
        ">=",
        -0.05,
        "",
        f"issue 14; {DOCS} §6",
        lambda r: _get(r, "thin_evidence", "rank_gap_mean"),
        _selection_city,
    ),
)
BY_KEY = {t.key: t for t in TARGETS}


def threshold(key: str) -> float:
    """The threshold of target ``key`` (for the scripts that report their own target)."""
    return BY_KEY[key].threshold


def judge(target: Target, result: dict | None, why_absent: str = "") -> dict:
    """One row of the summary: the figure, its target, and met / NOT met / not run / …

    ``result`` is the benchmark's result from *this* run (None when it did not run; then
    ``why_absent`` says why). A quick-mode result, or one measured outside the target's setting,
    is "not comparable"; a figure missing from a result is "not measured".
    """
    row = {
        "key": target.key,
        "figure": target.figure,
        "benchmark": target.benchmark,
        "value": None,
        "unit": target.unit,
        "target": f"{target.op} {target.threshold:g}{(' ' + target.unit) if target.unit else ''}",
        "status": "not run",
        "note": why_absent or f"{target.benchmark} did not run",
        "source": target.source,
    }
    if result is None:
        return row
    value = target.value(result)
    if value is not None:
        row["value"] = round(float(value), 4)
    reason = "quick mode" if result.get("quick") else target.setting(result)
    if reason:
        row.update(status="not comparable", note=reason)
    elif value is None or not math.isfinite(value):
        row.update(status="not measured", note="figure absent from the result")
    else:
        row.update(status="met" if target.met(value) else "NOT met", note="")
    return row
