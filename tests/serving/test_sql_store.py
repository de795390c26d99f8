"""The SQL store (events, API keys, audit log) on SQLite and on a real PostgreSQL server.

The PostgreSQL cases need ``GANXUN_TEST_DATABASE_URL`` (``.ci/run`` starts a server and sets it);
see the ``postgres_url`` fixture.
"""

import random
import shutil
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from ganxun.features.events import parse_event
from ganxun.serving.app import create_app
from ganxun.serving.auth import (
    Principal,
    create_key,
    list_keys,
    read_audit,
    revoke_key,
    verify_key,
    write_audit,
)
from ganxun.serving.settings import Settings
from ganxun.training.bundle import load_bundle
from ganxun.training.database import count_events, load_events, make_engine, store_events

THREADS = 8


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """An empty store: a SQLite file, or a fresh schema on the PostgreSQL test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'ganxun.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture()
def engine(db_url):
    e = make_engine(db_url)
    yield e
    e.dispose()


@pytest.fixture()
def setup(trained, tmp_path):
    """A fresh artifacts folder holding a copy of the trained bundle, and the fitted bundle."""
    result, _ = trained
    art = tmp_path / "art"
    shutil.copytree(result.bundle, art / "bundles" / result.bundle.name)
    fitted, _ = load_bundle(result.bundle)
    return art, fitted


@contextmanager
def serving(art, db_url, **settings):
    """A started TestClient on ``db_url`` with an org key; the app's engine is disposed after."""
    app = create_app(Settings(artifacts=art, database_url=db_url, **settings))
    try:
        with TestClient(app) as client:
            client.headers["X-API-Key"] = create_key(app.state.engine, "org")
            yield client
    finally:
        app.state.engine.dispose()


def _raw(event_id, cadre="C000001", course="K00001", minute=0):
    return {
        "event_id": event_id,
        "type": "completion",
        "cadre_id": cadre,
        "course_id": course,
        "occurred_at": f"2026-11-27T10:{minute:02d}:00+08:00",
        "hours": 2.0,
        "progress": 1.0,
    }


def _event(event_id, **kw):
    event, reason = parse_event(_raw(event_id, **kw))
    assert event is not None, reason
    return event


def test_store_events_is_idempotent_by_event_id(engine):
    a, b, c = _event("a", minute=3), _event("b", minute=1), _event("c", minute=2)
    assert store_events(engine, [a, b, a]) == [True, True, False]
    assert store_events(engine, [b, c]) == [False, True]
    assert store_events(engine, []) == []
    assert count_events(engine) == 3
    stored = load_events(engine)
    assert [e.event_id for e in stored] == ["b", "c", "a"]  # oldest first
    assert stored[2] == a  # the payload round-trips, time zone included
    assert [e.event_id for e in load_events(engine, since=c.occurred_at)] == ["c", "a"]


def test_keys_and_audit_round_trip(engine, db_url, tmp_path, monkeypatch, capsys):
    from ganxun.cli import main

    org = create_key(engine, "org", note="ops")
    unit = create_key(engine, "unit", "U001")
    who = verify_key(engine, unit)
    assert who is not None and (who.role, who.scope) == ("unit", "U001")
    assert verify_key(engine, org).role == "org"
    assert verify_key(engine, "gx_nope_nope") is None
    # the command line writes to the same store when GANXUN_DATABASE_URL names it
    monkeypatch.setenv("GANXUN_DATABASE_URL", db_url)
    assert main(["keys", "add", "--artifacts", str(tmp_path / "elsewhere"), "--role", "org"]) == 0
    cli_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert verify_key(engine, cli_key).role == "org"
    assert not (tmp_path / "elsewhere" / "ganxun.db").exists()
    listed = list_keys(engine)
    assert [k["role"] for k in listed] == ["org", "unit", "org"]
    assert listed[0]["note"] == "ops" and "key_hash" not in listed[0]
    assert revoke_key(engine, who.key_id) is True
    assert revoke_key(engine, who.key_id) is False
    assert verify_key(engine, unit) is None
    assert [k["revoked_at"] is not None for k in list_keys(engine)] == [False, True, False]

    reader = Principal(verify_key(engine, org).key_id, "org", None)
    write_audit(engine, reader, "knowledge", {"cadre_ids": ["C1"]}, 200, "r1")
    write_audit(engine, reader, "recommend", {"cadre_ids": ["C1", "C2"]}, 404, "r2")
    write_audit(engine, who, "knowledge", {"cadre_ids": ["C2"]}, 403, None)
    newest = read_audit(engine)
    assert [(r["action"], r["status"], r["request_id"]) for r in newest] == [
        ("knowledge", 403, None),
        ("recommend", 404, "r2"),
        ("knowledge", 200, "r1"),
    ]
    assert newest[1]["ids"] == {"cadre_ids": ["C1", "C2"]}
    assert [r["request_id"] for r in read_audit(engine, cadre_id="C1")] == ["r2", "r1"]
    assert [r["role"] for r in read_audit(engine, key_id=who.key_id)] == ["unit"]
    assert len(read_audit(engine, limit=2)) == 2


