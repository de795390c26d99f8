import shutil

import pytest

from ganxun.serving.auth import list_keys, read_audit, revoke_key
from ganxun.training.bundle import load_bundle
from ganxun.training.database import default_url, make_engine


@pytest.fixture(scope="module")
def world(trained, tmp_path_factory, open_client):
    """One artifacts folder, a known cadre (mine) and a cadre of another unit (other)."""
    result, _ = trained
    art = tmp_path_factory.mktemp("auth")
    shutil.copytree(result.bundle, art / "bundles" / result.bundle.name)
    fitted, _ = load_bundle(result.bundle)
    info = fitted.catalog.cadre_info
    mine = info.iloc[0]
    other = info[info["unit_id"] != mine["unit_id"]].iloc[0]
    UNIT_OF.update({mine["cadre_id"]: mine["unit_id"], other["cadre_id"]: other["unit_id"]})
    clients = {
        "org": open_client(art, "org"),
        "unit": open_client(art, "unit", mine["unit_id"]),
        "cadre": open_client(art, "cadre", mine["cadre_id"]),
        "institution": open_client(art, "institution", "I001"),
    }
    return art, clients, mine["cadre_id"], other["cadre_id"], mine["unit_id"]


def _event(cadre):
    return {
        "events": [
            {
                "event_id": f"auth-{cadre}",
                "type": "response",
                "cadre_id": cadre,
                "item_id": "Q00001",
                "occurred_at": "2026-11-27T10:00:00Z",
                "correct": 1,
            }
        ]
    }


CALLS = {
    "knowledge": lambda c, cadre: c.get(f"/v1/cadres/{cadre}/knowledge"),
    "recommendations": lambda c, cadre: c.post(
        f"/v1/cadres/{cadre}/recommendations", json={"k": 2}
    ),
    "events": lambda c, cadre: c.post("/v1/events", json=_event(cadre)),
    "layout": lambda c, cadre: c.get(f"/v1/units/{UNIT_OF[cadre]}/layout"),
    "batch": lambda c, cadre: c.post("/v1/recommendations/batch", json={"cadre_ids": [cadre]}),
}
UNIT_OF: dict[str, str] = {}

# role -> endpoint -> (status for own cadre, status for a cadre of another unit)
MATRIX = {
    "org": {
        "knowledge": (200, 200),
        "recommendations": (200, 200),
        "events": (200, 200),
        "layout": (200, 200),
        "batch": (200, 200),
    },
    "unit": {
        "knowledge": (200, 404),
        "recommendations": (200, 404),
        "events": (200, 403),
        "layout": (200, 404),
        "batch": (200, 404),
    },
    "cadre": {
        "knowledge": (200, 404),
        "recommendations": (200, 404),
        "events": (200, 403),
        "layout": (403, 403),
        "batch": (200, 404),
    },
    "institution": {
        "knowledge": (403, 403),
        "recommendations": (403, 403),
        "events": (200, 200),
        "layout": (200, 200),
        "batch": (403, 403),
    },
}


@pytest.mark.parametrize("role", sorted(MATRIX))
@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_scope_matrix(world, role, endpoint):
    _, clients, mine, other, _ = world
    expected_own, expected_other = MATRIX[role][endpoint]
    own = CALLS[endpoint](clients[role], mine)
    out = CALLS[endpoint](clients[role], other)
    assert (own.status_code, out.status_code) == (expected_own, expected_other)
    if out.status_code == 403:
        assert out.json()["error"]["code"] == "forbidden"
    if out.status_code == 404:
        assert out.json()["error"]["code"] == "not_found"


