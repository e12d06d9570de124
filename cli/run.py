"""`imbalance run`: one option per config field, grouped by section, then the flow in
Prefect's local mode."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from cli.errors import UserError, environment_problem
from cli.local_server import ServerError, local_prefect_api
from imbalance.config import RetrainConfig, describe_error, flat_places
from imbalance.config.flat import section_model
from imbalance.config.retrain import DATA_DEFAULTS
from imbalance.monitoring.nightly import SKIPPED


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _options() -> list[tuple[str, str, str, FieldInfo]]:
    """Return (section, field, flat name, field) of every config field, in the model's order.

    An option is named by the field's flat name (`--epochs`, `--split-seed`): the names
    of the flat config before sections, so every option of earlier versions still works.
    """
    places = flat_places(RetrainConfig)
    return [
        (section, name, flat, section_model(RetrainConfig, section).model_fields[name])
        for flat, (section, name) in places.items()
    ]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the retrain flow (tutorial defaults) and print the comparison",
        description="Run the retrain flow. Every option is a config field (shown by section, "
        "as section.field); unset ones keep the tutorial's default.",
    )
    groups: dict[str, argparse._ArgumentGroup] = {}
    for section, name, flat, field in _options():
        if section not in groups:
            info = RetrainConfig.model_fields[section]
            groups[section] = parser.add_argument_group(
                f"{info.title} ({section})", info.description
            )
        default = field.get_default(call_default_factory=True)
        # argparse formats help with %: a description's "95%" must be "95%%"
        for_data = DATA_DEFAULTS.get((section, name))
        also = "" if for_data is None else f"; with --data: {json.dumps(for_data)}"
        help_text = f"{section}.{name}: {field.description} (default: {json.dumps(default)}{also})"
        help_text = help_text.replace("%", "%%")
        dest = f"{section}.{name}"
        if field.annotation is bool:
            groups[section].add_argument(
                _option(flat), dest=dest, action=argparse.BooleanOptionalAction, help=help_text
            )
        else:
            groups[section].add_argument(_option(flat), dest=dest, metavar="VALUE", help=help_text)
    groups["nightly"].add_argument(
        "--force",
        dest="nightly.skip_unchanged",
        action="store_false",
        default=None,
        help="retrain even if the data and config are those of the newest run "
        "(the same as --no-skip-unchanged)",
    )
    parser.set_defaults(handler=handle)


def parse_overrides(args: argparse.Namespace) -> dict:
    """Return the config fields given on the command line, by section, in the form
    pydantic validates.

    Lists are comma-separated (`--variants baseline,manual`); the class-weight map is
    `0:1,1:200` or JSON. Pydantic checks types and bounds afterwards.
    """
    overrides: dict[str, dict] = {}
    for section, name, flat, field in _options():
        value = getattr(args, f"{section}.{name}", None)
        if value is None:
            continue
        origin = getattr(field.annotation, "__origin__", None)
        if origin is list:
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif origin is dict:
            value = _parse_mapping(flat, value)
        overrides.setdefault(section, {})[name] = value
    return overrides


def _parse_mapping(name: str, text: str) -> dict:

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

    try:
        return RetrainConfig.model_validate(parse_overrides(args))
    except ValidationError as exc:
        raise UserError(describe_error(exc)) from None


def _import_flow():
    """Return the flow, with TensorFlow imported too: both while the server starts.

    The flow imports TensorFlow only when it trains (`prepare_training`); importing it
    here instead overlaps its ~3.5 s with the server's start-up.
    """
    from flows.retrain import retrain
    from tasks.train import prepare_training

    prepare_training()
    return retrain


class _NoTracebackFor(logging.Filter):
    """Drop the traceback Prefect logs with an error the user can fix: its message says it all."""

    def __init__(self, *errors: type[BaseException]):
        super().__init__()
        self.errors = errors

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.errors) or environment_problem(error) is not None:
            record.exc_info = record.exc_text = None
        return True


def check_artifacts_dir(path: Path) -> None:
    """Raise a UserError unless runs can be written under `path` (created if missing).

    Checked before the server starts and anything heavy is imported, so a read-only
    or unwritable folder fails in well under a second, not after the start-up.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except FileExistsError:
        raise UserError(f"artifacts folder {path}: exists and is not a folder") from None
    except OSError as exc:
        raise UserError(f"artifacts folder {path} is not writable: {exc.strerror or exc}") from None


def _run_flow(cfg: RetrainConfig) -> tuple[str, bool]:
    """Return the run folder of the retrain flow with `cfg` (local mode if need be), and
    whether the flow skipped (nothing new: the folder is the newest run's)."""
    with local_prefect_api(while_starting=_import_flow) as retrain:
        from imbalance.data import DataError
        from imbalance.model.distribution import ClusterUnreachable

        for name in ("prefect.flow_runs", "prefect.task_runs"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _NoTracebackFor) for f in logger.filters):  # once a process
                logger.addFilter(_NoTracebackFor(DataError, ClusterUnreachable))
        try:
            state = retrain(cfg, return_state=True)
            return state.result(), state.name == SKIPPED
        except (DataError, ClusterUnreachable) as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            problem = environment_problem(exc)
            if problem is None:
                raise
            raise UserError(f"the run failed, nothing of it was kept in runs/: {problem}") from None


def handle(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)  # before any heavy import: a bad option fails at once
    check_artifacts_dir(cfg.artifacts_path)
    try:
        run_dir, skipped = _run_flow(cfg)
    except ServerError as exc:  # raised before the flow starts
        raise UserError(str(exc)) from None
    from imbalance import store
    from imbalance.report.render import comparison_table
    from imbalance.selection.champion import describe_decision

    run = store.RunPaths(Path(run_dir))
    manifest = store.read_record(run.manifest)
    if skipped:
        from imbalance.monitoring.nightly import skip_message

        print(f"\n{skip_message(run.run_id, (manifest.facts.data or {})['sha256'])}")
        print(f"run directory: {run.root}")
        return 0
    print(f"\nrun directory: {run.root}\n")
    print(comparison_table(store.read_json(run.metrics)))
    decision = manifest.champion
    if decision:
        print(f"\nchampion: {describe_decision(decision)}")
    return 0
