"""What a run trains and how it chooses: the members, then thresholds, weight, variant.

One batched training serves both purposes (`plan_members`):

- *final* members, one per variant plus one per swept minority weight, train on the
  whole training part with `train_seed`: the models that are saved and tested;
- *blind* members, the same configurations from `n_seeds` seeds, never learn from
  the validation rows (`Member.blind`): the models choices are made with.

`choose` then scores the blind members on the validation rows and decides, per
configuration, a threshold (the configured policy) and the mean ± standard deviation
over seeds of each metric; the swept weight with the best mean validation PR AUC
becomes the `tuned` variant; the variant with the best mean `selection_metric` is
the run's candidate. The final model of a configuration then gets the threshold its
`train_seed` blind twin was given, as scikit-learn's TunedThresholdClassifierCV
refits with a threshold chosen on held-out rows. Nothing here sees the test part.
Functions of arrays and config, no Prefect; members score through the network's one
definition (`imbalance.model.predict.score_members`, TensorFlow imported there).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from imbalance.config import RetrainConfig
from imbalance.data.spec import DataError
from imbalance.model.predict import score_members
from imbalance.model.training import Member, TrainedMember
from imbalance.selection.bootstrap import spread
from imbalance.selection.metrics import METRICS, variant_metrics
from imbalance.selection.records import ConfigurationChoice, Selection, Spread, SweepPoint
from imbalance.selection.thresholds import choose_threshold
from imbalance.selection.variants import VARIANTS, class_weight_for
from imbalance.selection.weights import minority_weights

TUNED = "tuned"
SEED_MARK = "@"  # a blind member's name: its configuration, "@", its seed


def sweep_name(weight: float) -> str:
    return f"w={weight:g}"


def sweep_weights(cfg: RetrainConfig, weights: dict[str, dict[int, float]]) -> list[float]:
    """Return the minority weights to sweep (class 0 weighs 1): log-spaced, plus balanced's."""
    if cfg.selection.sweep_points == 0:
        return []
    balanced = weights["balanced"]
    return minority_weights(max(2, cfg.selection.sweep_points), extra=[balanced[1] / balanced[0]])


def seeds(cfg: RetrainConfig) -> list[int]:
    return [cfg.training.seed + i for i in range(cfg.selection.n_seeds)]


def plan_members(cfg: RetrainConfig, weights: dict[str, dict[int, float]]) -> list[Member]:
    """Return every model the run trains: final members first, then the blind ones."""
    configurations: list[tuple[str, dict[int, float] | None]] = [
        (name, class_weight_for(VARIANTS[name], weights)) for name in cfg.selection.variants
    ]
    configurations += [(sweep_name(w), {0: 1.0, 1: w}) for w in sweep_weights(cfg, weights)]
    final = [Member(name, cw, cfg.training.seed) for name, cw in configurations]
    blind = [
        Member(f"{name}{SEED_MARK}{seed}", cw, seed, blind=True, configuration=name)
        for name, cw in configurations
        for seed in seeds(cfg)
    ]
    return final + blind


def final_epochs(cfg: RetrainConfig, trained: Sequence[TrainedMember]) -> dict[str, int]:
    """Return each final model's epoch count: the best epoch of its `training.seed` twin.

    With early stopping the blind twin stopped on the validation rows (which it never
    trained on); the final model, trained on the whole training part, trains for that
    many epochs. A configuration without a twin keeps `training.epochs`.
    """
    return {
        t.member.measures: int(t.best_epoch)
        for t in trained
        if t.member is not None and t.member.blind and t.member.seed == cfg.training.seed
    }


