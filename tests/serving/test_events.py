import shutil

import pytest

from ganxun.training.bundle import load_bundle
from ganxun.training.database import count_events, load_events, make_engine


@pytest.fixture()
def setup(trained, tmp_path):
    """A fresh artifacts folder (own event store) holding a copy of the trained bundle."""
    result, _ = trained
    art = tmp_path / "art"
    shutil.copytree(result.bundle, art / "bundles" / result.bundle.name)
    fitted, _ = load_bundle(result.bundle)
    return art, fitted


def _completion(event_id, cadre, course, **kw):
    return {
        "event_id": event_id,
        "type": "completion",
        "cadre_id": cadre,
        "course_id": course,
        "occurred_at": "2026-11-27T10:00:00+08:00",
        "hours": 3.0,
        "progress": 1.0,
        **kw,
    }


def test_per_event_status_in_order(setup, open_client):
    art, fitted = setup
    cadre, course = str(fitted.catalog.cadres.ids_[0]), str(fitted.catalog.courses.ids_[0])
    item = str(fitted.catalog.items.ids_[0])
    body = {
        "events": [
            _completion("e1", cadre, course),
            {
                "event_id": "e2",
                "type": "response",
                "cadre_id": cadre,
                "item_id": item,
                "occurred_at": "2026-11-27T10:20:00+08:00",
                "correct": 1,
            },
            {
                "event_id": "e3",
                "type": "rating",
                "cadre_id": cadre,
                "course_id": course,
                "occurred_at": "2026-11-27T11:00:00+08:00",
                "course_score": 7,
            },
            _completion("e1", cadre, course),
            {"event_id": "e4", "type": "telepathy", "cadre_id": cadre},
            {"type": "response"},
        ]
    }
    c = open_client(art)
    r = c.post("/v1/events", json=body)
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == [
        "accepted",
        "accepted",
        "rejected",
        "duplicate",
        "rejected",
        "rejected",
    ]
    assert [x["index"] for x in res] == list(range(6))
    assert res[2]["reason"].startswith("course_score: Input should be less than or equal to 5")
    assert "type must be one of" in res[4]["reason"]
    again = c.post("/v1/events", json={"events": body["events"][:1]}).json()["results"]
    assert again[0]["status"] == "duplicate"
    assert count_events(make_engine(f"sqlite:///{art / 'ganxun.db'}")) == 2


def test_completed_course_disappears_at_once_and_reserve_moves(setup, open_client):
    art, fitted = setup
    cadre = str(fitted.catalog.cadres.ids_[5])
    c = open_client(art)
    url = f"/v1/cadres/{cadre}/recommendations"
    top = c.post(url, json={"k": 5}).json()["items"][0]["course_id"]
    before = {
        t["topic_id"]: t["reserve"] for t in c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
    }
    c.post("/v1/events", json={"events": [_completion("x1", cadre, top, hours=40.0)]})
    after_items = c.post(url, json={"k": 5}).json()["items"]
    assert top not in {i["course_id"] for i in after_items}
    after = {
        t["topic_id"]: t["reserve"] for t in c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
    }
    course_idx = fitted.catalog.courses.one(top)
    topics = fitted.catalog.topics.ids_[fitted.catalog.course_topics[course_idx].indices]
    assert any(after[t] > before[t] for t in topics)
    # a restarted service replays stored events after the bundle's cut-off
    c = open_client(art)
    items = c.post(f"/v1/cadres/{cadre}/recommendations", json={"k": 5}).json()["items"]
    assert top not in {i["course_id"] for i in items}


