"""The `imbalance` command: run the flow and inspect what runs left behind.

Each sub-command lives in its own module with a `register(subparsers)` function;
errors the user can fix become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys

from cli import champion as champion_command
from cli import inspect as inspect_commands
from cli import maintain as maintain_commands
from cli import predict as predict_command
from cli import run as run_command
from cli.errors import UserError, environment_problem

COMMANDS = [run_command, inspect_commands, champion_command, predict_command, maintain_commands]


def _check_artifacts_dir_option(args: argparse.Namespace) -> None:
    """Refuse an empty --artifacts-dir or one that names a file, for every command."""
    value = getattr(args, "artifacts_dir", None)
    if value is None:
        return
    if not str(value).strip():
        raise UserError("--artifacts-dir is empty: name a folder (default: artifacts)")
    if os.path.exists(value) and not os.path.isdir(value):
        raise UserError(f"artifacts folder {value}: exists and is not a folder")


def _warn_about_state(args: argparse.Namespace) -> None:
    """Say in one line each if latest.json or champion.json is damaged (no command fails on it)."""
    # The others report it themselves where it matters: `run` records it as its champion
    # decision, `predict`, `prune`, `champion` and `verify` name it in their own line.
    if args.command not in ("runs", "show", "compare"):
        return
    from imbalance.store import ArtifactStore

    for problem in ArtifactStore(args.artifacts_dir).state_problems():
        print(f"imbalance {args.command}: warning: {problem}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imbalance",
        description="Train and compare class-weighted Keras classifiers on imbalanced data.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # No telemetry from this machine's Prefect: the network beyond the registries is closed.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(argv)
    try:
        _check_artifacts_dir_option(args)
        _warn_about_state(args)
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"imbalance {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `imbalance show RUN | head`: the reader has gone, which is no error of ours.
        # Python's advice: point stdout at devnull so the exit's flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        problem = environment_problem(exc)
        if problem is None:
            raise
        print(f"imbalance {args.command}: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"imbalance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
