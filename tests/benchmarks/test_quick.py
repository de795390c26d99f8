"""Every benchmark script's quick mode runs end to end and yields the figures it promises.

Marker ``bench_quick`` (runs by default; ``-m 'not bench_quick'`` skips it). Each test calls the
script's ``main([..., "--quick"])`` — the code path of the full benchmark, on the tiny city or a
sample of the public data — and checks that every figure the script promises (its ``FIGURES``)
is present and a finite number, and that the JSON it wrote is what it returned. The values are
not checked: the targets are judged by ``make bench`` (``benchmarks/run.py``) on full runs.

The public datasets are found as notebook 03 finds them (``$GANXUN_DATASETS``, else
``../shared/datasets`` beside the repository); a test that needs an absent one skips, naming the
folder.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import benchlib  # noqa: E402
import targets  # noqa: E402

pytestmark = pytest.mark.bench_quick

#: Every script of benchmarks/ and the test of its quick mode below.
TESTED = {
    "bench_pipeline.py": "test_pipeline_quick",
    "bench_a0910.py": "test_a0910_quick",
    "bench_ml100k.py": "test_ml100k_quick",
    "bench_matching.py": "test_matching_quick",
    "bench_design.py": "test_design_quick",
    "bench_load.py": "test_load_quick",
    "bench_fuzz.py": "test_fuzz_quick",
    "bench_recommend_speed.py": "test_recommend_speed_quick",
    "bench_recommend_oracle.py": "test_recommend_oracle_quick",
    "bench_schedule_horizon.py": "test_schedule_horizon_quick",
    "bench_realistic.py": "test_realistic_quick",
    "bench_compliance.py": "test_compliance_quick",
    "bench_knowledge_settings.py": "test_knowledge_settings_quick",
    "bench_spark.py": "test_spark_quick",
    "bench_selection.py": "test_selection_quick",
    "run.py": "test_run_quick_summary",
}


def dataset(name: str) -> Path:
    folder = benchlib.datasets_dir() / name
    if not folder.is_dir():
        pytest.skip(
            f"no {name} data in {folder}: set GANXUN_DATASETS or place shared/datasets beside "
            "the repository"
        )
    return folder


def check(module, result: dict, written: dict, *extra: str) -> None:
    """The quick result has every promised figure, finite, and was written as returned."""
    assert result is not None and result["quick"] is True
    assert benchlib.missing_figures(result, (*module.FIGURES, *extra)) == []
    assert written == json.loads(json.dumps(result, ensure_ascii=False, default=float))


def test_every_script_has_a_quick_mode_test():
    scripts = {p.name for p in BENCH.glob("*.py")} - {"benchlib.py", "targets.py"}
    assert scripts == set(TESTED)
    assert all(callable(globals()[name]) for name in TESTED.values())
    for script in scripts - {"run.py"}:
        assert "--quick" in (BENCH / script).read_text(), script


def test_missing_figures_names_absent_and_non_finite_values():
    result = {"rows": [{"a": 1.0}, {"a": float("nan")}, {}], "b": True, "c": {"d": 2, "e.f": 3}}
    bad = benchlib.missing_figures(result, ("rows.*.a", "b", "c.d", "c.e.f", "c.g"))
    assert bad == ["rows.1.a = nan", "rows.2.a = None", "b = True", "c.g = None"]
    with pytest.raises(AssertionError, match="rows.1.a"):
        benchlib.check_figures(result, ("rows.*.a",), "example")


def test_pipeline_quick(tmp_path):
    import bench_pipeline

    result = bench_pipeline.main(["--quick", "--out", str(tmp_path)])
    check(bench_pipeline, result, json.loads((tmp_path / "pipeline.json").read_text()))
    assert [(s["step"], s["scale"]) for s in result["steps"]] == [
        ("generate", "tiny"),
        ("train", "tiny"),
    ]
    assert list(result["offline_metrics"]) == ["tiny"]


def test_a0910_quick(tmp_path):
    import bench_a0910

    data = dataset("a0910")
    result = bench_a0910.main(["--quick", "--data", str(data), "--out", str(tmp_path)])
    check(bench_a0910, result, json.loads((tmp_path / "a0910.json").read_text()))
    rows = {(r["model"], r["split"]) for r in result["results"]}
    assert rows == {(m, s) for m in bench_a0910.MODELS for s in ("valid", "test")}
    assert result["n_users"] == bench_a0910.QUICK_USERS


def test_ml100k_quick(tmp_path):
    import bench_ml100k

    data = dataset("ml-100k")
    result = bench_ml100k.main(["--quick", "--data", str(data), "--out", str(tmp_path)])
    check(bench_ml100k, result, json.loads((tmp_path / "ml100k.json").read_text()))
    models = ["popularity", "ALS", "EASE", "item-kNN", "co-visit", "two-stage (full)"]
    assert [r["model"] for r in result["test"]] == models
    assert [r["model"] for r in result["validation"]] == models
    assert 0 < result["test"][-1]["users"] <= bench_ml100k.QUICK_USERS


@pytest.mark.spark
def test_spark_quick(tmp_path):
    import shutil as _shutil

    if _shutil.which("java") is None:
        pytest.skip("no Java: the Spark engine cannot start")
    import bench_spark

    result = bench_spark.main(["--quick", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "bench_spark.json").read_text())
    check(bench_spark, result, written)
    assert result["scale"] == "tiny"


def test_realistic_quick(tmp_path):
    import bench_realistic

    result = bench_realistic.main(["--quick", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "realistic-validation.json").read_text())
    check(bench_realistic, result, written)
    assert result["stage"] == "validation" and len(result["on"]["runs"]) == 1


def test_compliance_quick(tmp_path):
    import bench_compliance

    result = bench_compliance.main(["--quick", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "compliance-test.json").read_text())
    check(bench_compliance, result, written)
    run = result["on"]["runs"][0]
    assert 0.0 <= run["compliance.auc_6m"] <= 1.0 and run["compliance.rows_6m"] >= 20


def test_knowledge_settings_quick(tmp_path):
    import bench_knowledge_settings

    result = bench_knowledge_settings.main(["--quick", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "knowledge_settings.json").read_text())
    check(bench_knowledge_settings, result, written)
    assert set(result["variants"]) == {"defaults", "prior_strength=3"}
    assert result["best"] in result["variants"]


def test_matching_quick(tmp_path):
    import bench_matching

    result = bench_matching.main(["--quick", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "matching.json").read_text())
    check(bench_matching, result, written["tiny"])
    assert result["scale"] == "tiny" and result["rollcall"]["requests"] >= 1
    assert set(result["rollcall"]["benefit_share_of_oracle"]) >= {"model", "oracle", "random"}


def test_design_quick(tmp_path):
    import bench_design

    result = bench_design.main(["--quick", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "design.json").read_text())
    check(bench_design, result, written["tiny"])
    assert result["scale"] == "tiny" and 1 <= result["design"]["classes"]
    steps = {f"truth_{s}" for s in bench_design.STEPS}
    assert set(result["design"]["true_gain"]) == {*bench_design.PLANS, *steps, "model_steps"}


def test_load_quick(tmp_path, trained):
    import bench_load

    artifacts = trained[1]
    files_before = sorted(p.name for p in artifacts.iterdir())
    result = bench_load.main(
        ["--quick", "--artifacts", str(artifacts), "--out", str(tmp_path / "out")]
    )
    check(
        bench_load,
        result,
        json.loads((tmp_path / "out" / "load.json").read_text()),
        "lists_complete_after_s",
    )
    # it waited on the structured readiness, which reported every list ready
    lists = result["ready_status"]["default_lists"]
    assert lists["total"] == result["cadres"] and result["cadres"] > 0
    assert result["fixed_rate"]["recommendations"]["requests"] > 0
    assert sorted(p.name for p in artifacts.iterdir()) == files_before  # ran on a copy


def test_fuzz_quick(tmp_path, trained):
    import bench_fuzz

    result = bench_fuzz.main(["--quick", "--artifacts", str(trained[1]), "--out", str(tmp_path)])
    check(bench_fuzz, result, json.loads((tmp_path / "fuzz.json").read_text()))
    from tests.serving.test_fuzz import OPERATIONS

    fuzzed = {r["operation"] for r in result["operations"]}
    assert len(fuzzed) == len(OPERATIONS) and result["requests"] > 0


def test_recommend_speed_quick(tmp_path, trained):
    import bench_recommend_speed

    result = bench_recommend_speed.main(
        ["--quick", "--artifacts", str(trained[1]), "--out", str(tmp_path)]
    )
    check(
        bench_recommend_speed, result, json.loads((tmp_path / "recommend_speed.json").read_text())
    )
    # the batch covers every cadre even though the bundle brought its lists
    assert result["batch_cadres"] == result["cadres"] > 0


def test_recommend_oracle_quick(tmp_path, tiny_dir):
    import bench_recommend_oracle

    result = bench_recommend_oracle.main(
        ["--quick", "--data", str(tiny_dir), "--out", str(tmp_path)]
    )
    check(
        bench_recommend_oracle, result, json.loads((tmp_path / "recommend_oracle.json").read_text())
    )
    assert len(result["lists"]) == 6
    assert set(result["taste_correlation"]) == {"choice model", "ALS scores"}


def test_schedule_horizon_quick(tmp_path, tiny_dir):
    import bench_schedule_horizon

    result = bench_schedule_horizon.main(
        ["--quick", "--data", str(tiny_dir), "--out", str(tmp_path)]
    )
    check(
        bench_schedule_horizon, result, json.loads((tmp_path / "schedule_horizon.json").read_text())
    )
    months = [int(m) for m in bench_schedule_horizon.QUICK_MONTHS.split(",")]
    assert [r["schedule_months"] for r in result["rows"]] == months


def test_selection_quick(tmp_path, trained_real, tiny_real_dir):
    import bench_selection

    result = bench_selection.main(
        [
            "--quick",
            "--artifacts",
            str(trained_real[1]),
            "--data",
            str(tiny_real_dir),
            "--out",
            str(tmp_path),
        ]
    )
    check(bench_selection, result, json.loads((tmp_path / "selection.json").read_text()))
    assert result["posts"] >= 6 and all(r["candidates"] >= 20 for r in result["rows"])
    # thin-evidence candidates are not ranked below equally fit ones (issue 14)
    assert result["thin_evidence"]["rank_gap_mean"] > -0.05


def test_run_quick_summary(tmp_path):
    """``run.py --quick`` runs a script as a process and judges every target on this run only."""
    import run

    out = tmp_path / "results"
    summary = run.main(["--quick", "--only", "matching", "--out", str(out)])
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["benchmarks"]["matching"]["status"] == "ok" and not run.failed(summary)
    rows = {r["key"]: r for r in summary["rows"]}
    assert list(rows) == [t.key for t in targets.TARGETS]
    for target in targets.TARGETS:
        row = rows[target.key]
        if target.benchmark == "matching":  # measured, but in quick mode: never judged
            assert row["status"] == "not comparable" and row["note"] == "quick mode"
            assert row["value"] is not None
        else:
            assert row["status"] == "not run" and row["value"] is None
    # a result from before a run is not a figure of that run
    later = run.summarize(out, since=time.time())
    assert {r["status"] for r in later} == {"not run"}


def test_judging_never_reports_an_absent_or_quick_figure_as_met():
    expected = {  # (met just above the threshold, met just below it)
        "<": (False, True),
        "<=": (False, True),
        "==": (False, False),
        ">=": (True, False),
        ">": (True, False),
    }
    for target in targets.TARGETS:
        assert targets.judge(target, None)["status"] == "not run"
        assert targets.judge(target, {"quick": True})["status"] == "not comparable"
        at, step = target.threshold, max(abs(target.threshold), 1) * 0.01
        assert (target.met(at + step), target.met(at - step)) == expected[target.op]
        assert target.met(at) == (target.op in ("<=", "==", ">="))
