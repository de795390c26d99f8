"""Pipelines and the ``ganxun`` command line: load, validate, fit, evaluate, track, bundle."""
