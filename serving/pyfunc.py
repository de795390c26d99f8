"""The bundle as an MLflow pyfunc model: ``predict`` answers the same tasks as the API.

Input: a DataFrame with one request per row — ``task`` (``knowledge``, ``recommend`` or
``layout``), ``id`` (the cadre id, or the unit id for ``layout``) and optionally ``k`` (list
length for ``recommend``, default 10). Output: one row per request with ``task``, ``id``,
``status`` (``ok`` or ``error``) and ``result`` (the API's JSON answer, or the error message).
A bad row never fails the other rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import pandas as pd

try:  # mlflow is a training dependency; serving works without importing it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is in the base requirements
    PythonModel = object  # type: ignore[assignment,misc]

TASKS = ("knowledge", "recommend", "layout")
BUNDLE_PATH = "bundle_path"  # model_config key: the bundle folder a model references


def signature():
    """The model signature logged with every registered version."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema(
            [
                ColSpec("string", "task"),
                ColSpec("string", "id"),
                ColSpec("long", "k", required=False),
            ]
        ),
        outputs=Schema(
            [
                ColSpec("string", "task"),
                ColSpec("string", "id"),
                ColSpec("string", "status"),
                ColSpec("string", "result"),
            ]
        ),
    )


def input_example() -> pd.DataFrame:
    """A two-row request frame, shown in the MLflow UI next to the signature."""
    return pd.DataFrame(
        {"task": ["knowledge", "recommend"], "id": ["C000001", "C000001"], "k": [10, 5]}
    )


def answer(predictor, task: str, ident: str, k: int = 10) -> object:
    """One task's answer, as the API returns it (JSON-serialisable)."""
    if task == "knowledge":
        return predictor.knowledge(ident)
    if task == "recommend":
        return [asdict(r) for r in predictor.recommend(ident, k=k)]
    if task == "layout":
        return predictor.layout(ident)
    raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")


def predict_frame(predictor, requests: pd.DataFrame) -> pd.DataFrame:
    """Answer every row of ``requests``; a failing row gets ``status='error'`` and the reason."""
    missing = {"task", "id"} - set(requests.columns)
    if missing:
        raise ValueError(f"request frame lacks column(s): {', '.join(sorted(missing))}")
    rows = []
    for i, req in enumerate(requests.itertuples(index=False)):
        task, ident = str(req.task), str(req.id)
        k = getattr(req, "k", 10)
        k = 10 if k is None or pd.isna(k) else int(k)
        try:
            result, status = json.dumps(answer(predictor, task, ident, k), ensure_ascii=False), "ok"
        except (LookupError, ValueError) as err:
            result, status = f"row {i}: {err}", "error"
        rows.append({"task": task, "id": ident, "status": status, "result": result})
    return pd.DataFrame(rows, columns=["task", "id", "status", "result"])


class GanxunModel(PythonModel):
    """pyfunc wrapper: loads the bundle and serves it.

    The bundle is the model's ``bundle`` artifact when it was logged as a copy, else the folder
    named by ``model_config["bundle_path"]`` (the bundle stored once, in the artifacts folder).
    """

    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow's context object
        """Load and verify the bundle (manifest, schema version, checksums)."""
        from ganxun.serving.predictor import Predictor
        from ganxun.training.bundle import load_bundle

        folder = (context.artifacts or {}).get("bundle")
        if folder is None:
            folder = (context.model_config or {})[BUNDLE_PATH]
        self.predictor = Predictor(*load_bundle(folder))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
        """Answer the request frame (see the module docstring)."""
        return predict_frame(self.predictor, pd.DataFrame(model_input))
