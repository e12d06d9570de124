"""The config's flat form (before sections): each field's flat name, and the mapping into sections.

Until issue 21 the config was one flat object (`{"epochs": 2, "data": "x.csv"}`); runs
recorded it so in their manifests, deployments and scripts were written so. A field's
flat name is its name in its section, unless the field says otherwise with `Flat`
(`holdout.seed` was `split_seed`): the one place a flat name is written, beside the field.
The same names are `imbalance run`'s options (`--split-seed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Flat:
    """Marks a field whose flat name (and command-line option) is not its name in its section."""

    name: str


@cache
def flat_places(model: type[BaseModel]) -> dict[str, tuple[str, str]]:
    """Return {flat name: (section, field)} for every field of `model`'s sections."""
    places: dict[str, tuple[str, str]] = {}
    for section in model.model_fields:
        for name, field in section_model(model, section).model_fields.items():
            flat = next((m.name for m in field.metadata if isinstance(m, Flat)), name)
            if flat in places:  # caught by the config's tests, not at import time
                raise TypeError(f"flat name {flat!r} is used twice")
            places[flat] = (section, name)
    return places


def section_model(model: type[BaseModel], section: str) -> type[BaseModel]:
    """Return the pydantic model of `model`'s section `section`."""
    annotation = model.model_fields[section].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise TypeError(f"{model.__name__}.{section} is not a section")
    return annotation


def sectioned(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """Return `values` with every flat key moved into its section, e.g. {"epochs": 2} ->
    {"training": {"epochs": 2}}; sections and unknown keys are kept as they are (pydantic
    then names an unknown one). Raises ValueError for a field given both ways."""
    places = flat_places(model)
    out: dict[str, Any] = {}
    moved: dict[str, dict[str, tuple[str, Any]]] = {}
    for key, value in values.items():
        if key in model.model_fields and isinstance(value, dict | BaseModel):
            out[key] = value
        elif key in places:
            section, name = places[key]
            moved.setdefault(section, {})[name] = (key, value)
        else:
            out[key] = value
    for section, fields in moved.items():
        given = out.get(section, {})
        if isinstance(given, BaseModel):
            given = given.model_dump(exclude_unset=True)
        twice = sorted(key for name, (key, _) in fields.items() if name in given)
        if twice:
            raise ValueError(
                f"{', '.join(twice)} given twice: flat and in section {section!r}; give it once"
            )
        out[section] = {**given, **{name: value for name, (_, value) in fields.items()}}
    return out


def dotted(model: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """Return a recorded config (flat or in sections) as {"section.field": value}, in the
    model's order, then any key the model does not know (an older or newer version's)."""
    try:
        nested = sectioned(model, values)
    except ValueError:  # a damaged record: show it as it is
        nested = values
    keys = [k for k in model.model_fields if k in nested]
    out: dict[str, Any] = {}
    for key in keys + [k for k in nested if k not in model.model_fields]:
        part = nested[key]
        if isinstance(part, dict):
            out.update({f"{key}.{name}": value for name, value in part.items()})
        else:
            out[key] = part
    return out
