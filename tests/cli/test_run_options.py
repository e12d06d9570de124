"""`imbalance run`'s options: every config field, readable help, --force."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cli.errors import UserError
from cli.run import config_from_args, register
from imbalance.config import RetrainConfig, flat_places
from imbalance.config.retrain import RETIRED

OLD_RUN = Path(__file__).parents[1] / "unit" / "old_run" / "manifest.json"


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
    assert cfg.nightly.skip_unchanged is skip


def test_the_help_lists_the_options_by_section_with_their_field():
    parser = _parser()
    run = parser._subparsers._group_actions[0].choices["run"]
    groups = {group.title: [a.option_strings[0] for a in group._group_actions] for group in
              run._action_groups}  # fmt: skip
    assert "--epochs" in groups["Training (training)"]
    assert "--split-seed" in groups["Held-out rows (holdout)"]
    assert "--data" in groups["Your data (source)"]
    assert "--force" in groups["Nightly runs (nightly)"]
    help_text = run.format_help()
    assert "training.epochs: Passes over the training split." in help_text


def test_the_options_of_the_flat_config_set_their_fields_in_sections():
    cfg = config_from_args(
        _parser().parse_args(
            ["run", "--epochs", "3", "--split-seed", "7", "--train-seed", "5",
             "--selection-metric", "f1", "--variants", "baseline,manual",
             "--manual-class-weight", "0:1,1:50", "--no-promote", "--keep-runs", "2"]
        )
    )  # fmt: skip
    assert (cfg.training.epochs, cfg.holdout.seed, cfg.training.seed) == (3, 7, 5)
    assert cfg.selection.metric == "f1"
    assert cfg.selection.variants == ["baseline", "manual"]
    assert cfg.selection.manual_class_weight == {0: 1.0, 1: 50.0}
    assert cfg.gate.promote is False and cfg.storage.keep_runs == 2


def test_a_bad_option_is_one_line_naming_the_field_with_its_section():
    with pytest.raises(UserError) as info:
        config_from_args(_parser().parse_args(["run", "--epochs", "0", "--split-seed", "-1"]))
    message = str(info.value)
    assert "training.epochs: Input should be greater than or equal to 1" in message
    assert "holdout.seed: Input should be greater than or equal to 0" in message
    assert "\n" not in message


def test_every_option_of_the_flat_config_is_still_an_option_for_its_field():
    # The flat config recorded by a run of the code before sections: its keys were the
    # options then (`--n-samples` for n_samples), and each must still be one, setting the
    # same field (now in its section).
    recorded = json.loads(OLD_RUN.read_text())["config"]
    run = _parser()._subparsers._group_actions[0].choices["run"]
    dests = {o: action.dest for action in run._actions for o in action.option_strings}
    places = flat_places(RetrainConfig)
    retired = {flat for _, _, flat in RETIRED}  # no longer a field: read, warned, ignored
    for name in set(recorded) - retired:
        assert dests["--" + name.replace("_", "-")] == ".".join(places[name]), name
