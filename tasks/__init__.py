"""Pipeline steps: each a pure typed function plus a thin Prefect task wrapper."""
