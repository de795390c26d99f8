"""MLflow tracking of training runs (embedded SQLite store in the artifacts folder by default)."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

log = logging.getLogger(__name__)

EXPERIMENT = "ganxun"


def tracking_uri(artifacts: str | Path) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else a SQLite store in the artifacts folder."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path(artifacts).resolve() / 'mlruns.db'}"


def _flatten(prefix: str, value: object, out: dict[str, object]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def log_run(
    artifacts: str | Path,
    params: dict,
    metrics: dict[str, float],
    files: list[Path],
    tags: dict[str, str] | None = None,
) -> str:
    """Log one training run to MLflow and return its run id.

    Parameters are flattened (``knowledge.half_life_days``); NaN metrics are skipped; ``files``
    are logged as artifacts. Only ids and aggregate figures are logged, never personal data.
    """
    import mlflow

    artifacts = Path(artifacts).resolve()
    mlflow.set_tracking_uri(tracking_uri(artifacts))
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if "MLFLOW_TRACKING_URI" not in os.environ:
            location = (artifacts / "mlartifacts").as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    flat: dict[str, object] = {}
    _flatten("", params, flat)
    clean = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))
    }
    with mlflow.start_run(tags=tags or {}) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})
        mlflow.log_metrics({k.replace("@", "_at_"): v for k, v in clean.items()})
        for path in files:
            if Path(path).is_file():
                mlflow.log_artifact(str(path))
        return run.info.run_id
