"""Estimators: knowledge reserve, course recommender, matchers, rollcall, quality (no I/O)."""
