"""A run's report: the markdown rendered from its records (`render`) and its plots (`plots`)."""
