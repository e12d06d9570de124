"""Train a run's models with the configured trainer; hand them on as plain arrays.

What training returns is small and picklable (weights, Adam slots, losses), so the
process that trains need not be the one that saves: the run's own process turns
each result into a Keras model (`keras_model`) and the store writes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from imbalance.config import RetrainConfig
from imbalance.data.preprocess import Preprocessing

if TYPE_CHECKING:
    from imbalance.model.stopping import EarlyStopping


@dataclass(frozen=True)
class Member:
    """One model to train: its name, its class weights, the seed of its initial weights.

    A `blind` member never learns from the rows the trainer is told to ignore (the
    validation part): it is one of the models choices are made with.
    """

    name: str
    class_weight: dict[int, float] | None
    seed: int
    blind: bool = False
    configuration: str | None = None  # a blind member's: the variant or weight it measures

    @property
    def measures(self) -> str:
        """Return the configuration this member's results count for (its own name if final)."""
        return self.configuration or self.name


@dataclass(frozen=True)
class TrainedMember:
    """A trained model as arrays, in `model.get_weights()` order, and how training went.

    `losses` has one loss per epoch trained (`epochs_run` of them); the weights are
    those of epoch `best_epoch` (1-based: the last one but with early stopping, which
    keeps the epoch of the lowest validation loss, `val_losses`); Adam's state and
    `iterations` are the last epoch's. Left out, the counts are all `losses`' epochs.
    """

    name: str
    class_weight: dict[int, float] | None
    weights: list[np.ndarray]
    momentums: list[np.ndarray]
    velocities: list[np.ndarray]
    iterations: int
    losses: list[float]
    train_seconds: float  # the models' training together, compiling included
    us_per_step: float | None  # per step of one model, after the first compiled call
    member: Member | None = None  # what was asked for: its seed, blind or not, configuration
    epochs_run: int | None = None
    best_epoch: int | None = None
    val_losses: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.epochs_run is None:
            object.__setattr__(self, "epochs_run", len(self.losses))
        if self.best_epoch is None:
            object.__setattr__(self, "best_epoch", self.epochs_run)


@dataclass(frozen=True)
class TrainedVariant:
    """What evaluation needs of a saved variant: small values, no model."""

    name: str
    class_weight: dict[int, float] | None
    losses: list[float]
    train_seconds: float
    us_per_step: float | None
    epochs: int | None = None  # epochs it trained (its blind twin's best, with early stopping)


def initial_weights(cfg: RetrainConfig, n_features: int, seed: int) -> list[np.ndarray]:
    """Return the initial weights of the network built with `seed` (Keras's own draw)."""
    from imbalance.model.network import build_model

    return build_model(
        cfg.network.hidden_units, cfg.network.learning_rate, seed, n_features
    ).get_weights()


def train_members(
    cfg: RetrainConfig,
    x: np.ndarray,
    y: np.ndarray,
    members: Sequence[Member],
    on_epochs_done: Callable[[int], None] | None = None,
    ignore: np.ndarray | None = None,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: Sequence[int] | None = None,
) -> list[TrainedMember]:
    """Return `members` trained on (x, y) with `cfg.training.trainer`; `on_epochs_done(e)` per call.

    `batched` trains all members in one compiled loop (one step for all); `fused`
    one after another in a compiled loop of their own (the loop is compiled once);
    `fit` one after another with Keras's `model.fit`. Each member's batches follow
    `cfg.training.seed`, so a member is the same model whichever trainer and whatever
    else trains beside it (to float32 rounding: see imbalance/model/batched.py).
    `on_epochs_done` gets the epochs done summed over members. Blind members weigh
    the rows where `ignore` is true 0, in every trainer alike.

    `epochs`: how many epochs each member trains (default: `cfg.training.epochs`
    each), e.g. a final model the epochs early stopping gave its blind twin.
    `validation`: rows (x, y) for early stopping with `cfg.training.patience` and
    `min_delta` (imbalance/model/stopping.py: each member's validation loss weighted
    by its class weights; its best epoch's weights kept; its `epochs` the most it
    trains). With patience 0 the rows are not used: training is as without them.
    """
    if not members:
        return []
    if ignore is None or not any(m.blind for m in members):
        ignore = None
    limits = [cfg.training.epochs] * len(members) if epochs is None else [int(e) for e in epochs]
    if len(limits) != len(members) or min(limits) < 1:
        raise ValueError(f"one epoch count >= 1 per member, got {limits} for {len(members)}")
    stopping = None
    if validation is not None and cfg.training.patience > 0:
        from imbalance.model.stopping import EarlyStopping

        stopping = EarlyStopping(*validation, cfg.training.patience, cfg.training.min_delta)
    if cfg.training.trainer == "batched":
        return _train_batched(cfg, x, y, members, on_epochs_done, ignore, limits, stopping)
    return _train_one_by_one(cfg, x, y, members, on_epochs_done, ignore, limits, stopping)


