import json
import shutil

import numpy as np
import pandas as pd
import pytest

from ganxun.features.contracts import ContractError
from ganxun.training.bundle import BundleError, load_bundle, newest_bundle, read_manifest
from ganxun.training.pipeline import train
from ganxun.training.sources import read_tables, write_tables


def test_training_writes_a_versioned_bundle(trained):
    result, artifacts = trained
    assert newest_bundle(artifacts) == result.bundle
    manifest = read_manifest(result.bundle)
    for key in ("version", "trained_at", "data_fingerprint", "schema_version", "metrics", "files"):
        assert key in manifest
    fitted, _ = load_bundle(result.bundle)
    assert fitted.knowledge.reserve.shape == (300, 12)


def test_metrics_beat_chance_and_truth_is_used(trained):
    metrics = trained[0].metrics
    assert metrics["knowledge.auc"] > 0.55  # the exposure baseline; see BENCHMARKS
    assert metrics["knowledge.auc_oracle"] >= metrics["knowledge.auc"] - 0.02
    assert metrics["knowledge.spearman_evidence"] > 0.3
    assert metrics["recommend.model.repeats_in_top_k"] == 0
    assert metrics["recommend.peer_popularity.ndcg@10"] > 0


def test_run_is_tracked_in_mlflow(trained):
    import mlflow

    from ganxun.training.tracking import tracking_uri

    result, artifacts = trained
    client = mlflow.MlflowClient(tracking_uri(artifacts))
    run = client.get_run(result.run_id)
    assert run.data.tags["bundle_version"] == result.bundle.name
    assert run.data.metrics["knowledge.auc"] == pytest.approx(result.metrics["knowledge.auc"])
    assert "cadre_id" not in json.dumps(run.data.params)  # no identities in params


def test_corrupt_bundle_is_refused(trained, tmp_path):
    import shutil

    result, _ = trained
    copy = tmp_path / "bundle"
    shutil.copytree(result.bundle, copy)
    (copy / "knowledge.joblib").write_bytes(b"not a pickle")
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(copy)


def test_broken_folder_trains_on_the_rest_and_reports(tiny_dir, tmp_path):
    data = tmp_path / "broken"
    tables = read_tables(tiny_dir)
    tables["enrollments"].loc[1, "enrolled_on"] = "2025-02-30"
    tables["course_ratings"].loc[2, "course_score"] = "7"
    tables["cadres"].loc[3, "unit_id"] = "U9999"
    write_tables(tables, data, "csv")
    # with the truth present, evaluation must skip what validation set aside (it used to crash)
    shutil.copytree(tiny_dir / "truth", data / "truth")
    result = train(data, tmp_path / "art", track=False, progress=False)
    assert "recommend.oracle.ndcg@10" in result.metrics
    problems = pd.read_csv(tmp_path / "art" / "problems.csv")
    named = set(zip(problems["table"], problems["row"], problems["column"], strict=True))
    assert {
        ("enrollments", 2, "enrolled_on"),
        ("course_ratings", 3, "course_score"),
        ("cadres", 4, "unit_id"),
    } <= named
    assert result.bundle.exists()


def test_missing_column_stops_with_one_message(tiny_dir, tmp_path):
    data = tmp_path / "nocol"
    tables = read_tables(tiny_dir)
    tables["staff"] = tables["staff"].drop(columns=["years"])
    write_tables(tables, data, "csv")
    with pytest.raises(ContractError, match="staff, column years"):
        train(data, tmp_path / "art", track=False, progress=False)


def test_diagnosis_beats_the_exposure_baseline(trained):
    m = trained[0].metrics
    assert m["knowledge.auc"] > m["knowledge.auc_baseline"] + 0.03
    assert m["knowledge.spearman_exposure_only"] > m["knowledge.spearman_exposure_only_baseline"]
    assert m["knowledge.auc_share_of_oracle"] > 0.6


