"""MLflow registry: runs register bundles; promote, serve models:/…@production, roll back."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ganxun.cli import main
from ganxun.serving.app import create_app
from ganxun.serving.settings import Settings
from ganxun.training import registry
from ganxun.training.tracking import log_run
from tests.serving.conftest import key_for


def test_training_run_registers_a_version_with_figures_and_signature(trained):
    result, artifacts = trained
    assert result.run_id and result.model_version
    version = registry.get_version(artifacts, result.model_version)
    assert version.run_id == result.run_id
    assert version.bundle_version == result.bundle.name
    c = registry.client(artifacts)
    figures = {a.path.split("/")[-1] for a in c.list_artifacts(result.run_id, "figures")}
    assert {"reserve_calibration.png", "ndcg_by_rank.png", "unit_layout.png"} <= figures
    run = c.get_run(result.run_id)
    assert any(k.startswith("time.") for k in run.data.metrics), "step timings are logged"
    assert "knowledge.auc" in run.data.metrics
    import mlflow

    info = mlflow.models.get_model_info(f"models:/{registry.MODEL_NAME}/{result.model_version}")
    assert [c.name for c in info.signature.inputs.inputs] == ["task", "id", "k"]


def test_the_bundle_is_stored_once(trained):
    result, artifacts = trained
    version = registry.get_version(artifacts, result.model_version)
    assert version.bundle_path == str(result.bundle.resolve())
    store = artifacts / "mlartifacts"
    logged = [p for p in store.rglob("*") if p.is_file()]
    assert logged, "the run's model, manifest and figures are logged"
    assert not [p for p in logged if p.suffix == ".joblib"], "no bundle part is copied"
    bundle_bytes = sum(p.stat().st_size for p in result.bundle.iterdir())
    model = [p for p in logged if "figures" not in p.parts]  # the run's pictures are its own
    assert sum(p.stat().st_size for p in model) < bundle_bytes / 3
    folder, mv = registry.fetch_bundle(f"models:/ganxun/{result.model_version}", artifacts)
    assert folder == result.bundle and mv.version == result.model_version  # served in place


def test_newest_bundle_reports_its_registered_version(trained):
    result, artifacts = trained
    with TestClient(create_app(Settings(artifacts=artifacts))) as client:
        client.headers["X-API-Key"] = key_for(artifacts)
        live = client.get("/v1/model").json()
    assert live["model_version"] == result.bundle.name
    assert live["registered_version"] == result.model_version
    assert live["model_uri"] == f"models:/ganxun/{result.model_version}"


def test_registering_prints_no_download_progress_bar(trained, tmp_path, capfd):
    result, _ = trained
    art = tmp_path / "art"
    shutil.copytree(result.bundle, art / "bundles" / result.bundle.name)
    run_id = log_run(art, params={}, metrics={}, files=[])
    capfd.readouterr()
    registry.register_bundle(art / "bundles" / result.bundle.name, run_id, art)
    out, err = capfd.readouterr()
    assert "Downloading artifacts" not in out + err
    assert "input example" not in out + err


@pytest.fixture()
def two_versions(trained, tmp_path):
    """A fresh artifacts folder whose registry holds versions 1 and 2 (bundles A and B)."""
    result, _ = trained
    art = tmp_path / "artifacts"
    bundles = []
    for name, x in (("A", 1.0), ("B", 2.0)):
        folder = art / "bundles" / f"{result.bundle.name}-{name}"
        shutil.copytree(result.bundle, folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["version"] = folder.name
        (folder / "manifest.json").write_text(json.dumps(manifest))
        run_id = log_run(art, params={"variant": name}, metrics={"quality.x": x}, files=[])
        bundles.append((folder.name, run_id, registry.register_bundle(folder, run_id, art)))
    return art, bundles


def test_promote_serve_and_roll_back(two_versions):
    art, [(bundle_a, _, va), (bundle_b, _, vb)] = two_versions
    assert (va.version, vb.version) == ("1", "2")
    assert registry.promote(art, "1") is None
    settings = Settings(artifacts=art, model="models:/ganxun@production")
    with TestClient(create_app(settings)) as client:
        client.headers["X-API-Key"] = key_for(art)
        live = client.get("/v1/model").json()
        assert (live["registered_version"], live["model_version"]) == ("1", bundle_a)
        assert live["model_uri"] == "models:/ganxun@production"

        assert registry.promote(art, "2") == "1"
        answer = client.post("/v1/admin/reload").json()
        assert answer["registered_version"] == "2" and answer["model_version"] == bundle_b
        assert client.get("/v1/model").json()["model_version"] == bundle_b

        registry.promote(art, "1")  # roll back
        answer = client.post("/v1/admin/reload").json()
        assert (answer["registered_version"], answer["previous_version"]) == ("1", bundle_b)
        assert client.get("/v1/model").json()["model_version"] == bundle_a
    versions = registry.list_versions(art)
    assert [v.version for v in versions] == ["2", "1"]
    assert versions[1].aliases == ("production",)
    assert not (art / "registry").exists(), "versions are served from their bundle folders"


def test_a_version_holding_a_copy_is_downloaded_once(trained, tmp_path):
    """Versions logged with the bundle inside (a tracking server; older runs) still serve."""
    result, _ = trained
    art = tmp_path / "art"
    folder = art / "bundles" / result.bundle.name
    shutil.copytree(result.bundle, folder)
    run_id = log_run(art, params={}, metrics={}, files=[])
    mv = registry.register_bundle(folder, run_id, art, copy=True)
    no_copy = registry.register_bundle(folder, run_id, art, copy=False)
    shutil.rmtree(art / "bundles")  # the folder is gone: only the copy in MLflow is left
    got, _ = registry.fetch_bundle(f"models:/ganxun/{mv.version}", art)
    assert got == art / "registry" / f"ganxun-v{mv.version}"
    assert (got / "manifest.json").is_file()
    with pytest.raises(registry.RegistryError, match="not on this machine"):
        registry.fetch_bundle(f"models:/ganxun/{no_copy.version}", art)


def test_unknown_version_or_alias_is_a_clear_error(two_versions, capsys):
    art, _ = two_versions
    with pytest.raises(registry.RegistryError, match="no version '99'"):
        registry.promote(art, "99")
    assert main(["promote", "99", "--artifacts", str(art)]) == 2
    assert "no version '99'" in capsys.readouterr().err
    with pytest.raises(registry.RegistryError, match="no alias 'staging'"):
        registry.resolve("models:/ganxun@staging", art)
    with pytest.raises(registry.RegistryError, match="not a models:/"):
        registry.resolve("runs:/abc/model", art)
    # a service asked for an alias nobody set starts unready, and reload says why
    with TestClient(create_app(Settings(artifacts=art, model="models:/ganxun@staging"))) as client:
        assert client.get("/ready").status_code == 503
        client.headers["X-API-Key"] = key_for(art)
        refused = client.post("/v1/admin/reload")
        assert refused.status_code == 409 and "staging" in refused.json()["error"]["message"]


def test_compare_prints_both_runs_side_by_side(two_versions, capsys):
    art, [(_, run_a, _), (_, run_b, _)] = two_versions
    table = registry.compare(art, run_a, run_b)
    assert table.loc["quality.x"].tolist() == [1.0, 2.0, 1.0]
    registry.promote(art, "2")
    via_alias = registry.compare(art, run_a, "models:/ganxun@production")
    assert via_alias.attrs["run_b"] == run_b
    assert main(["compare", run_a, run_b, "--artifacts", str(art)]) == 0
    out = capsys.readouterr().out
    assert "quality.x" in out and run_a in out and run_b in out
    with pytest.raises(registry.RegistryError, match="no MLflow run"):
        registry.compare(art, run_a, "0" * 32)


def test_pyfunc_answers_the_api_tasks_row_by_row(two_versions, trained):
    import mlflow

    art, _ = two_versions
    result, _ = trained
    from ganxun.training.bundle import load_bundle

    fitted, _ = load_bundle(result.bundle)
    cadre = str(fitted.catalog.cadres.ids_[0])
    unit = str(fitted.catalog.units.ids_[0])
    mlflow.set_tracking_uri(registry.tracking_uri(art))
    model = mlflow.pyfunc.load_model("models:/ganxun/1")
    requests = pd.DataFrame(
        {
            "task": ["knowledge", "recommend", "layout", "recommend", "fly"],
            "id": [cadre, cadre, unit, "NO-SUCH-CADRE", cadre],
            "k": [10, 3, 10, 3, 10],
        }
    )
    out = model.predict(requests)
    assert out["status"].tolist() == ["ok", "ok", "ok", "error", "error"]
    assert len(json.loads(out.loc[0, "result"])) == len(fitted.catalog.topics)
    assert len(json.loads(out.loc[1, "result"])) == 3
    assert "row 3" in out.loc[3, "result"] and "unknown task" in out.loc[4, "result"]
