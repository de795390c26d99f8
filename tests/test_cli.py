"""The command line: the port check, the demo's key and example ids, the headline table."""

from __future__ import annotations

import os
import shutil
import socket
import stat

import pytest

from ganxun import cli
from ganxun.serving.auth import list_keys
from ganxun.training.database import default_url, make_engine


@pytest.fixture()
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_headline_table_is_short_explained_and_aligned(trained):
    result, _ = trained
    lines = cli.headline_table(result.metrics)
    assert 6 <= len(lines) <= 11
    text = "\n".join(lines)
    assert "知识储备 AUC" in text and "nDCG@10" in text and "0.5=瞎猜" in text
    # the meaning column starts at the same terminal column on every line, CJK counted double
    starts = set()
    for line in lines:
        head, meaning = line.rsplit("  ", 1)
        starts.add(cli.display_width(head))
    assert len(starts) == 1, lines
    assert cli.display_width("储备度") == 6 and cli.display_width("AUC") == 3


def test_serve_and_demo_refuse_a_busy_port_before_anything_else(busy_port, tmp_path, capsys):
    art = tmp_path / "art"
    assert cli.main(["serve", "--artifacts", str(art), "--port", str(busy_port)]) == 2
    err = capsys.readouterr()
    assert f"port {busy_port}" in err.err and "--port" in err.err and "PORT=" in err.err
    assert "serving on" not in err.out
    data = tmp_path / "data"
    args = ["demo", "--data", str(data), "--artifacts", str(art), "--port", str(busy_port)]
    assert cli.main(args) == 2
    out = capsys.readouterr()
    assert f"port {busy_port}" in out.err and "serving on" not in out.out
    assert not data.exists() and not art.exists()  # nothing generated, no key created


def test_demo_reuses_its_key_and_prints_a_telling_example_cadre(
    trained, tmp_path, capsys, monkeypatch
):
    result, artifacts = trained
    art = tmp_path / "art"
    shutil.copytree(artifacts / "bundles", art / "bundles")
    shutil.copy(artifacts / "mlruns.db", art / "mlruns.db")
    data = tmp_path / "data"
    data.mkdir()
    (data / cli.DONE_MARK).write_text("scale=tiny seed=0\n")
    os.utime(data / cli.DONE_MARK, (0, 0))  # older than the bundle: the bundle is reused
    served = []
    monkeypatch.setattr(cli, "_run_server", lambda app, host, port: served.append((app, port)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["demo", "--data", str(data), "--artifacts", str(art), "--port", str(port)]
    printed = []
    for _ in range(2):
        assert cli.main(args) == 0
        printed.append(capsys.readouterr().out)
    assert len(served) == 2 and all(p == port for _, p in served)
    # one demo key, stored 0600, printed both times
    keys = [k for k in list_keys(make_engine(default_url(art))) if k["note"] == "demo"]
    assert len(keys) == 1
    key_file = art / cli.DEMO_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert all(key in out for out in printed)
    assert "new" in printed[0] and "the same as last time" in printed[1]
    out = printed[1]
    assert "reusing bundle" in out
    assert out.index(key) < out.index("serving on")
    # the example cadre has exam answers and a gap, and the curl lines use it
    from ganxun.serving.examples import example_cadres
    from ganxun.serving.predictor import Predictor
    from ganxun.training.bundle import load_bundle

    best = example_cadres(Predictor(*load_bundle(result.bundle)), 1)[0]
    assert best["topics_answered"] > 0 and best["largest_gap"] >= 15
    cadre = best["cadre_id"]
    assert f"example cadre {cadre}" in out
    assert f"/v1/cadres/{cadre}/knowledge" in out and f"/v1/cadres/{cadre}/recommendations" in out
    assert "/v1/cadres/C000001/" not in out or cadre == "C000001"
    # the server was handed the app with the bundle already loaded, registered version known
    app = served[-1][0]
    assert app.state.store.current.source.get("registered_version") == result.model_version
