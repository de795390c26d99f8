"""Raw-table contracts, the synthetic city and feature builders (pure functions, no I/O)."""