def choose(
    cfg: RetrainConfig,
    trained: Sequence[TrainedMember],
    x_validation: np.ndarray,
    y_validation: np.ndarray,
) -> Selection:
    """Return the run's choices, made on the validation rows by the blind members.

    Each configuration's threshold is its train_seed blind member's (the final model's
    twin); its metrics, mean ± standard deviation over the seeds. The tuned weight is
    the swept one of best mean validation PR AUC, the candidate the variant of best
    mean `selection.metric`.
    """
    y = np.asarray(y_validation).astype(int)
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skipped: list[str] = []
    blind = [member for member in trained if member.member is not None and member.member.blind]
    # All blind members in one compiled call: as fast as a numpy copy, and the network's own.
    blind_scores = score_members([member.weights for member in blind], x_validation)
    for member, scores in zip(blind, blind_scores, strict=True):
        if not np.isfinite(scores).all():  # a diverged model: it cannot be chosen
            skipped.append(member.name)
            continue
        threshold = choose_threshold(
            y,
            scores,
            cfg.selection.threshold_policy,
            cfg.selection.threshold_target,
            cfg.selection.threshold,
        )
        measured = variant_metrics(y, scores, threshold.threshold)
        runs[member.member.measures].append(
            {
                "seed": member.member.seed,
                "threshold": threshold,
                "metrics": measured,
                "class_weight": member.class_weight,
            }
        )
    # A configuration is chosen from only if its train_seed model (the final one's
    # twin, whose threshold the final model takes) gave finite scores.
    configurations = {
        name: _summary(cfg, items)
        for name, items in runs.items()
        if any(r["seed"] == cfg.training.seed for r in items)
    }
    sweep = sorted(
        (
            SweepPoint(
                name=name,
                weight=float(c.class_weight[1]),
                pr_auc=c.pr_auc,
                recall=c.recall,
                precision=c.precision,
            )
            for name, c in configurations.items()
            if name.startswith("w=")
        ),
        key=lambda point: point.weight,
    )
    tuned_weight = None
    variants = [v for v in cfg.selection.variants if v in configurations]
    metric = cfg.selection.metric
    if sweep:
        # By the same rule and metric as the variant; a tie goes to the smaller weight.
        best = max(sweep, key=lambda point: configurations[point.name].lower_bound(metric))
        tuned_weight = best.weight
        configurations[TUNED] = configurations[best.name]
        variants.append(TUNED)
    if not variants:
        raise DataError(
            "no model for choosing gave finite scores on the validation rows "
            f"({', '.join(skipped)}): training diverged; lower the learning rate"
        )
    # The spread-aware rule (ConfigurationChoice.lower_bound); the first listed wins a tie.
    candidate = max(variants, key=lambda v: configurations[v].lower_bound(metric))
    return Selection(
        configurations=configurations,
        sweep=tuple(sweep),
        tuned_weight=tuned_weight,
        variants=tuple(variants),
        candidate=candidate,
        metric=metric,
        rows=int(len(y)),
        positives=int(y.sum()),
        skipped=tuple(skipped),
    )


def _summary(cfg: RetrainConfig, items: list[dict[str, Any]]) -> ConfigurationChoice:
    """Return one configuration's threshold (its train_seed run's) and its metrics' spread."""
    own = next(r for r in items if r["seed"] == cfg.training.seed)
    spreads = {}
    for metric in METRICS:
        values = [r["metrics"][metric] for r in items if r["metrics"][metric] is not None]
        spreads[metric] = Spread(*spread(values)) if values else Spread(None, None)
    return ConfigurationChoice(
        threshold=own["threshold"].threshold,
        why=own["threshold"].why,
        class_weight=own["class_weight"],
        seeds=tuple(sorted(r["seed"] for r in items)),
        **spreads,
    )


def final_members(selection: Selection, trained: Sequence[TrainedMember]) -> list:
    """Return the final members to save, renamed: the variants, and `tuned` if swept."""
    by_name = {t.name: t for t in trained if t.member is None or not t.member.blind}
    finals = []
    for name in selection.variants:
        source = sweep_name(selection.tuned_weight) if name == TUNED else name
        member = by_name[source]
        finals.append(member if name == source else _renamed(member, name))
    return finals


def _renamed(member: TrainedMember, name: str) -> TrainedMember:
    from dataclasses import replace

    return replace(member, name=name)