def _train_batched(
    cfg, x, y, members, on_epochs_done, ignore, limits: list[int], stopping: EarlyStopping | None
) -> list[TrainedMember]:
    from imbalance.model.batched import train_batched

    marks: list[tuple[float, int]] = []

    def progress(done: int) -> None:
        marks.append((time.perf_counter(), done))
        if on_epochs_done:
            on_epochs_done(done * len(members))

    started = time.perf_counter()
    by_seed = {s: initial_weights(cfg, x.shape[1], s) for s in {m.seed for m in members}}
    initial = [by_seed[m.seed] for m in members]  # one Keras build per seed, not per model
    result = train_batched(
        initial,
        x,
        y,
        [m.class_weight for m in members],
        epochs=limits[0] if len(set(limits)) == 1 else limits,
        batch_size=cfg.training.batch_size,
        learning_rate=cfg.network.learning_rate,
        seed=cfg.training.seed,
        on_epochs_done=progress,
        ignore=ignore,
        blind=[m.blind for m in members],
        early_stopping=stopping,
    )
    seconds = round(time.perf_counter() - started, 3)
    per_step = steady_us_per_step(marks, _steps_per_epoch(len(x), cfg.training.batch_size))
    per_model = None if per_step is None else round(per_step / len(members), 2)
    return [
        TrainedMember(
            m.name,
            m.class_weight,
            result.weights[k],
            result.momentums[k],
            result.velocities[k],
            result.member_iterations[k],
            [float(v) for v in result.losses[k][: result.epochs_run[k]]],
            seconds,
            per_model,
            m,
            result.epochs_run[k],
            result.best_epoch[k],
            [float(v) for v in result.val_losses[k][: result.epochs_run[k]]],
        )
        for k, m in enumerate(members)
    ]


def _train_one_by_one(
    cfg, x, y, members, on_epochs_done, ignore, limits: list[int], stopping: EarlyStopping | None
) -> list[TrainedMember]:
    from imbalance.model.fused import train_fused
    from imbalance.model.loop import Programs
    from imbalance.model.network import adam_state, build_model, train_with_fit

    programs = Programs()  # one compile for all members (fused); this call's own
    trained = []
    for k, member in enumerate(members):
        marks: list[tuple[float, int]] = []

        def progress(done: int, before: int = sum(limits[:k]), marks: list = marks) -> None:
            marks.append((time.perf_counter(), done))
            if on_epochs_done:
                on_epochs_done(before + done)

        started = time.perf_counter()
        model = build_model(
            cfg.network.hidden_units, cfg.network.learning_rate, member.seed, x.shape[1]
        )
        options = {"programs": programs} if cfg.training.trainer == "fused" else {}
        trainer = train_fused if cfg.training.trainer == "fused" else train_with_fit
        history = trainer(
            model,
            x,
            y,
            epochs=limits[k],
            batch_size=cfg.training.batch_size,
            class_weight=member.class_weight,
            shuffle=True,
            seed=cfg.training.seed,
            on_epochs_done=progress,
            ignore=ignore if member.blind else None,
            early_stopping=stopping,
            **options,
        )
        momentums, velocities, iterations = adam_state(model)
        trained.append(
            TrainedMember(
                member.name,
                member.class_weight,
                model.get_weights(),
                momentums,
                velocities,
                iterations,
                history.losses,
                round(time.perf_counter() - started, 3),
                steady_us_per_step(marks, _steps_per_epoch(len(x), cfg.training.batch_size)),
                member,
                history.epochs_run,
                history.best_epoch,
                history.val_losses,
            )
        )
    return trained


def keras_model(cfg: RetrainConfig, trained: TrainedMember, prep: Preprocessing):
    """Return the trained member as the model to save: raw columns in, a score out.

    Its dense layers are the trained ones, under `prep`'s preprocessing layers
    (`with_preprocessing`); compiled, with Adam's state, so it can train on.
    """
    from imbalance.model.network import build_model, set_adam_state, with_preprocessing

    n_features = trained.weights[0].shape[0]
    dense = build_model(
        cfg.network.hidden_units, cfg.network.learning_rate, 0, n_features, compiled=False
    )
    dense.set_weights(trained.weights)
    model = with_preprocessing(dense, prep, cfg.network.learning_rate)
    set_adam_state(model, trained.momentums, trained.velocities, trained.iterations)
    return model


def _steps_per_epoch(n_rows: int, batch_size: int) -> int:
    return -(-n_rows // min(batch_size, n_rows))


def steady_us_per_step(marks: list[tuple[float, int]], steps_per_epoch: int) -> float | None:
    """Return µs per step between the first and the last progress mark after the start.

    The first call of a trainer carries its one-off costs (XLA compiling the loop,
    TensorFlow warming up); the steps after it show the trainer's own speed.
    """
    marks = [m for m in marks if m[1] > 0]
    if len(marks) < 2:
        return None
    (t0, e0), (t1, e1) = marks[0], marks[-1]
    return round(1e6 * (t1 - t0) / ((e1 - e0) * steps_per_epoch), 1)
