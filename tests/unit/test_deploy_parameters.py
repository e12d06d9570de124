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
            "holdout": {"seed": 7},
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


@pytest.mark.parametrize(
    ("cfg", "refused"),
    [
        ({"training": {"epochs": 2}, "source": {"path": "x.csv"}}, None),
        ({"epochs": 2, "data": "x.csv", "split": "time", "time_column": "t"}, None),  # flat
        ({"training": {"epochs": 2}, "n_samples": 500}, None),  # both forms at once
        ({"training": {"epochs": 0}}, "field 'cfg.training.epochs'"),
        ({"epochs": 0}, "field 'cfg.epochs'"),
        ({"holdout": {"kind": "later"}}, "field 'cfg.holdout.kind'"),
        ({"training": {"epoch": 2}}, "'epoch' was unexpected"),
        ({"epoch": 2}, "'epoch' does not match any of the regexes"),
    ],
)
def test_the_servers_check_of_a_run_takes_either_form_and_names_a_bad_field(cfg, refused):
    """The schema the server checks runs against (`enforce_parameter_schema`), as
    `prefect deploy` builds it from the flow."""
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import ValidationError, validate

    from flows.retrain import retrain_with_retry

    schema = parameter_schema(retrain_with_retry).model_dump()
    if refused is None:
        validate({"cfg": cfg}, schema, raise_on_error=True)
        RetrainConfig.model_validate(cfg)  # and the flow takes it too
        return
    with pytest.raises(ValidationError) as info:
        validate({"cfg": cfg}, schema, raise_on_error=True)
    assert refused in str(info.value)
