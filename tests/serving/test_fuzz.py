"""Fuzz every route of the OpenAPI spec with schemathesis: no answer may be a 5xx.

The app runs in-process (ASGI, lifespan started by schemathesis) on a copy of the tiny trained
artifacts, so the events and keys the fuzzer writes never reach the other tests' store. Every call
carries a valid org key (the header the fuzzer generates is replaced), so the generated paths and
bodies reach the handlers instead of stopping at 401. Each operation is fuzzed with schema-valid
(positive) and schema-violating (negative) requests; about half of the id-like strings in paths
and bodies (cadre, unit, class, course, topic ids…) are swapped for ids the bundle knows, so the
cases get past the 404s into the models. Derandomized, with a bounded number of examples;
``benchmarks/bench_fuzz.py`` is the longer run and reuses :func:`fuzz_operation`.

(schemathesis' ``from_fixture`` pytest integration does not run on pytest 9, so the Hypothesis
strategies of each operation are driven directly.)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from ganxun.serving.app import create_app
from ganxun.serving.settings import Settings

MAX_EXAMPLES = 15
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

# body or path field -> kind of id; list-valued fields and dict keys too
ID_FIELDS = {
    "cadre_id": "cadre",
    "cadre_ids": "cadre",
    "exclude_cadre_ids": "cadre",
    "unit_id": "unit",
    "unit_quotas": "unit",
    "class_id": "class",
    "class_ids": "class",
    "course_id": "course",
    "exclude_course_ids": "course",
    "topics": "topic",
    "topic_id": "topic",
    "teacher_id": "teacher",
    "item_id": "item",
}


def known_ids(bundle: str | Path) -> dict[str, list[str]]:
    """A sample of the ids a bundle knows, by kind (for :func:`fuzz_operation`)."""
    from ganxun.training.bundle import load_bundle

    fitted, _ = load_bundle(bundle)
    cat = fitted.catalog
    ids = {
        "cadre": cat.cadres.ids_,
        "unit": cat.units.ids_,
        "course": cat.courses.ids_,
        "topic": cat.topics.ids_,
        "teacher": cat.teachers.ids_,
        "item": cat.items.ids_,
    }
    if fitted.planning is not None:
        ids["class"] = fitted.planning.tables["classes"]["class_id"].to_numpy()
    return {
        kind: [str(v) for v in values[:: max(1, len(values) // 200)]]
        for kind, values in ids.items()
    }


def _swap(value, kind: str | None, ids: dict[str, list[str]], draw: Callable):
    """Replace some id-like strings in ``value`` by known ids (recursively)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if kind in ids and isinstance(k, str) and draw(st.booleans()):
                k = draw(st.sampled_from(ids[kind]))
            out[k] = _swap(v, ID_FIELDS.get(k) if isinstance(k, str) else None, ids, draw)
        return out
    if isinstance(value, list):
        return [_swap(v, kind, ids, draw) for v in value]
    if isinstance(value, str) and kind in ids and draw(st.booleans()):
        return draw(st.sampled_from(ids[kind]))
    return value


@dataclass
class FuzzResult:
    """The statuses answered for one operation and mode, and the 5xx cases (as curl lines)."""

    label: str
    mode: str
    statuses: list[int] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)


def negatable(operation) -> bool:
    """Whether a negative case can be made (the API-key header alone is always replaced)."""
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.body))


