"""`imbalance run`: one option per config field, then the flow in Prefect's local mode."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from imbalance.config import RetrainConfig, describe_error

T = TypeVar("T")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the retrain flow (tutorial defaults) and print the comparison",
        description="Run the retrain flow. Every option is a config field; unset ones keep "
        "the tutorial's default.",
    )
    for name, field in RetrainConfig.model_fields.items():
        default = field.get_default(call_default_factory=True)
        help_text = f"{field.description} (default: {json.dumps(default)})"
        if field.annotation is bool:
            parser.add_argument(
                _option(name), dest=name, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            parser.add_argument(_option(name), dest=name, metavar="VALUE", help=help_text)
    parser.set_defaults(handler=handle)


def parse_overrides(args: argparse.Namespace) -> dict:
    """Return the config fields given on the command line, in the form pydantic validates.

    Lists are comma-separated (`--variants baseline,manual`); the class-weight map is
    `0:1,1:200` or JSON. Pydantic checks types and bounds afterwards.
    """
    overrides = {}
    for name, field in RetrainConfig.model_fields.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        origin = getattr(field.annotation, "__origin__", None)
        if origin is list:
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif origin is dict:
            value = _parse_mapping(name, value)
        overrides[name] = value
    return overrides


def _parse_mapping(name: str, text: str) -> dict:
    from imbalance.cli import UserError

    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{_option(name)}: not valid JSON: {exc}") from None
    try:
        return dict(pair.split(":", 1) for pair in text.split(","))
    except ValueError:
        raise UserError(f"{_option(name)}: expected CLASS:WEIGHT,... such as 0:1,1:200") from None


def config_from_args(args: argparse.Namespace) -> RetrainConfig:
    """Return the validated config, or raise a one-line UserError naming the bad fields."""
    from imbalance.cli import UserError

    try:
        return RetrainConfig(**parse_overrides(args))
    except ValidationError as exc:
        raise UserError(describe_error(exc)) from None


@contextlib.contextmanager
def local_prefect_api(while_starting: Callable[[], T]) -> Iterator[T]:
    """Yield `while_starting()`, run while one temporary Prefect server starts, if needed.

    In local mode every process of the task runner would otherwise start a temporary
    server of its own (measured: ~8 s each, and their task runs lost in it), so this
    starts the one the flow uses and gives its URL to all of them. It starts in a
    thread while the caller imports the flow (measured here: the flow began ~2 s
    sooner than with the two one after the other, out of ~12 s).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value() or os.environ.get("PREFECT_API_URL"):
        yield while_starting()
        return
    from prefect.server.api.server import SubprocessASGIServer

    # The default instance is the one the flow itself would start; Prefect stops it at
    # exit, after its log worker has drained (stopping it here loses the last logs).
    server = SubprocessASGIServer()
    failed: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # re-raised in the caller's thread below
            failed.append(exc)

    starter = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    starter.start()
    value = while_starting()
    starter.join()
    if failed:
        raise failed[0]
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield value


def _import_flow():
    from flows.retrain import retrain

    return retrain


class _NoTracebackFor(logging.Filter):
    """Drop the traceback Prefect logs with an error the user can fix: its message says it all."""

    def __init__(self, *errors: type[BaseException]):
        super().__init__()
        self.errors = errors

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.errors):
            record.exc_info = record.exc_text = None
        return True


def handle(args: argparse.Namespace) -> int:
    from imbalance.cli import UserError

    cfg = config_from_args(args)  # before any heavy import: a bad option fails at once
    with local_prefect_api(while_starting=_import_flow) as retrain:
        from imbalance import store
        from tasks.champion import describe_decision
        from tasks.data import DataError
        from tasks.report import comparison_table

        for name in ("prefect.flow_runs", "prefect.task_runs"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _NoTracebackFor) for f in logger.filters):  # once a process
                logger.addFilter(_NoTracebackFor(DataError))
        try:
            run_dir = retrain(cfg)
        except DataError as exc:
            raise UserError(str(exc)) from None
    run = store.RunPaths(Path(run_dir))
    print(f"\nrun directory: {run.root}\n")
    print(comparison_table(store.read_json(run.metrics)))
    decision = store.read_json(run.manifest).get("champion")
    if decision:
        print(f"\nchampion: {describe_decision(decision)}")
    return 0
