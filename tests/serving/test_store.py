"""The model store: a bundle that carries its default lists starts no precompute thread."""

import dataclasses
import threading

from ganxun.serving.store import ModelStore
from ganxun.training.bundle import load_bundle, save_bundle


def test_only_a_bundle_without_its_lists_computes_them_in_the_background(
    trained, tmp_path, monkeypatch
):
    computed = threading.Event()
    monkeypatch.setattr(ModelStore, "_materialize", lambda self, predictor: computed.set())
    store = ModelStore(precompute=True)
    with_lists = store.load(trained[0].bundle)
    assert with_lists.lists.ready.all()
    assert not computed.wait(0.5)  # nothing left to compute, no thread started

    fitted, _ = load_bundle(trained[0].bundle)
    older = save_bundle(dataclasses.replace(fitted, lists=None), tmp_path, {"data_fingerprint": ""})
    without = store.load(older)
    assert not without.lists.ready.all()
    assert computed.wait(10)  # the background thread fills them
