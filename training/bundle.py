"""Versioned model bundles: ``<root>/bundles/<version>/`` with joblib files and manifest.json."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from ganxun.features.contracts import SCHEMA_VERSION
from ganxun.training.fitting import Fitted

PARTS = ("catalog", "knowledge", "recommender", "quality", "layout", "planning")
#: Parts written only when present (bundles without them still load).
OPTIONAL_PARTS = ("lists", "compliance", "records")


class BundleError(RuntimeError):
    """A bundle folder that cannot be served: missing, corrupt or built for another schema."""


def fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    """SHA-256 over the content of every table, independent of row index and table order."""
    h = hashlib.sha256()
    for name in sorted(tables):
        df = tables[name]
        h.update(f"{name}:{len(df)}:{','.join(map(str, df.columns))}".encode())
        for column in df.columns:
            values = df[column]
            if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
                h.update("\x1f".join(map(str, values.tolist())).encode())
            else:
                h.update(
                    values.to_numpy(dtype="float64", na_value=np.nan).tobytes()
                    if values.dtype.kind in "iufb" or str(values.dtype) in ("Int64", "Float64")
                    else values.astype("int64").to_numpy().tobytes()
                )
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(
    fitted: Fitted, root: str | Path, manifest: dict, extra_files: dict[str, Path] | None = None
) -> Path:
    """Write ``fitted`` as a new bundle version under ``root/bundles`` and return its folder.

    The folder is written under a temporary name and renamed when complete, so a reader never
    sees half a bundle. ``extra_files`` (name → file) are copied in and checksummed too (the
    Spark engine's per-cadre Parquet tables).
    """
    trained_at = datetime.now(UTC)
    fp = manifest.get("data_fingerprint", "")
    stamp = f"{trained_at:%Y%m%dT%H%M%S}{trained_at.microsecond // 1000:03d}"
    version = f"{stamp}-{fp[:8] or 'nodata'}"
    bundles = Path(root) / "bundles"
    tmp = bundles / f".tmp-{version}"
    tmp.mkdir(parents=True, exist_ok=True)
    files = {}
    for part in PARTS:
        path = tmp / f"{part}.joblib"
        joblib.dump(getattr(fitted, part), path, compress=1)
        files[path.name] = _sha256(path)
    for part in OPTIONAL_PARTS:
        if getattr(fitted, part, None) is not None:
            path = tmp / f"{part}.joblib"
            joblib.dump(getattr(fitted, part), path, compress=1)
            files[path.name] = _sha256(path)
    for name, source in (extra_files or {}).items():
        shutil.copyfile(source, tmp / name)
        files[name] = _sha256(tmp / name)
    joblib.dump(fitted.asof, tmp / "asof.joblib")
    files["asof.joblib"] = _sha256(tmp / "asof.joblib")
    full = {
        "version": version,
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "schema_version": SCHEMA_VERSION,
        "asof": fitted.asof.date().isoformat(),
        **manifest,
        "files": files,
    }
    (tmp / "manifest.json").write_text(
        json.dumps(full, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    final = bundles / version
    os.replace(tmp, final)
    return final


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a bundle folder; :class:`BundleError` if it is missing or unreadable."""
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise BundleError(f"{folder}: no manifest.json") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{folder}: manifest.json is not valid JSON ({err})") from err
    for key in ("version", "schema_version", "files"):
        if key not in manifest:
            raise BundleError(f"{folder}: manifest.json has no {key!r}")
    if str(manifest["schema_version"]) != SCHEMA_VERSION:
        raise BundleError(
            f"{folder}: built for schema {manifest['schema_version']}, "
            f"this service reads schema {SCHEMA_VERSION}"
        )
    return manifest


def load_bundle(folder: str | Path) -> tuple[Fitted, dict]:
    """Load and verify a bundle folder: manifest, schema version and every file's checksum."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    for name, digest in manifest["files"].items():
        path = folder / name
        if not path.exists():
            raise BundleError(f"{folder}: {name} is missing")
        if _sha256(path) != digest:
            raise BundleError(f"{folder}: {name} does not match its checksum (corrupt file)")
    try:
        parts = {p: joblib.load(folder / f"{p}.joblib") for p in PARTS}
        for p in OPTIONAL_PARTS:
            if f"{p}.joblib" in manifest["files"]:
                parts[p] = joblib.load(folder / f"{p}.joblib")
        asof = joblib.load(folder / "asof.joblib")
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad bundle
        raise BundleError(f"{folder}: cannot be loaded ({type(err).__name__}: {err})") from err
    return Fitted(asof=asof, **parts), manifest


def list_bundles(root: str | Path) -> list[Path]:
    """Bundle folders under ``root/bundles``, oldest first (by version name)."""
    bundles = Path(root) / "bundles"
    if not bundles.is_dir():
        return []
    return sorted(p for p in bundles.iterdir() if p.is_dir() and not p.name.startswith("."))


def newest_bundle(root: str | Path) -> Path | None:
    """The newest bundle folder under ``root``, or None."""
    found = list_bundles(root)
    return found[-1] if found else None
