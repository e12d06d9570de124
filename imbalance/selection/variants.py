"""Variants are data: a name and a rule that gives its class weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WeightRule = Literal["none", "balanced", "manual"]


@dataclass(frozen=True)
class Variant:
    """One model of the comparison: same network, its own class weighting."""

    name: str
    weight_rule: WeightRule
    description: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("baseline", "none", "no class weights"),
        Variant("balanced", "balanced", "sklearn's balanced weights: n / (2 * count)"),
        Variant("manual", "manual", "hand-set weights, 1:200 by default"),
    )
}


def class_weight_for(
    variant: Variant, weights: dict[str, dict[int, float]]
) -> dict[int, float] | None:
    """Return the class weights `variant` trains with, from the computed `weights`."""
    return None if variant.weight_rule == "none" else weights[variant.weight_rule]