# Every scoped route, called by every scoped role: an id outside the key's scope and an id that
# does not exist get the same status and the same body, so the key learns nothing about which
# ids exist. (Class routes for institution keys: tests/serving/test_classes.py.)
UNKNOWN = {
    "knowledge": lambda c: c.get("/v1/cadres/C999999/knowledge"),
    "recommendations": lambda c: c.post("/v1/cadres/C999999/recommendations", json={"k": 2}),
    "new cadre": lambda c: c.post(
        "/v1/cadres/C999999/recommendations", json={"k": 2, "rank": "科员", "category": "经济管理"}
    ),
    "events": lambda c: c.post("/v1/events", json=_event("C999999")),
    "layout": lambda c: c.get("/v1/units/U9999/layout"),
    "batch": lambda c: c.post("/v1/recommendations/batch", json={"cadre_ids": ["C999999"]}),
}
OUTSIDE = {
    "knowledge": lambda c, other: c.get(f"/v1/cadres/{other}/knowledge"),
    "recommendations": lambda c, other: c.post(
        f"/v1/cadres/{other}/recommendations", json={"k": 2}
    ),
    "new cadre": lambda c, other: c.post(
        f"/v1/cadres/{other}/recommendations", json={"k": 2, "rank": "科员", "category": "经济管理"}
    ),
    "events": lambda c, other: c.post("/v1/events", json=_event(other)),
    "layout": lambda c, other: c.get(f"/v1/units/{UNIT_OF[other]}/layout"),
    "batch": lambda c, other: c.post("/v1/recommendations/batch", json={"cadre_ids": [other]}),
}


def _same_body(answer, cadre_or_unit, placeholder):
    return answer.text.replace(cadre_or_unit, placeholder)


SCOPED = [
    (role, endpoint)
    for role in ("unit", "cadre", "institution")
    for endpoint in sorted(UNKNOWN)
    if (role, endpoint) not in {("institution", "layout"), ("institution", "events")}
]  # institution keys see every unit's layout and send events for any cadre: nothing to hide


@pytest.mark.parametrize("role, endpoint", SCOPED)
def test_unknown_and_out_of_scope_ids_get_the_same_answer(world, role, endpoint):
    _, clients, _, other, _ = world
    unknown = UNKNOWN[endpoint](clients[role])
    outside = OUTSIDE[endpoint](clients[role], other)
    assert unknown.status_code == outside.status_code
    assert unknown.status_code in (403, 404)
    if endpoint == "layout":
        ids = ("U9999", UNIT_OF[other])
    else:
        ids = ("C999999", other)
    # the bodies differ only by the id that was asked for
    assert _same_body(unknown, ids[0], "X") == _same_body(outside, ids[1], "X")


@pytest.mark.parametrize("role", sorted(MATRIX))
def test_model_info_and_reload(world, role):
    _, clients, *_ = world
    assert clients[role].get("/v1/model").status_code == 200
    expected = 200 if role == "org" else 403
    assert clients[role].post("/v1/admin/reload").status_code == expected


def test_missing_wrong_and_revoked_keys_are_401(world):
    art, clients, mine, *_ = world
    c = clients["org"]
    url = f"/v1/cadres/{mine}/knowledge"
    assert c.get(url, headers={"X-API-Key": ""}).status_code == 401
    assert c.get(url, headers={"X-API-Key": "gx_nope"}).status_code == 401
    engine = make_engine(default_url(art))
    cadre_key = next(k for k in list_keys(engine) if k["role"] == "cadre")
    assert revoke_key(engine, cadre_key["key_id"])
    r = clients["cadre"].get(url)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    missing = c.get(url, headers={"X-API-Key": ""})
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert c.get("/health", headers={"X-API-Key": ""}).status_code == 200  # liveness is open


def test_profile_reads_are_audited(world):
    art, clients, mine, other, _ = world
    clients["org"].get(f"/v1/cadres/{mine}/knowledge", headers={"X-Request-ID": "req-audit-1"})
    clients["unit"].get(f"/v1/cadres/{other}/knowledge")
    entries = read_audit(make_engine(default_url(art)), cadre_id=mine)
    assert any(e["request_id"] == "req-audit-1" and e["status"] == 200 for e in entries)
    denied = read_audit(make_engine(default_url(art)), cadre_id=other)
    assert any(e["status"] == 403 and e["role"] == "unit" for e in denied)


def test_request_id_and_metrics(world):
    _, clients, mine, *_ = world
    r = clients["org"].get(f"/v1/cadres/{mine}/knowledge", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    assert len(clients["org"].get("/health").headers["X-Request-ID"]) == 32
    text = clients["org"].get("/metrics").text
    assert (
        'ganxun_requests_total{method="GET",route="/v1/cadres/{cadre_id}/knowledge",status="200"}'
        in text
    )
    assert "ganxun_model_info{version=" in text and "ganxun_request_seconds_bucket" in text
