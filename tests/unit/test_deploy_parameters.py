"""`make deploy`'s step after `prefect deploy` puts a deployment's flat `cfg` into sections."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from imbalance.config import RetrainConfig

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "close_parameter_schema.py"
PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"


def _script():
    spec = importlib.util.spec_from_file_location("close_parameter_schema", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_flat_cfg_of_an_earlier_prefect_yaml_is_put_into_its_sections():
    script = _script()
    flat = {"cfg": {"nightly_data": True, "epochs": 2, "split_seed": 7}, "other": 1}
    assert script.in_sections(flat) == {
        "cfg": {
            "generator": {"nightly_data": True},
            "training": {"epochs": 2},
            "split": {"seed": 7},
        },
        "other": 1,
    }
    sectioned = {"cfg": {"gate": {"promote": False}}}
    assert script.in_sections(sectioned) == sectioned  # already in sections: kept
    assert script.in_sections({}) == {}  # no cfg: the flow's defaults


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"epochs": 0}, "training.epochs: Input should be greater than or equal to 1"),
        ({"epoch": 2}, "epoch: unknown field (did you mean training.epochs?)"),
    ],
)
def test_a_bad_cfg_fails_the_deploy_in_one_line_naming_the_field(cfg, message):
    with pytest.raises(ValueError) as info:
        _script().in_sections({"cfg": cfg})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_project_deployments_give_their_cfg_in_sections_and_it_validates():
    script = _script()
    for spec in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]:
        cfg = spec["parameters"]["cfg"]
        assert script.in_sections(spec["parameters"])["cfg"] == cfg, spec["name"]
        assert set(cfg) <= set(RetrainConfig.model_fields), spec["name"]
        RetrainConfig.model_validate(cfg)
