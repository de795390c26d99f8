"""Raw-table contracts, validation and feature builders (pure functions, no I/O)."""