def test_config_file_and_command_line_overrides(tmp_path):
    from ganxun.training.config import load_config

    path = tmp_path / "train.toml"
    path.write_text("test_months = 4\n[knowledge]\nl2_theta = 2.5\n", "utf-8")
    config = load_config(path, ["knowledge.l2_theta=3", "recommender.ranker_objective=lambdarank"])
    assert config.test_months == 4
    assert config.knowledge.l2_theta == 3.0  # the command line wins over the file
    assert config.recommender.ranker_objective == "lambdarank"
    with pytest.raises(ValueError, match="l2_theeta"):
        load_config(path, ["knowledge.l2_theeta=3"])  # a misspelt key is an error
    with pytest.raises(ValueError, match="greater than 0"):
        load_config(None, ["knowledge.l2_theta=-1"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        load_config(None, ["knowledge.l2_theta"])


def test_rollcall_settings_reach_the_ranker(tiny_city):
    from ganxun.features.contracts import validate
    from ganxun.features.split import before, default_split_date
    from ganxun.training.config import load_config
    from ganxun.training.fitting import build_catalog, fit_planning

    tables = validate(tiny_city.tables).tables
    split = default_split_date(tables)
    at = before(tables, split)
    config = load_config(None, ["rollcall.use_learning_speed=false", "rollcall.load_penalty=0.2"])
    cat = build_catalog(at, split)
    reserve = np.full((len(cat.cadres), len(cat.topics)), 0.5)
    ranker = fit_planning(at, cat, reserve, split, rollcall=config.rollcall).rollcall
    assert ranker.use_learning_speed is False and ranker.load_penalty == 0.2
    assert ranker.obligation_weight == config.rollcall.obligation_weight


def test_model_beats_popularity_on_the_tiny_city(trained):
    metrics = trained[0].metrics
    floor = max(
        metrics["recommend.popularity.ndcg@10"], metrics["recommend.peer_popularity.ndcg@10"]
    )
    assert metrics["recommend.model.ndcg@10"] > 1.1 * floor


def test_raising_a_gap_moves_that_topics_courses_up(trained):
    import copy

    import numpy as np

    fitted, _ = load_bundle(trained[0].bundle)
    rec, cat = fitted.recommender, fitted.catalog
    model = copy.deepcopy(rec.model)  # the gap arrays are changed in place below
    main = cat.topics.index(cat.course_info["main_topic"])
    views = model.extra_features.views
    gap_arrays = {id(v.gaps): v.gaps for v in views.values()}
    gap_arrays[id(model.retrievers_["gap"].gaps_)] = model.retrievers_["gap"].gaps_
    n_items = rec.seen.shape[1]
    up = 0
    for cadre in range(0, 60, 6):
        seen = rec.seen[[cadre]]
        before = model.recommend([cadre], seen, N=n_items)[0][0]
        topic = int(np.argmin(views["recommend"].gaps[cadre]))  # its courses are rarely listed
        for g in gap_arrays.values():
            g[cadre, topic] = 0.6
        after = model.recommend([cadre], seen, N=n_items)[0][0]
        common = np.intersect1d(before[before >= 0], after[after >= 0])
        lists = [lst[np.isin(lst, common)] for lst in (before, after)]  # same courses, two orders
        pos = [np.flatnonzero(main[lst] == topic).mean() for lst in lists]
        assert pos[1] <= pos[0]  # the topic's courses never move down
        up += pos[1] < pos[0] - 0.5
    assert up >= 8  # and they move up for (nearly) every cadre


def test_all_data_fit_in_a_second_process_gives_the_same_bundle(trained, tiny_dir, tmp_path):
    import numpy as np

    from ganxun.training.config import TrainConfig
    from ganxun.training.pipeline import use_parallel_fit

    first, _ = trained
    assert not use_parallel_fit(TrainConfig(), read_tables(tiny_dir))  # tiny: in line by default
    again = train(tiny_dir, tmp_path, TrainConfig(parallel_fit="on"), track=False, progress=False)
    a, _ = load_bundle(first.bundle)
    b, _ = load_bundle(again.bundle)
    np.testing.assert_array_equal(a.knowledge.reserve, b.knowledge.reserve)
    users = np.arange(40)
    seen = a.recommender.seen[users]
    lists_a = a.recommender.model.recommend(users, seen, N=10)[0]
    lists_b = b.recommender.model.recommend(users, seen, N=10)[0]
    np.testing.assert_array_equal(lists_a, lists_b)
    assert again.metrics == first.metrics


def test_bundles_carry_default_lists_and_load_without_them(trained, tmp_path):
    import dataclasses

    from ganxun.training.bundle import save_bundle
    from ganxun.training.fitting import list_length

    fitted, manifest = load_bundle(trained[0].bundle)
    assert "lists.joblib" in manifest["files"]
    n = list_length(fitted)
    assert fitted.lists.ids.shape == (len(fitted.catalog.cadres.ids_), n) and n > 0
    assert (fitted.lists.ids[:, 0] >= 0).all()  # every cadre has a list
    older = save_bundle(dataclasses.replace(fitted, lists=None), tmp_path, {"data_fingerprint": ""})
    again, manifest = load_bundle(older)
    assert "lists.joblib" not in manifest["files"] and again.lists is None


def test_the_choice_model_and_bagged_rankers_plug_into_the_city_recommender(tiny_city):
    import numpy as np

    from ganxun.features.contracts import validate
    from ganxun.features.split import before, default_split_date
    from ganxun.training.config import load_config
    from ganxun.training.fitting import build_catalog, fit_knowledge, fit_quality, fit_recommender

    tables = validate(tiny_city.tables).tables
    split = default_split_date(tables)
    at = before(tables, split)
    config = load_config(
        None,
        [
            "recommender.choice_factors=4",
            "recommender.choice_epochs=2",
            "recommender.n_rankers=2",
        ],
    )
    cat = build_catalog(at)
    knowledge = fit_knowledge(at, cat, split, config.knowledge)
    rec = fit_recommender(at, cat, knowledge, fit_quality(at, cat, split), split, config)
    model = rec.model
    assert {"taste_rank", "taste_z", "taste_score"} <= set(model.feature_names_)
    assert len(model.ranker_.rankers) == 2
    factors = dict(model.retrievers)["taste"].factors
    fit_x, serve_x = factors["fit"].user_factors, factors["recommend"].user_factors
    assert fit_x.shape == serve_x.shape == (len(cat.cadres), 4)
    assert (fit_x == 0).all(axis=1).sum() > (serve_x == 0).all(axis=1).sum()  # fewer choosers
    assert factors["recommend"].context_weights.shape == (2,)
    users = np.arange(10)
    ids, _ = model.recommend(users, rec.seen[users], N=5)
    assert (ids >= 0).all()
    for u in users:
        assert set(ids[u].tolist()).isdisjoint(rec.seen[u].indices.tolist())
