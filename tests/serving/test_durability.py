"""SIGKILL the real server (``ganxun serve``) in a burst of events: no acknowledged event is lost.

Runs by default (it is not ``slow``); ``-m 'not durability'`` deselects it.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from ganxun.serving.auth import create_key
from ganxun.training.database import default_url, load_events, make_engine

pytestmark = pytest.mark.durability

GANXUN = Path(sys.executable).with_name("ganxun")


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request, trained, tmp_path):
    """(artifacts folder with a copy of the trained bundle, environment, store URL)."""
    result, _ = trained
    art = tmp_path / "art"
    shutil.copytree(result.bundle, art / "bundles" / result.bundle.name)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("GANXUN_DATABASE_URL", None)
    if request.param == "sqlite":
        url = default_url(art)
    else:
        url = request.getfixturevalue("postgres_url")
        env["GANXUN_DATABASE_URL"] = url
    return art, env, url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ganxun serve`` in a subprocess, as deployed."""

    def __init__(self, art: Path, env: dict, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [GANXUN, "serve", "--artifacts", str(art), "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"server not ready after {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _raw(event_id: str, n: int) -> dict:
    return {
        "event_id": event_id,
        "type": "completion",
        "cadre_id": f"C{n % 50 + 1:06d}",
        "course_id": f"K{n % 40 + 1:05d}",
        "occurred_at": f"2026-11-27T{n // 60 % 24:02d}:{n % 60:02d}:00+08:00",
        "hours": 1.5,
        "progress": 1.0,
    }


def test_sigkill_mid_burst_loses_no_acknowledged_event(deployment, tmp_path):
    art, env, url = deployment
    log = tmp_path / "server.log"
    engine = make_engine(url)
    try:
        key = create_key(engine, "org")
    finally:
        engine.dispose()

    server = Server(art, env, log)
    try:
        server.wait_ready()
        sent: dict[str, dict] = {}
        acked: set[str] = set()
        failures: list[str] = []

        def burst() -> None:
            """Small batches, each re-sending one event of the previous batch, until refused."""
            with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=10) as c:
                n, previous = 0, None
                while True:
                    batch = [_raw(f"burst-{n + i}", n + i) for i in range(4)]
                    n += 4
                    if previous is not None:
                        batch.append(previous)
                    previous = batch[0]
                    sent.update((e["event_id"], e) for e in batch)
                    try:
                        r = c.post("/v1/events", json={"events": batch})
                    except httpx.TransportError:
                        return  # the server is gone
                    if r.status_code != 200:
                        failures.append(f"{r.status_code}: {r.text}")
                        return
                    for res in r.json()["results"]:
                        if res["status"] not in ("accepted", "duplicate"):
                            failures.append(str(res))
                        acked.add(res["event_id"])

        writer = threading.Thread(target=burst)
        writer.start()
        deadline = time.monotonic() + 30
        while len(acked) < 150 and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.is_alive(), failures or "the burst ended before the kill"
        server.kill()  # mid-burst: the writer has a batch in flight or about to be
        writer.join(timeout=30)
        assert not writer.is_alive()
        assert not failures, failures[:3]
        assert len(acked) >= 150

        # the store itself holds every acknowledged event
        engine = make_engine(url)
        try:
            stored = {e.event_id for e in load_events(engine)}
        finally:
            engine.dispose()
        assert acked <= stored, sorted(acked - stored)[:10]
        assert stored <= set(sent)

        # and so does the restarted service: every acknowledged event is a duplicate now
        server = Server(art, env, log)
        server.wait_ready()
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=30) as c:
            again = [sent[i] for i in sorted(acked)]
            for i in range(0, len(again), 500):
                r = c.post("/v1/events", json={"events": again[i : i + 500]})
                assert r.status_code == 200, r.text
                assert {x["status"] for x in r.json()["results"]} == {"duplicate"}
            r = c.post("/v1/events", json={"events": [_raw("after-restart", 0)]})
            assert r.json()["results"][0]["status"] == "accepted"
    finally:
        server.stop()
