"""The `imbalance` command: run the flow and inspect what runs left behind.

Each sub-command lives in its own module with a `register(subparsers)` function;
errors the user can fix become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys

from imbalance.cli import inspect as inspect_commands
from imbalance.cli import maintain as maintain_commands
from imbalance.cli import predict as predict_command
from imbalance.cli import run as run_command

COMMANDS = [run_command, inspect_commands, predict_command, maintain_commands]


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


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
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"imbalance {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"imbalance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
