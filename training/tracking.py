"""MLflow tracking of training runs (embedded SQLite store in the artifacts folder by default)."""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

EXPERIMENT = "ganxun"


# mlflow.set_tracking_uri() writes MLFLOW_TRACKING_URI into this process's environment; the
# URIs we set ourselves are remembered so that only a URI the user chose overrides the default.
_SET_BY_US: set[str] = set()


def external_uri() -> str | None:
    """The tracking server the user chose with ``MLFLOW_TRACKING_URI``, if any."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    return env if env and env not in _SET_BY_US else None


def tracking_uri(artifacts: str | Path) -> str:
    """``MLFLOW_TRACKING_URI`` when the user set it, else a SQLite store in the artifacts folder."""
    return external_uri() or f"sqlite:///{Path(artifacts).resolve() / 'mlruns.db'}"


def use_store(artifacts: str | Path) -> str:
    """Point MLflow's fluent API (runs and registry) at the artifacts folder's store."""
    import mlflow

    # no "Downloading artifacts" progress bars in the training output (read at each call)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri(artifacts)
    if external_uri() is None:
        _SET_BY_US.add(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def metric_name(name: str) -> str:
    """An MLflow-safe metric name: ``@`` becomes ``_at_``, other symbols ``_`` (``ndcg_at_10``)."""
    return re.sub(r"[^\w.\- :/]", "_", name.replace("@", "_at_"))


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
    figures: list[Path] | None = None,
) -> str:
    """Log one training run to MLflow and return its run id.

    Parameters are flattened (``knowledge.half_life_days``); NaN metrics are skipped; ``files``
    are logged as artifacts and ``figures`` under ``figures/``. Only ids and aggregate figures
    are logged, never personal data.
    """
    import mlflow

    artifacts = Path(artifacts).resolve()
    use_store(artifacts)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if external_uri() is None:
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
        mlflow.log_metrics({metric_name(k): v for k, v in clean.items()})
        for path in files:
            if Path(path).is_file():
                mlflow.log_artifact(str(path))
        for path in figures or []:
            mlflow.log_artifact(str(path), artifact_path="figures")
        return run.info.run_id