def test_oversized_and_malformed_batches(setup, open_client):
    art, _ = setup
    c = open_client(art, max_body_bytes=2000)
    big = {"events": [_completion(f"b{i}", "C000001", "K00001") for i in range(50)]}
    r = c.post("/v1/events", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert c.post("/v1/events", json={"events": []}).status_code == 422
    assert (
        c.post(
            "/v1/events", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_next_retrain_absorbs_stored_events(tiny_dir, tmp_path, tiny_city):
    from ganxun.training.pipeline import train

    e = tiny_city.tables["enrollments"]
    taken = set(e.loc[e["cadre_id"] == "C000001", "course_id"])
    course = next(k for k in tiny_city.tables["courses"]["course_id"] if k not in taken)
    art = tmp_path / "art"
    engine = make_engine(f"sqlite:///{art / 'ganxun.db'}")
    from ganxun.features.events import parse_event
    from ganxun.training.database import store_events

    ev, _ = parse_event(
        _completion("z1", "C000001", course, occurred_at="2026-11-01T09:00:00+08:00")
    )
    assert store_events(engine, [ev]) == [True]
    assert len(load_events(engine)) == 1
    result = train(tiny_dir, art, track=False, progress=False)
    bundle, _ = load_bundle(result.bundle)
    c, k = bundle.catalog.cadres.one("C000001"), bundle.catalog.courses.one(course)
    assert bundle.recommender.seen[c, k] > 0


def test_answers_move_the_reserve_of_their_topics_only(setup, open_client):
    art, fitted = setup
    c = open_client(art)
    cadre = str(fitted.catalog.cadres.ids_[7])
    item = 3
    topics = set(fitted.catalog.topics.ids_[fitted.catalog.item_topics[item].indices])
    item_id = str(fitted.catalog.items.ids_[item])

    def reserve():
        body = c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
        return {t["topic_id"]: t["reserve"] for t in body}

    before = reserve()
    events = [
        {
            "event_id": f"ans-{i}",
            "type": "response",
            "cadre_id": cadre,
            "item_id": item_id,
            "occurred_at": "2026-11-27T09:00:00Z",
            "correct": 0,
        }
        for i in range(5)
    ]
    c.post("/v1/events", json={"events": events})
    after = reserve()
    for t in before:
        if t in topics:
            assert after[t] < before[t]
        else:
            assert after[t] == before[t]


def test_wrong_answers_on_a_topic_move_its_courses_up(setup, open_client):
    import numpy as np

    art, fitted = setup
    cat = fitted.catalog
    main = dict(zip(map(str, cat.courses.ids_), cat.course_info["main_topic"], strict=True))
    c = open_client(art)
    for cadre_idx in (3, 11, 19):
        cadre = str(cat.cadres.ids_[cadre_idx])
        url = f"/v1/cadres/{cadre}/recommendations"
        topics = c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
        weakest = min(topics, key=lambda t: t["gap"])  # its courses are rarely listed
        weak = weakest["topic_id"]
        before = [i["course_id"] for i in c.post(url, json={"k": 50}).json()["items"]]
        items = cat.item_topics[:, cat.topics.one(weak)].nonzero()[0]
        only = [i for i in items if cat.item_topics[i].nnz == 1][:40]  # single-topic items
        answers = [
            {
                "event_id": f"w-{cadre}-{n}",
                "type": "response",
                "cadre_id": cadre,
                "item_id": str(cat.items.ids_[i]),
                "correct": 0,
                "occurred_at": "2026-11-27T10:00:00+08:00",
            }
            for n, i in enumerate(only)
        ]
        assert c.post("/v1/events", json={"events": answers}).status_code == 200
        after_topics = c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
        gap = next(t for t in after_topics if t["topic_id"] == weak)["gap"]
        assert gap >= 5 and gap >= weakest["gap"] + 5  # now a gap (peers' pull keeps it modest)
        after = [i["course_id"] for i in c.post(url, json={"k": 50}).json()["items"]]
        common = set(before) & set(after)
        pos = [
            np.mean([j for j, x in enumerate(x for x in lst if x in common) if main[x] == weak])
            for lst in (before, after)
        ]
        n_before = sum(main[x] == weak for x in before[:10])
        n_after = sum(main[x] == weak for x in after[:10])
        assert pos[1] < pos[0] - 2 and n_after >= n_before  # up the list, never out of the top


def test_ids_the_model_does_not_know_are_stored_but_flagged(setup, open_client):
    art, fitted = setup
    cadre, course = str(fitted.catalog.cadres.ids_[3]), str(fitted.catalog.courses.ids_[0])
    item = str(fitted.catalog.items.ids_[0])
    typo = cadre[0] + cadre[2:]  # a zero left out
    assert fitted.catalog.cadres.one(typo) < 0
    c = open_client(art)
    before = c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"]
    answer = {
        "type": "response",
        "item_id": item,
        "occurred_at": "2026-11-27T10:20:00+08:00",
        "correct": 1,
    }
    body = {
        "events": [
            {**answer, "event_id": "u1", "cadre_id": typo},
            _completion("u2", cadre, "K-NO-SUCH"),
            {**answer, "event_id": "u3", "cadre_id": cadre, "item_id": "Q-NO-SUCH"},
            _completion("u4", cadre, course),
        ]
    }
    res = c.post("/v1/events", json=body).json()["results"]
    assert [r["status"] for r in res] == ["accepted"] * 4  # stored for the next training
    assert [r["unknown_ids"] for r in res] == [["cadre_id"], ["course_id"], ["item_id"], None]
    assert "不认识" in res[0]["warning"] and "unknown_ids" in res[0]["warning"]
    assert res[3]["warning"] is None
    assert count_events(make_engine(f"sqlite:///{art / 'ganxun.db'}")) == 4
    # flagged events are not applied: a service that replays only them shows the same profile
    fresh = art.parent / "flagged-only"
    shutil.copytree(art / "bundles", fresh / "bundles")
    f = open_client(fresh)
    f.post("/v1/events", json={"events": body["events"][:3]})
    assert f.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"] == before
    # the known completion moved the reserve
    assert c.get(f"/v1/cadres/{cadre}/knowledge").json()["topics"] != before
    # a retry of the typo'd event is a duplicate and still flagged
    again = c.post("/v1/events", json={"events": body["events"][:1]}).json()["results"][0]
    assert again["status"] == "duplicate" and again["unknown_ids"] == ["cadre_id"]