def test_service_stores_events_keys_and_audit_in_the_configured_store(setup, db_url):
    art, fitted = setup
    cadre, course = str(fitted.catalog.cadres.ids_[0]), str(fitted.catalog.courses.ids_[0])
    with serving(art, db_url) as c:
        body = {"events": [_raw("s1", cadre, course), _raw("s2", cadre, course), {"type": "x"}]}
        res = c.post("/v1/events", json=body).json()["results"]
        assert [r["status"] for r in res] == ["accepted", "accepted", "rejected"]
        res = c.post("/v1/events", json={"events": body["events"][:2]}).json()["results"]
        assert [r["status"] for r in res] == ["duplicate", "duplicate"]
        assert c.get(f"/v1/cadres/{cadre}/knowledge").status_code == 200
    engine = make_engine(db_url)
    try:
        assert count_events(engine) == 2
        assert {e.event_id for e in load_events(engine)} == {"s1", "s2"}
        assert len(list_keys(engine)) == 1
        assert [r["action"] for r in read_audit(engine, cadre_id=cadre)]
    finally:
        engine.dispose()
    if not db_url.startswith("sqlite"):
        assert not (art / "ganxun.db").exists()
    # a restarted service on the same store still knows the events and the key's hash
    with serving(art, db_url) as c:
        res = c.post("/v1/events", json={"events": [_raw("s1", cadre, course)]}).json()
        assert res["results"][0]["status"] == "duplicate"


def _race(post, cadres=("C000001",), course="K00001", rounds=6, shared=8, unique=3):
    """``THREADS`` writers post ``rounds`` batches at once; returns every status by event id.

    In each round every thread posts the round's ``shared`` events (the same ids for all threads,
    in its own order) mixed with ``unique`` events of its own; ``post(raws)`` returns one status
    per event.
    """
    seen: dict[str, list[str]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def run(t: int) -> None:
        rng = random.Random(t)
        try:
            for r in range(rounds):
                batch = [
                    _raw(f"s{r}-{i}", cadres[i % len(cadres)], course, minute=i)
                    for i in range(shared)
                ] + [_raw(f"t{t}-{r}-{i}", cadres[t % len(cadres)], course) for i in range(unique)]
                rng.shuffle(batch)
                barrier.wait(timeout=60)
                statuses = post(batch)
                assert len(statuses) == len(batch)
                with lock:
                    for raw, status in zip(batch, statuses, strict=True):
                        seen.setdefault(raw["event_id"], []).append(status)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a writer hangs"
    assert not errors, errors[0]
    # nothing lost or stored twice: each shared id accepted once, duplicate for everyone else
    assert len(seen) == rounds * (shared + THREADS * unique)
    for event_id, statuses in seen.items():
        if event_id.startswith("s"):
            assert Counter(statuses) == {"accepted": 1, "duplicate": THREADS - 1}, event_id
        else:
            assert statuses == ["accepted"], event_id
    return set(seen)


def _stored_ids(db_url):
    engine = make_engine(db_url)
    try:
        ids = {e.event_id for e in load_events(engine)}
        assert count_events(engine) == len(ids)
        return ids
    finally:
        engine.dispose()


def test_concurrent_writers_lose_nothing(engine, db_url):
    def post(batch):
        stored = store_events(engine, [_event(r["event_id"]) for r in batch])
        return ["accepted" if s else "duplicate" for s in stored]

    sent = _race(post)
    assert _stored_ids(db_url) == sent


def test_concurrent_posts_through_the_service_lose_nothing(setup, db_url):
    art, fitted = setup
    cadres = [str(c) for c in fitted.catalog.cadres.ids_[:4]]
    course = str(fitted.catalog.courses.ids_[0])
    with serving(art, db_url) as c:

        def post(batch):
            r = c.post("/v1/events", json={"events": batch})
            assert r.status_code == 200, r.text
            return [x["status"] for x in r.json()["results"]]

        sent = _race(post, cadres, course)
    assert _stored_ids(db_url) == sent


def test_two_replicas_on_one_store_answer_as_one_service(setup, db_url):
    """An event posted to one process is in the other's answers within the sync period."""
    art, fitted = setup
    cadre = str(fitted.catalog.cadres.ids_[7])
    url = f"/v1/cadres/{cadre}/recommendations"
    fast = {"event_sync_seconds": 0.2}
    with serving(art, db_url, **fast) as a, serving(art, db_url, **fast) as b:
        top = b.post(url, json={"k": 5}).json()["items"][0]["course_id"]
        before = b.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
        posted = a.post("/v1/events", json={"events": [_raw("replica-1", cadre, top)]})
        assert posted.json()["results"][0]["status"] == "accepted"
        waited = time.monotonic()
        while top in {i["course_id"] for i in b.post(url, json={"k": 5}).json()["items"]}:
            assert time.monotonic() - waited < 10, "replica b never saw the event posted to a"
            time.sleep(0.05)
        seen = b.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
        assert seen != before  # the completion moved b's reserve too
        time.sleep(0.6)  # several more polls read the same event again: it counts once
        assert b.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"] == seen
        assert a.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"] == seen
