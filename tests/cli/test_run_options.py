"""`imbalance run`'s options: every config field, readable help, --force."""

from __future__ import annotations

import argparse

import pytest

from cli.run import config_from_args, register


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imbalance")
    register(parser.add_subparsers())
    return parser


def test_the_help_of_every_option_prints(capsys):
    with pytest.raises(SystemExit) as done:
        _parser().parse_args(["run", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    # Descriptions with "95%" and "1%" in them: argparse formats help with %.
    assert "95% bootstrap" in out and "(1%" in out  # (wrapped at any word)
    for option in ("--window-days", "--time-column", "--as-of", "--force", "--keep-runs"):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "skip"),
    [([], True), (["--force"], False), (["--no-skip-unchanged"], False)],
)
def test_force_retrains_even_when_nothing_changed(argv, skip):
    cfg = config_from_args(_parser().parse_args(["run", *argv]))
    assert cfg.skip_unchanged is skip