def fuzz_operation(
    operation,
    mode: GenerationMode,
    key: str,
    ids: dict[str, list[str]],
    max_examples: int,
    validate: bool = True,
    seed: int | None = None,
) -> FuzzResult:
    """Send ``max_examples`` generated cases; with ``validate`` the first 5xx raises."""
    result = FuzzResult(operation.label, str(mode))

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(
        max_examples=max_examples,
        derandomize=seed is None,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case, data):
        if case.path_parameters:
            case.path_parameters = {
                name: _swap(v, ID_FIELDS.get(name), ids, data.draw)
                for name, v in case.path_parameters.items()
            }
        if isinstance(case.body, dict):
            case.body = _swap(case.body, None, ids, data.draw)
        headers = {"X-API-Key": key}
        if validate:
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            result.statuses.append(response.status_code)
            return
        try:
            status = case.call(headers=headers).status_code
        except Exception as err:  # the in-process client re-raises what the app answered 500 to
            status = 500
            result.server_errors.append(f"{case.as_curl_command(headers=headers)}  # {err!r}")
        else:
            if status >= 500:
                result.server_errors.append(case.as_curl_command(headers=headers))
        result.statuses.append(status)

    if seed is not None:
        from hypothesis import seed as fix_seed

        fuzz = fix_seed(seed)(fuzz)
    try:
        fuzz()
    except Unsatisfiable:
        if mode == GenerationMode.POSITIVE or negatable(operation):
            raise
    return result


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation (the routes do not depend on a bundle)."""
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    return sorted((m.upper(), p) for p, item in spec["paths"].items() for m in item)


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def fuzz_artifacts(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "artifacts"
    shutil.copytree(trained[1], folder)
    return folder


@pytest.fixture(scope="module")
def org_key(fuzz_artifacts):
    from .conftest import key_for

    return key_for(fuzz_artifacts)


@pytest.fixture(scope="module")
def ids(trained):
    return known_ids(trained[0].bundle)


@pytest.fixture(scope="module")
def api_schema(fuzz_artifacts):
    app = create_app(Settings(artifacts=fuzz_artifacts))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_spec_documents_every_api_route():
    documented = {f"{m} {p}" for m, p in OPERATIONS}
    expected = {
        "GET /health",
        "GET /ready",
        "GET /v1/model",
        "GET /v1/cadres/{cadre_id}/knowledge",
        "POST /v1/cadres/{cadre_id}/recommendations",
        "POST /v1/recommendations/batch",
        "GET /v1/units/{unit_id}/layout",
        "POST /v1/classes/{class_id}/teachers",
        "POST /v1/classes/{class_id}/staff",
        "POST /v1/plans/teachers",
        "POST /v1/rollcall",
        "POST /v1/events",
        "POST /v1/admin/reload",
    }
    assert expected <= documented


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_no_server_errors(api_schema, org_key, ids, method, path, mode):
    operation = api_schema[path][method]
    if mode == GenerationMode.NEGATIVE and not negatable(operation):
        pytest.skip("nothing to make invalid: no path, query or body")
    # an operation without parameters has one case; a few repeats are enough
    examples = MAX_EXAMPLES if negatable(operation) else 3
    result = fuzz_operation(operation, mode, org_key, ids, examples)
    assert result.statuses and not result.server_errors


@pytest.fixture(scope="module")
def ui_client(fuzz_artifacts):
    from fastapi.testclient import TestClient

    with TestClient(create_app(Settings(artifacts=fuzz_artifacts))) as client:
        yield client


@given(name=st.text(min_size=1, max_size=40))
@settings(max_examples=30, derandomize=True, deadline=None, database=None)
def test_pages_outside_the_spec_never_fail(ui_client, name):
    part = quote(name, safe="")
    for path in ("/ui/cadres/", "/ui/units/", "/ui/static/", "/metrics?"):
        assert ui_client.get(path + part).status_code < 500
    assert ui_client.get(f"/ui/classes/{part}/roster").status_code < 500


@pytest.fixture(scope="module")
def predictors(trained):
    """Two predictors on the bundle: one answering from precomputed lists, one always live.

    The lists come with the bundle (computed by ``train``); they must equal the lists the service
    computes itself from the loaded model (as it does for bundles without them).
    """
    import numpy as np

    from ganxun.serving.predictor import Predictor
    from ganxun.training.bundle import load_bundle

    fast = Predictor(*load_bundle(trained[0].bundle))
    assert fast.lists.ready.all() and fast.materialize() == 0
    served = Predictor(*load_bundle(trained[0].bundle))
    served.lists.ready[:] = False
    assert served.materialize() == len(served.lists.ready)
    np.testing.assert_array_equal(served.lists.ids, fast.lists.ids)
    np.testing.assert_array_equal(served.lists.scores, fast.lists.scores)
    live = Predictor(*load_bundle(trained[0].bundle))
    live.lists.n = 0
    return fast, live


@given(data=st.data())
@settings(max_examples=60, derandomize=True, deadline=None, database=None)
def test_precomputed_lists_answer_exactly_like_the_model(predictors, data):
    from ganxun.features.events import parse_event

    fast, live = predictors
    cat = fast.fitted.catalog
    cadre = data.draw(st.sampled_from([str(c) for c in cat.cadres.ids_]))
    query = {"k": data.draw(st.integers(1, 100))}
    if data.draw(st.booleans()):
        topics = [str(t) for t in cat.topics.ids_]
        query["topics"] = data.draw(st.lists(st.sampled_from(topics), max_size=3, unique=True))
        query["modes"] = data.draw(st.sampled_from([None, ["网络"], ["面授", "网络"]]))
    if data.draw(st.booleans()):  # a course completed since the bundle: the list is stale
        course = data.draw(st.sampled_from([str(c) for c in cat.courses.ids_]))
        raw = {
            "event_id": f"fuzz-{cadre}-{course}",
            "type": "completion",
            "cadre_id": cadre,
            "course_id": course,
            "occurred_at": "2026-11-27T10:00:00+08:00",
            "hours": 2.0,
            "progress": 1.0,
        }
        for p in (fast, live):
            p.online.apply(parse_event(raw)[0])
    precomputed = fast.precomputed(cadre, **query)
    unfiltered = not query.get("topics") and not query.get("modes")
    fresh = fast.fitted.catalog.cadres.one(cadre) not in fast.online.changed
    assert (precomputed is not None) == (unfiltered and fresh and query["k"] <= fast.lists.n)
    assert fast.recommend(cadre, **query) == live.recommend(cadre, **query)
