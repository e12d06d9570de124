"""Prefect flows: wiring of the steps in `tasks/`, nothing else."""
