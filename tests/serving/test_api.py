import numpy as np
import pytest

from ganxun.training.bundle import load_bundle


@pytest.fixture(scope="module")
def client(trained, open_client):
    return open_client(trained[1])


@pytest.fixture(scope="module")
def fitted(trained):
    return load_bundle(trained[0].bundle)[0]


def test_health_ready_and_model(client, trained):
    version = trained[0].bundle.name
    assert client.get("/health").json() == {"status": "ok", "model_version": version}
    assert client.get("/ready").status_code == 200
    info = client.get("/v1/model").json()
    assert info["model_version"] == version and "knowledge.auc" in info["metrics"]


def test_not_ready_without_a_bundle(tmp_path, open_client):
    c = open_client(tmp_path)
    assert c.get("/health").status_code == 200
    assert c.get("/ready").status_code == 503
    r = c.get("/v1/cadres/C000001/knowledge")
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"


def test_knowledge_profile(client, fitted):
    cadre = str(fitted.catalog.cadres.ids_[0])
    body = client.get(f"/v1/cadres/{cadre}/knowledge").json()
    assert body["cadre_id"] == cadre and len(body["topics"]) == 12
    for t in body["topics"]:
        assert 0 <= t["reserve"] <= 100 and 0 <= t["confidence"] <= 1
        assert t["gap"] == pytest.approx(max(0.0, t["required"] - t["reserve"]), abs=0.11)


def test_unknown_cadre_is_404_in_the_error_shape(client):
    r = client.get("/v1/cadres/NOPE/knowledge")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "unknown cadre 'NOPE'"}}
    assert client.post("/v1/cadres/NOPE/recommendations", json={"k": 3}).status_code == 404


