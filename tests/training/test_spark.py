"""The Spark engine against the default engine on the tiny city (marker `spark`)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.spark


def _broken_city(tiny_city, folder):
    """The tiny city as CSV with a few rows broken on purpose (and what was broken)."""
    from ganxun.training.sources import write_tables

    write_tables(tiny_city.tables, folder, "csv")

    def edit(name, change):
        df = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        df = change(df)
        df.to_csv(folder / f"{name}.csv", index=False)

    def enrollments(e):
        e.loc[3, "enrolled_on"] = "2024-13-45"  # bad date
        e.loc[5, "completed_on"] = "2000-01-01"  # completed before enrolled
        e.loc[7, "progress"] = "1.5"  # out of range
        return pd.concat([e, e.iloc[[11]]], ignore_index=True)  # duplicate key

    def responses(r):
        r.loc[4, "item_id"] = "Q_NOPE"  # unknown item
        return pd.concat([r, r.iloc[[6]]], ignore_index=True)  # exact duplicate

    def ratings(r):
        r.loc[1, "course_score"] = "7"  # out-of-range score
        r.loc[2, "course_score"] = "abc"  # not a number
        r.loc[3, "course_score"] = ""  # empty
        return r

    def cadres(c):
        c.loc[1, "unit_id"] = "U_NOPE"  # unknown unit id: the cadre's rows become orphans too
        c.loc[2, "rank"] = "部长"  # not a rank
        return c

    def classes(c):
        c.loc[0, "target_ranks"] = "科员|部长"  # lists an unknown rank
        c.loc[1, "published_on"] = "2099-01-01"  # published after it starts: emptied
        return c

    edit("enrollments", enrollments)
    edit("responses", responses)
    edit("course_ratings", ratings)
    edit("cadres", cadres)
    edit("classes", classes)


def test_spark_validation_names_the_same_problems(spark, tiny_city, tmp_path):
    from ganxun.features.contracts import validate
    from ganxun.training.sources import read_tables
    from ganxun.training.spark.read import read_raw
    from ganxun.training.spark.validate import read_problems, validate_spark

    _broken_city(tiny_city, tmp_path / "city")
    report = validate(read_tables(tmp_path / "city"))
    want = report.problems_frame()
    want["row"] = want["row"].astype("Int64")
    checked = validate_spark(spark, read_raw(spark, tmp_path / "city"))
    checked.write_problems(str(tmp_path / "problems.parquet"))
    got = read_problems(str(tmp_path / "problems.parquet"))
    reasons = " ".join(want["reason"])
    for broken in (
        "not a valid date",
        "must be between 1 and 5: got 7",
        "unknown units id",
        "duplicate id",
        "exact duplicate of row",
        "completed_on is before",
    ):
        assert broken in reasons  # every kind of break is in the report
    assert len(want) > 20
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    for name, df in report.tables.items():  # and the same rows are kept
        assert checked.tables[name].count() == len(df), name


def test_spark_features_equal_the_default_builders(spark, tiny_city):
    from ganxun.features.exposure import (
        decayed_topic_hours,
        interaction_matrix,
        topic_answer_counts,
        with_exposure_hours,
    )
    from ganxun.training.fitting import build_catalog
    from ganxun.training.spark import features as sf

    t = tiny_city.tables
    cat = build_catalog(t)
    asof = pd.Timestamp("2025-06-01")
    e = t["enrollments"]
    want_hours = decayed_topic_hours(
        with_exposure_hours(e[e["enrolled_on"] < asof], t["courses"], 0.5, 0.8),
        cat.course_topics,
        cat.cadres,
        cat.courses,
        asof,
        365.0,
    )
    frame = spark.createDataFrame
    exposure = sf.exposure_hours(
        frame(e), frame(t["courses"][["course_id", "mode"]]), asof, 0.5, 0.8
    )
    hours = sf.dense(
        sf.collect(sf.decayed_hours(exposure, frame(t["course_topics"]), asof, 365.0)),
        cat.cadres,
        cat.topics,
        "cadre_id",
        "topic_id",
    )
    assert want_hours.sum() > 0
    np.testing.assert_allclose(hours, want_hours, rtol=1e-9, atol=1e-9)
    correct, total = topic_answer_counts(
        t["responses"], cat.item_topics, cat.cadres, cat.items, asof
    )
    counts = sf.collect(sf.answer_counts(frame(t["responses"]), frame(t["items"]), asof))
    np.testing.assert_array_equal(
        sf.dense(counts, cat.cadres, cat.topics, "cadre_id", "topic_id", "total"), total
    )
    np.testing.assert_array_equal(
        sf.dense(counts, cat.cadres, cat.topics, "cadre_id", "topic_id", "correct"), correct
    )
    seen = sf.sparse(
        sf.collect(sf.interactions(frame(e), asof)),
        cat.cadres,
        cat.courses,
        "cadre_id",
        "course_id",
    )
    assert (seen != interaction_matrix(e, cat.cadres, cat.courses, asof)).nnz == 0


def test_spark_bundle_agrees_with_the_default_engine(trained, spark_trained):
    (default, _), (result, _) = trained, spark_trained
    a, b = default.metrics, result.metrics
    assert abs(a["knowledge.auc"] - b["knowledge.auc"]) < 0.01
    assert abs(a["recommend.model.ndcg@10"] - b["recommend.model.ndcg@10"]) < 0.01
    assert b["knowledge.auc"] > b["knowledge.auc_baseline"]  # a real model, not a copy of the prior
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    assert manifest["engine"] == "spark" and manifest["driver_sample_cadres"] == 300
    assert {"reserve.parquet", "lists.parquet", "lists.joblib"} <= set(manifest["files"])


def test_spark_per_cadre_tables_match_the_bundle(spark_trained):
    from ganxun.training.bundle import load_bundle

    result, _ = spark_trained
    fitted, _ = load_bundle(result.bundle)  # checksums of every file, the Parquet ones too
    reserve = pd.read_parquet(result.bundle / "reserve.parquet")
    cat = fitted.catalog
    assert len(reserve) == len(cat.cadres) * len(cat.topics)
    wide = reserve.pivot(index="cadre_id", columns="topic_id", values="reserve")
    wide = wide.loc[cat.cadres.ids_, cat.topics.ids_].to_numpy()
    np.testing.assert_allclose(wide, fitted.knowledge.reserve, rtol=1e-6)
    lists = pd.read_parquet(result.bundle / "lists.parquet")
    first = lists[lists["rank"] == 1].set_index("cadre_id")["course_id"]
    row = cat.cadres.index(first.index)
    assert (cat.courses.ids_[fitted.lists.ids[row, 0]] == first.to_numpy()).all()
    assert len(first) == len(cat.cadres)


def test_spark_bundle_is_served(spark_trained, tiny_city):
    from fastapi.testclient import TestClient

    from ganxun.serving.app import create_app
    from ganxun.serving.auth import create_key
    from ganxun.serving.settings import Settings
    from ganxun.training.database import default_url, make_engine

    _, artifacts = spark_trained
    key = create_key(make_engine(default_url(artifacts)), "org", None)
    with TestClient(create_app(Settings(artifacts=artifacts))) as client:
        client.headers["X-API-Key"] = key
        _ask(client, tiny_city)


def _ask(client, tiny_city):
    cadre = tiny_city.tables["cadres"]["cadre_id"].iloc[0]
    r = client.post(f"/v1/cadres/{cadre}/recommendations", json={"k": 5})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 5 and all(i["course_id"] for i in items)
    assert client.get(f"/v1/cadres/{cadre}/knowledge").status_code == 200


def test_person_step_reproduces_the_joint_fit(tiny_city):
    """Re-solving every cadre with the item parameters fixed gives the joint fit's reserve."""
    from ganxun.training.config import KnowledgeConfig
    from ganxun.training.fitting import build_catalog, fit_knowledge, knowledge_groups
    from ganxun.training.spark.persons import PersonInputs, solve_batch, strip

    t, kc = tiny_city.tables, KnowledgeConfig()
    asof = pd.Timestamp("2025-06-01")
    cat = build_catalog(t, asof)
    k = fit_knowledge(t, cat, asof, kc)
    inputs = PersonInputs(
        strip(k.model),
        k.exposure,
        cat.course_topics,
        k.model.Q_,
        knowledge_groups(cat, kc.groups),
        asof,
        kc.half_life_days,
        kc.response_half_life_days,
    )
    e = t["enrollments"][t["enrollments"]["enrolled_on"] < asof]
    r = t["responses"][t["responses"]["answered_on"] < asof]
    day = lambda s: (s - pd.Timestamp("1970-01-01")).dt.days  # noqa: E731
    batch = pd.concat(
        [
            pd.DataFrame(
                {
                    "kind": "e",
                    "ci": cat.cadres.index(e["cadre_id"]),
                    "a": cat.courses.index(e["course_id"]),
                    "day": day(e["enrolled_on"]),
                    "day2": day(e["completed_on"]).fillna(-1).astype(np.int64),
                    "value": e["hours"] * e["progress"],
                    "weight": 1.0,
                }
            ),
            pd.DataFrame(
                {
                    "kind": "r",
                    "ci": cat.cadres.index(r["cadre_id"]),
                    "a": cat.items.index(r["item_id"]),
                    "day": day(r["answered_on"]),
                    "day2": -1,
                    "value": r["correct"].astype(float),
                    "weight": 1.0,
                }
            ),
        ]
    )
    half = batch[batch["ci"] % 2 == 0]  # a batch is any set of cadres: their rows only
    solved = solve_batch(half, inputs)
    assert len(solved) > 30
    theta = np.stack(solved["theta"].to_numpy())
    joint = k.model.theta_[solved["ci"].to_numpy()]
    reserve, want = 1 / (1 + np.exp(-theta)), 1 / (1 + np.exp(-joint))
    assert np.abs(reserve - want).max() < 0.03
    assert np.abs(reserve - want).mean() < 0.003
    fisher = np.stack(solved["fisher"].to_numpy())
    np.testing.assert_allclose(
        fisher, k.model.fisher_[solved["ci"].to_numpy()], rtol=0.05, atol=0.05
    )


def test_stratified_sample_keeps_every_stratum(tiny_city):
    from ganxun.training.spark.fit import stratified_sample

    cadres, units = tiny_city.tables["cadres"], tiny_city.tables["units"]
    assert len(stratified_sample(cadres, units, 10_000, 0)) == len(cadres)  # all: results match
    ids = stratified_sample(cadres, units, 60, 0)
    assert 60 <= len(ids) < 90 and len(set(ids)) == len(ids)
    assert (ids == stratified_sample(cadres, units, 60, 0)).all()  # reproducible
    level = cadres["unit_id"].map(units.set_index("unit_id")["level"])
    strata = set(zip(cadres["rank"], level, strict=True))
    chosen = cadres.set_index("cadre_id").loc[ids]
    assert (
        set(zip(chosen["rank"], level.set_axis(cadres["cadre_id"]).loc[ids], strict=True)) == strata
    )


@pytest.mark.parametrize("module", ["ganxun.cli", "ganxun.training.pipeline"])
def test_default_engine_never_imports_pyspark(module):
    code = f"import sys, {module}; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
