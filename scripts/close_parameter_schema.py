"""After `prefect deploy`: make this project's deployments refuse unknown top-level parameters,
and put a deployment's `cfg` written in the flat form (before sections) into its sections.

    .venv/bin/python scripts/close_parameter_schema.py   (run by `scripts/prefect-stack.sh deploy`)

With `enforce_parameter_schema: true` the server checks a new run's parameters against the
deployment's `parameter_openapi_schema` and answers 409 before any run exists. The nested
`cfg` is closed already (`RetrainConfig` forbids extra fields), but the top level is not:
`{"foo": 1, "cfg": {...}}` is accepted and the run then crashes on the worker with
SignatureMismatchError. JSON Schema closes an object with `additionalProperties: false`.

Why a step after `prefect deploy` rather than prefect.yaml or the flow: in Prefect 3.9,
`prefect deploy` always replaces the schema with `parameter_schema(flow)`
(prefect/cli/deploy/_core.py), which has no setting for this, and passes it through
`prefect.utilities.callables.ParameterSchema`, a pydantic model with the fields title,
type, properties, required and definitions only: any other key, `additionalProperties`
included, is dropped, whether it comes from prefect.yaml, the flow or `flow.deploy()`.
The server keeps the schema as the plain dict it is sent, so the supported way left is
Prefect's client: read each deployment back and update its schema (PATCH
/deployments/{id}). Every `prefect deploy` resets the schema: run this after each one.

The config is in sections (`cfg: {training: {epochs: 2}}`), and so is the schema the server
checks runs against; a prefect.yaml of an earlier version gives flat parameters
(`cfg: {epochs: 2}`), which `prefect deploy` stores as they are, and which the server would
then refuse for every run that takes the deployment's defaults (the Run button, the
schedule). So the deployment's `cfg` is put into its sections here, by the config's own
mapping, and checked: a bad one fails the deploy in one line naming the field.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from pydantic import ValidationError

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # this clone's config, whatever else the venv can import

from imbalance.config import RetrainConfig, describe_error  # noqa: E402
from imbalance.config.flat import sectioned  # noqa: E402


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Return `schema` refusing any top-level parameter it does not name."""
    return {**schema, "additionalProperties": False}


def in_sections(parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the deployment's parameters with `cfg` in sections (only the fields it gives).

    Raises ValueError (one line naming the field) for a `cfg` the flow would refuse.
    """
    if not isinstance(parameters.get("cfg"), dict):
        return parameters
    try:
        cfg = sectioned(RetrainConfig, parameters["cfg"])
        RetrainConfig.model_validate(cfg)
    except ValidationError as exc:
        raise ValueError(describe_error(exc)) from None
    return {**parameters, "cfg": cfg}


def main() -> int:
    specs = yaml.safe_load((PROJECT / "prefect.yaml").read_text())["deployments"]
    names = [spec["name"] for spec in specs]
    with get_client(sync_client=True) as client:
        deployed = client.read_deployments(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names))
        )
        for spec in specs:
            matches = [
                d for d in deployed if d.name == spec["name"] and d.entrypoint == spec["entrypoint"]
            ]
            if not matches:
                sys.stderr.write(f"close_parameter_schema: {spec['name']} is not deployed\n")
                return 1
            for deployment in matches:
                schema = closed(deployment.parameter_openapi_schema or {})
                try:
                    parameters = in_sections(deployment.parameters or {})
                except ValueError as exc:
                    sys.stderr.write(f"close_parameter_schema: {spec['name']}: {exc}\n")
                    return 1
                client.update_deployment(
                    deployment.id,
                    DeploymentUpdate(parameter_openapi_schema=schema, parameters=parameters),
                )
                # Read it back: a server that dropped the key would accept unknown names again.
                stored = client.read_deployment(deployment.id).parameter_openapi_schema or {}
                if stored.get("additionalProperties") is not False:
                    sys.stderr.write(
                        f"close_parameter_schema: the server did not keep the schema of "
                        f"{spec['name']}\n"
                    )
                    return 1
                sys.stderr.write(
                    f"close_parameter_schema: {spec['name']} refuses unknown parameters\n"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
