"""Pipelines: load, validate, fit, evaluate, track in MLflow, write bundles (all I/O lives here)."""
