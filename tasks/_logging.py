"""The logger of the current Prefect run, or a plain one when a step runs on its own."""

from __future__ import annotations

import logging


def run_logger(fallback: str) -> logging.Logger | logging.LoggerAdapter:
    """Return the run's logger; outside a run (a task's `.fn` in a test) the `fallback` one."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_logger, get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger(fallback)
