"""A run's charts as PNGs: ROC and PR curves, loss per epoch, confusion matrices, the sweep.

Figures are built with matplotlib's object API on an Agg canvas: no pyplot, no global
backend, nothing set at import.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from imbalance.model.scoring import LABEL

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.figure import Figure

    from imbalance.selection.records import Selection, SweepPoint
    from imbalance.store.records import GateScore

SIZE = (6.0, 4.5)
DPI = 100


def _figure(size: tuple[float, float] = SIZE) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def roc_figure(y_true: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    """Return the ROC curve of each variant on one chart, with its AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure = _figure()
    ax = figure.add_subplot()
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y_true, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, s):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate (recall)", title="ROC")
    ax.legend(loc="lower right")
    return figure


def pr_figure(y_true: np.ndarray, scores: dict[str, np.ndarray]) -> Figure:
    """Return the precision-recall curve of each variant on one chart, with its PR AUC."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure = _figure()
    ax = figure.add_subplot()
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, s)
        ap = average_precision_score(y_true, s)
        ax.step(recall, precision, where="post", label=f"{name} (PR AUC {ap:.3f})")
    ax.axhline(np.mean(y_true), color="grey", linestyle=":", label="minority share")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (class 1)", xlim=(0, 1))
    ax.legend(loc="upper right")
    return figure


def loss_figure(losses: dict[str, list[float]]) -> Figure:
    """Return each variant's training loss per epoch (log scale: the weights set its size)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    figure = _figure()
    ax = figure.add_subplot()
    for name, values in losses.items():
        ax.plot(
            range(1, len(values) + 1), values, marker="o" if len(values) < 20 else None, label=name
        )
    ax.set(xlabel="epoch", ylabel="weighted training loss", title="Loss per epoch", yscale="log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    positive = [v for vs in losses.values() for v in vs if v > 0]
    if positive and max(positive) < 10 * min(positive):  # within a decade: few ticks, label all
        ax.yaxis.set_minor_formatter(plain)
    ax.legend()
    return figure


def confusion_figure(name: str, matrix: list[list[int]], threshold: float) -> Figure:
    """Return one variant's confusion matrix [[tn, fp], [fn, tp]] with the counts written in."""
    from matplotlib.colors import LogNorm

    counts = np.asarray(matrix)
    figure = _figure((4.0, 3.5))
    ax = figure.add_subplot()
    # A log scale, or the majority's cell would wash out the minority's.
    ax.imshow(counts + 1, cmap="Blues", norm=LogNorm(vmin=1, vmax=counts.max() + 1))
    for (row, col), value in np.ndenumerate(counts):
        dark = value + 1 > np.sqrt(counts.max() + 1)
        ax.text(
            col, row, f"{value:,}", ha="center", va="center", color="white" if dark else "black"
        )
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xlabel=f"predicted (score >= {threshold})",
        ylabel="actual",
        title=name,
    )
    return figure


def sweep_figure(sweep: Sequence[SweepPoint], tuned_weight: float | None) -> Figure:
    """Return the class-weight sweep: validation PR AUC, recall and precision against weight.

    Means over seeds with ± one standard deviation as bars; recall and precision are
    at each model's own threshold (the run's policy); the tuned weight is marked.
    """
    figure = _figure()
    ax = figure.add_subplot()
    weights = [p.weight for p in sweep]
    for key, style in (("pr_auc", "o-"), ("recall", "s--"), ("precision", "^:")):
        means = [getattr(p, key).mean for p in sweep]
        errors = [getattr(p, key).std for p in sweep]
        ax.errorbar(weights, means, yerr=errors, fmt=style, capsize=3, label=key)
    if tuned_weight is not None:
        ax.axvline(tuned_weight, color="grey", linestyle=":", label=f"tuned: {tuned_weight:g}")
    ax.set(
        xscale="log",
        xlabel="minority class weight (class 0 weighs 1)",
        ylabel="on validation (mean ± sd over seeds)",
        title="Class-weight sweep",
    )
    ax.legend()
    return figure


def track_figure(entries: Sequence[GateScore]) -> Figure:
    """Return the champion's score on each night's gate rows, the candidate's beside it.

    One point per night (run), oldest left; a filled marker where the candidate was
    promoted. A champion whose line falls while candidates stay level is decaying.
    """
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    ax = figure.add_subplot()
    nights = list(range(1, len(entries) + 1))
    ax.plot(nights, [e.champion_score for e in entries], marker="o", label="champion")
    ax.plot(
        nights,
        [np.nan if e.candidate_score is None else e.candidate_score for e in entries],
        marker="s",
        linestyle="--",
        label="candidate",
    )
    promoted = [(n, e.candidate_score) for n, e in zip(nights, entries, strict=True) if e.promoted]
    if promoted:
        ax.scatter(*zip(*promoted, strict=True), s=90, facecolors="none", edgecolors="green",
                   label="promoted", zorder=3)  # fmt: skip
    metric = entries[-1].metric if entries else ""
    ax.set(xlabel="night (run), oldest first", ylabel=f"{metric} on the gate rows",
           title="The champion on each night's gate rows")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return figure


def reliability_figure(
    y_true: np.ndarray, probabilities: dict[str, np.ndarray], prevalence: float | None = None
) -> Figure:
    """Return the reliability diagram of each variant's calibrated probabilities.

    Bins of equal row counts (quantiles: the scores crowd at one end), mean predicted
    probability against the observed positive rate; on the diagonal is calibrated.
    """
    from sklearn.calibration import calibration_curve

    figure = _figure()
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    for name, p in probabilities.items():
        observed, predicted = calibration_curve(y_true, p, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=name)
    if prevalence is not None:
        ax.axhline(prevalence, color="grey", linewidth=0.8, label=f"prevalence {prevalence:.3g}")
    ax.set(xlabel="mean calibrated probability (bin)", ylabel="observed positive rate",
           title="Reliability on the test part")  # fmt: skip
    ax.legend()
    return figure


def png_bytes(figure: Figure) -> bytes:
    """Return the figure rendered as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def run_figures(
    predictions,
    losses: dict[str, list[float]],
    metrics: dict,
    selection: Selection | None = None,
    probabilities: dict[str, np.ndarray] | None = None,
) -> dict[str, Figure]:
    """Return every chart of a run by file name: roc, pr, loss, confusion-<variant>, sweep,
    reliability (of the variants' calibrated `probabilities`, when given)."""
    variants = list(metrics["variants"])
    y_true = predictions[LABEL].to_numpy()
    scores = {v: predictions[v].to_numpy() for v in variants}
    figures: dict[str, Figure] = {}
    if len(np.unique(y_true)) == 2:  # curves need both classes in the test split
        figures["roc"] = roc_figure(y_true, scores)
        figures["pr"] = pr_figure(y_true, scores)
    figures["loss"] = loss_figure(losses)
    for v in variants:
        matrix = metrics["variants"][v]["confusion_matrix"]
        threshold = metrics["variants"][v].get("threshold", metrics.get("threshold"))
        figures[f"confusion-{v}"] = confusion_figure(v, matrix, round(threshold, 4))
    if selection and selection.sweep:
        figures["sweep"] = sweep_figure(selection.sweep, selection.tuned_weight)
    if probabilities and len(np.unique(y_true)) == 2:
        figures["reliability"] = reliability_figure(
            y_true, probabilities, metrics.get("train_prevalence")
        )
    return figures
