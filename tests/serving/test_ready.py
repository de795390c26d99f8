"""``GET /ready`` is a structured status that clients (and the load benchmark) can wait on.

It reports the live bundle and how many cadres' default recommendation lists are ready, so
nothing needs to read the wording of a log line to know when the service is fully warm.
"""

import dataclasses
import time

import pytest
from fastapi.testclient import TestClient

from ganxun.serving.app import create_app
from ganxun.serving.settings import Settings
from ganxun.training.bundle import load_bundle, save_bundle

KEYS = {"status", "model_version", "default_lists"}
LIST_KEYS = {"complete", "done", "total", "precompute"}


@pytest.fixture(scope="module")
def bundle_without_lists(trained, tmp_path_factory):
    """A copy of the tiny bundle without its default lists (as bundles were before session 3)."""
    fitted, _ = load_bundle(trained[0].bundle)
    folder = tmp_path_factory.mktemp("no_lists")
    bundle = save_bundle(dataclasses.replace(fitted, lists=None), folder, {"data_fingerprint": ""})
    return folder, bundle, len(fitted.catalog.cadres.ids_)


def test_ready_reports_the_bundle_and_its_complete_lists(trained):
    n_cadres = len(load_bundle(trained[0].bundle)[0].catalog.cadres.ids_)
    with TestClient(create_app(Settings(artifacts=trained[1]))) as client:
        r = client.get("/ready")
    body = r.json()
    assert r.status_code == 200 and set(body) == KEYS
    assert body["status"] == "ready" and body["model_version"] == trained[0].bundle.name
    lists = body["default_lists"]
    assert set(lists) == LIST_KEYS
    assert lists == {"complete": True, "done": n_cadres, "total": n_cadres, "precompute": True}


def test_ready_counts_lists_the_service_still_has_to_compute(bundle_without_lists):
    folder, bundle, n_cadres = bundle_without_lists
    settings = Settings(artifacts=folder, bundle=bundle, precompute_lists=False)
    with TestClient(create_app(settings)) as client:
        lists = client.get("/ready").json()["default_lists"]
        assert lists == {"complete": False, "done": 0, "total": n_cadres, "precompute": False}
        predictor = client.app.state.store.current
        predictor.materialize()  # what the background thread does when precompute is on
        lists = client.get("/ready").json()["default_lists"]
        assert lists == {"complete": True, "done": n_cadres, "total": n_cadres, "precompute": False}


def test_ready_follows_the_background_precompute_to_complete(bundle_without_lists):
    folder, bundle, n_cadres = bundle_without_lists
    settings = Settings(artifacts=folder, bundle=bundle, precompute_lists=True)
    seen = []
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            r = client.get("/ready")
            assert r.status_code == 200
            seen.append(r.json()["default_lists"])
            if seen[-1]["complete"]:
                break
            time.sleep(0.05)
    assert seen[-1] == {"complete": True, "done": n_cadres, "total": n_cadres, "precompute": True}
    done = [s["done"] for s in seen]
    assert done == sorted(done) and {s["total"] for s in seen} == {n_cadres}


def test_not_ready_is_503_with_the_same_shape(tmp_path):
    with TestClient(create_app(Settings(artifacts=tmp_path))) as client:
        r = client.get("/ready")
    assert r.status_code == 503
    assert r.json() == {"status": "loading", "model_version": None, "default_lists": None}