@pytest.mark.parametrize(
    "body, where",
    [({"k": 0}, "k"), ({"k": "ten"}, "k"), ({"modes": ["电视"]}, "modes.0"), ({"kk": 1}, "kk")],
)
def test_bad_bodies_are_422_with_a_readable_message(client, fitted, body, where):
    cadre = str(fitted.catalog.cadres.ids_[0])
    r = client.post(f"/v1/cadres/{cadre}/recommendations", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith(where)


def test_unknown_topic_filter_is_422(client, fitted):
    cadre = str(fitted.catalog.cadres.ids_[0])
    r = client.post(f"/v1/cadres/{cadre}/recommendations", json={"topics": ["TP99"]})
    assert r.status_code == 422 and "TP99" in r.json()["error"]["message"]


def test_recommendations_never_repeat_a_taken_course(client, fitted, tiny_city):
    taken = tiny_city.tables["enrollments"].groupby("cadre_id")["course_id"].agg(set)
    cadres = fitted.catalog.cadres.ids_[::10]
    for cadre in cadres:
        r = client.post(f"/v1/cadres/{cadre}/recommendations", json={"k": 10})
        assert r.status_code == 200
        items = r.json()["items"]
        assert len(items) == 10
        assert not {i["course_id"] for i in items} & taken.get(cadre, set())
        assert all(i["reasons"] for i in items)


def test_filters_are_applied(client, fitted):
    cadre = str(fitted.catalog.cadres.ids_[1])
    first = client.post(f"/v1/cadres/{cadre}/recommendations", json={"k": 5}).json()["items"]
    dropped = first[0]["course_id"]
    again = client.post(
        f"/v1/cadres/{cadre}/recommendations", json={"k": 5, "exclude_course_ids": [dropped]}
    ).json()["items"]
    assert dropped not in {i["course_id"] for i in again}
    online = client.post(
        f"/v1/cadres/{cadre}/recommendations", json={"k": 5, "modes": ["网络"]}
    ).json()["items"]
    info = fitted.catalog.course_info.set_index("course_id")
    assert online and all(info.at[i["course_id"], "mode"] == "网络" for i in online)
    topical = client.post(
        f"/v1/cadres/{cadre}/recommendations", json={"k": 5, "topics": ["TP03"]}
    ).json()["items"]
    cols = fitted.catalog.topics.one("TP03")
    rows = fitted.catalog.courses.index([i["course_id"] for i in topical])
    assert np.all(fitted.catalog.course_topics[rows, cols].toarray() > 0)


def test_unit_layout(client, fitted):
    unit = str(fitted.catalog.units.ids_[0])
    body = client.get(f"/v1/units/{unit}/layout").json()
    assert body["unit_id"] == unit and len(body["topics"]) == 12
    assert body["cells"] and all(
        c["hours"] >= 0 and 0 <= c["trained_share"] <= 1 for c in body["cells"]
    )
    gaps = [w["mean_gap"] for w in body["weakest"]]
    assert gaps == sorted(gaps, reverse=True) and all(g > 0 for g in gaps)
    by_topic = {t["topic_id"]: t["mean_gap"] for t in body["topics"]}
    assert max(by_topic.values()) == gaps[0]
    for w in body["weakest"]:
        assert w["name"] in w["suggested_theme"] and w["suggested_courses"]
    assert client.get("/v1/units/NOPE/layout").status_code == 404


def test_layout_hours_add_up(client, fitted, tiny_city):
    unit = str(fitted.catalog.units.ids_[1])
    cells = client.get(f"/v1/units/{unit}/layout").json()["cells"]
    e = tiny_city.tables["enrollments"].merge(tiny_city.tables["cadres"][["cadre_id", "unit_id"]])
    e = e[(e["unit_id"] == unit) & (e["enrolled_on"] < fitted.asof)]
    assert sum(c["hours"] for c in cells) == pytest.approx(
        (e["hours"] * e["progress"]).sum(), rel=1e-3
    )


def test_batch_recommendations(client, fitted, tiny_city):
    ids = [str(c) for c in fitted.catalog.cadres.ids_[:5]]
    body = client.post("/v1/recommendations/batch", json={"cadre_ids": ids, "k": 4}).json()
    assert [r["cadre_id"] for r in body["results"]] == ids
    taken = tiny_city.tables["enrollments"].groupby("cadre_id")["course_id"].agg(set)
    for r in body["results"]:
        assert len(r["items"]) == 4
        assert not {i["course_id"] for i in r["items"]} & taken.get(r["cadre_id"], set())
    r = client.post("/v1/recommendations/batch", json={"cadre_ids": [ids[0], "NOPE"]})
    assert r.status_code == 404 and "NOPE" in r.json()["error"]["message"]
    assert client.post("/v1/recommendations/batch", json={"cadre_ids": []}).status_code == 422


def test_new_cadre_with_rank_and_category_gets_their_peers_choice(
    client, fitted, trained, open_client
):
    from ganxun.features.catalog import segment_of

    body = {"k": 5, "rank": "正处", "category": "政法"}
    answer = client.post("/v1/cadres/NEW-CADRE-1/recommendations", json=body)
    assert answer.status_code == 200, answer.text
    got = [i["course_id"] for i in answer.json()["items"]]
    seg = segment_of("正处", "政法")[0]
    peer = fitted.recommender.peer.score_segments(np.array([seg]))[0]
    expected = [str(fitted.catalog.courses.ids_[j]) for j in np.argsort(-peer, kind="stable")[:5]]
    assert got == expected  # the segment's peer list, best first
    other = client.post(
        "/v1/cadres/NEW-CADRE-1/recommendations",
        json={**body, "rank": "科员", "category": "经济管理"},
    ).json()["items"]
    other_peer = fitted.recommender.peer.score_segments(segment_of("科员", "经济管理"))[0]
    assert other[0]["course_id"] == str(fitted.catalog.courses.ids_[np.argmax(other_peer)])
    online = client.post("/v1/cadres/NEW-CADRE-1/recommendations", json={**body, "modes": ["网络"]})
    modes = fitted.catalog.course_info.set_index(fitted.catalog.courses.ids_)["mode"]
    assert {modes[i["course_id"]] for i in online.json()["items"]} == {"网络"}
    # without rank and category it is still an unknown cadre
    assert client.post("/v1/cadres/NEW-CADRE-1/recommendations", json={"k": 5}).status_code == 404
    # a unit key cannot vouch for a cadre the model does not know
    _, artifacts = trained
    unit = str(fitted.catalog.units.ids_[0])
    unit_client = open_client(artifacts, role="unit", scope=unit)
    refused = unit_client.post("/v1/cadres/NEW-CADRE-1/recommendations", json=body)
    assert refused.status_code == 404  # the answer for any id outside its scope


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_reference_pages_name_no_outside_host(client, page):
    import re

    r = client.get(page)
    assert r.status_code == 200
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets and all(a.startswith("/docs/static/") for a in assets), assets
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 1000, asset
    assert client.get("/docs/static/../../etc/passwd").status_code == 404
    assert client.get("/docs/static/nothing.js").json()["error"]["code"] == "not_found"


def test_root_opens_the_pages_and_unknown_pages_answer_in_chinese(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    assert "干训智能推荐" in client.get("/").text
    page = client.get("/ui/classes//roster")  # the roster opened with an empty class box
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text and "examples" in page.text
    assert client.get("/v1/nothing").json()["error"]["code"] == "not_found"  # the API stays JSON


@pytest.mark.parametrize("role", ["org", "unit", "cadre", "institution"])
def test_examples_are_real_ids_within_the_keys_scope(trained, open_client, fitted, role):
    info = fitted.catalog.cadre_info
    unit = str(info["unit_id"].iloc[0])
    scope = {"org": None, "unit": unit, "cadre": "C000002"}.get(role, "I001")
    c = open_client(trained[1], role, scope)
    ex = c.get("/v1/examples").json()
    assert ex["model_version"] == trained[0].bundle.name
    cadres, units, classes = ex["cadres"], ex["units"], ex["classes"]
    if role == "org":
        assert len(cadres) == 3 and len(units) == 3 and len(classes) == 3
        assert len({x["unit_id"] for x in cadres}) == 3  # from different units
    if role == "unit":
        assert cadres and {x["unit_id"] for x in cadres} == {scope}
        assert [u["unit_id"] for u in units] == [scope]
    if role == "cadre":
        assert [x["cadre_id"] for x in cadres] == [scope]
        assert units == []
    if role == "institution":
        assert cadres == [] and classes == [] and units
    for x in cadres:  # each example shows the product: answers and a gap, and it opens
        assert x["topics_answered"] > 0 and x["unit_name"]
        topics = c.get(f"/v1/cadres/{x['cadre_id']}/knowledge").json()["topics"]
        assert max(t["gap"] for t in topics) == pytest.approx(x["largest_gap"], abs=0.11)
        assert max(t["confidence"] for t in topics) > 0
    for u in units:
        assert c.get(f"/v1/units/{u['unit_id']}/layout").status_code == 200
    for x in classes:
        assert c.post("/v1/rollcall", json={"class_id": x["class_id"]}).status_code == 200
