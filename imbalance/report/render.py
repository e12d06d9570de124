"""The report: the variants side by side, the champion decision, the class reports."""

from __future__ import annotations

from pathlib import Path

from imbalance.config import RetrainConfig
from imbalance.data import SplitCounts
from imbalance.selection.champion import describe_decision
from imbalance.selection.decision import Decision
from imbalance.selection.records import Selection

TABLE_COLUMNS = ["precision", "recall", "f1", "roc_auc", "pr_auc", "train_seconds"]
# A network's train_seconds is the one training of all the run's models together
# (compiling included), the same on every network's row: not a model's own time; a
# reference's is its own fit. The header says so.
HEADERS = {"train_seconds": "train s (networks: all together)"}


def _cell(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _spread(pair) -> str:
    if not pair or pair[0] is None:
        return "n/a"
    return f"{pair[0]:.4f} ± {pair[1]:.4f}"


def reference_label(name: str, m: dict) -> str:
    """Return a reference's row name: `reference: logistic (balanced)`, or its model's."""
    if m.get("model", "logistic_regression") == "logistic_regression":
        return f"reference: logistic ({name})"
    return f"reference: {name}"


def _weight_text(weight) -> str:
    if weight is None:
        return "none"
    if isinstance(weight, str):
        return weight
    return ", ".join(f"{k}: {float(v):.4g}" for k, v in weight.items())


def comparison_table(metrics: dict) -> str:
    """Return the markdown table of the variants' minority-class metrics, one row each.

    Test metrics at each variant's threshold (chosen on validation), and the
    validation PR AUC it was chosen by, mean ± standard deviation over seeds. The
    reference models (metrics["reference"]), if any, follow as rows `reference: …`:
    their validation PR AUC is that of their one fit blind to the validation rows.
    """
    header = (
        "| variant | class weight | threshold | "
        + " | ".join(HEADERS.get(c, c) for c in TABLE_COLUMNS)
        + " | validation pr_auc | tn, fp, fn, tp |"
    )
    rule = "|" + "---|" * (len(TABLE_COLUMNS) + 5)
    same = same_models(metrics["variants"])
    named = [*metrics["variants"].items()]
    named += [(reference_label(n, m), m) for n, m in metrics.get("reference", {}).items()]
    rows = []
    for name, m in named:
        cm = m.get("confusion_matrix")
        cm = ", ".join(str(v) for row in cm for v in row) if cm else "n/a"
        cells = " | ".join(_cell(m.get(c)) for c in TABLE_COLUMNS)
        threshold = _cell(m.get("threshold", metrics.get("threshold")))
        validation = m.get("validation", {}).get("pr_auc")
        validation = _spread(validation) if isinstance(validation, list) else _cell(validation)
        weight = _weight_text(m.get("class_weight"))
        shown = f"{name} (= {same[name]})" if name in same else name
        rows.append(f"| {shown} | {weight} | {threshold} | {cells} | {validation} | {cm} |")
    return "\n".join([header, rule, *rows])


def same_models(variants: dict) -> dict[str, str]:
    """Return, for a variant whose class weights equal an earlier one's, that one's name.

    Same weights (none is 1 and 1), same seed, same rows: the same model (a `tuned`
    weight of 1 is `baseline`), shown as such rather than as another model.
    """
    seen: dict[tuple, str] = {}
    same = {}
    for name, m in variants.items():
        weight = m.get("class_weight") or {0: 1.0, 1: 1.0}
        key = tuple(sorted((int(k), float(v)) for k, v in weight.items()))
        if key in seen:
            same[name] = seen[key]
        else:
            seen[key] = name
    return same


def data_text(data: dict | None) -> str:
    """Return one paragraph on the run's data: where from, its label, its features."""
    if not data or data.get("source") == "generator":
        seed = f", data seed {data['data_seed']}" if data and "data_seed" in data else ""
        return f"Data: the tutorial's generated data (x1, x2; label 1 is the rare class{seed})."
    spec = data.get("spec", {})
    features = spec.get("features", [])
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    categorical = [f["name"] for f in features if f["kind"] == "categorical"]
    label = data.get("label", {})
    parts = [
        f"Data: `{data.get('source')}`, {data.get('rows', 0):,} rows from "
        f"{len(data.get('files', []))} file(s){_window_text(data)}, "
        f"sha256 `{str(data.get('sha256', ''))[:16]}…` (snapshot in data/dataset.parquet).",
        f"Class 1 is {label.get('column')} = {label.get('positive')!r}, "
        f"class 0 {label.get('column')} = {label.get('negative')!r}.",
    ]
    if numeric:
        parts.append(f"Standardised inside the model: {', '.join(numeric)}.")
    if categorical:
        parts.append(f"One-hot inside the model: {', '.join(categorical)}.")
    return " ".join(parts)


def drift_text(drift: dict) -> list[str]:
    """Return the drift section: this run's training data against the champion's."""
    from imbalance.monitoring.drift import ROW_HEADER, DriftReport

    lines = ["## Drift against the champion's data", ""]
    if drift.get("status") != "compared":
        return [*lines, f"Not compared: {drift.get('reason', drift.get('status'))}.", ""]
    report = DriftReport.from_json(drift)
    lines += [
        f"Training part of this run ({report.current_rows:,} rows) against that of champion "
        f"run {drift['against']} ({report.reference_rows:,} rows): "
        f"{drift.get('summary') or report.summary()}. "
        "PSI over the champion data's deciles (categories for categorical columns); "
        "above 0.1 moderate, above 0.2 drifted. KS: the two-sample Kolmogorov-Smirnov "
        "statistic (numeric columns; with many rows its p-value is tiny for any shift).",
        "",
        "| " + " | ".join(ROW_HEADER) + " |",
        "|" + "---|" * len(ROW_HEADER),
        *("| " + " | ".join(row) + " |" for row in report.rows()),
        "",
    ]
    return lines


def _out_of_time(counts: SplitCounts) -> str:
    return (
        f" (out of time: the newest rows, from {counts.test_from} on)" if counts.test_from else ""
    )


def _window_text(data: dict) -> str:
    window = data.get("window")
    if not window:
        return ""
    dates = data.get("partitions") or []
    found = f"{len(dates)} partition(s) {dates[0]} to {dates[-1]}" if dates else "no partition"
    days = f"{window['days']} day" + ("s" if window["days"] != 1 else "")
    return f" of the window {window['range']} ({days}: {found})"


def reference_text(metrics: dict) -> list[str]:
    """Return what the reference rows are, and a sentence per reference the network trails.

    The sentence only when the paired bootstrap's interval of (chosen network minus
    reference) on the test part lies below 0: reported, never used to choose.
    """
    reference = metrics["reference"]
    lines = [
        "References (rows `reference: …`): scikit-learn's LogisticRegression with each "
        "variant's class weights, and a HistGradientBoostingClassifier (balanced class "
        "weights, early stopping). Like the networks, each takes the threshold that a fit "
        "blind to the validation rows was given there, and is then fitted on the whole "
        "training part (the final networks' rows) and measured on the same test rows.",
        "",
    ]
    chosen = metrics.get("chosen")
    for name, m in reference.items():
        c = m.get("against_chosen")
        if not c or c["high"] >= 0:
            continue
        label = name
        if m.get("model", "logistic_regression") == "logistic_regression":
            label = f"the logistic regression (class weights of {name})"
        lines += [
            f"The chosen network ({chosen}) is significantly worse than {label} on the "
            f"test part: {c['metric']} {c['candidate']:.4f} against {c['incumbent']:.4f}, "
            f"{c['difference']:+.4f} ({c['confidence']:.0%} interval {c['low']:+.4f} to "
            f"{c['high']:+.4f}, paired bootstrap of the {c['rows']:,} test rows); reported "
            "only, not used to choose.",
            "",
        ]
    return lines


def calibration_text(metrics: dict) -> list[str]:
    """Return the Calibration section: each variant's Brier score and log loss on the test part."""
    rows = {n: m for n, m in metrics["variants"].items() if m.get("brier") is not None}
    if not rows:
        return []
    lines = [
        "## Calibration",
        "",
        "The `probability` of `imbalance predict`: each variant's score through a calibration "
        "map fitted on its blind twin's validation scores (rows the twin never trained on), "
        "measured on the test part. The constant predictor says the training part's positive "
        f"rate ({_cell(metrics.get('train_prevalence'))}) for every row; a useful probability "
        "has a lower Brier score.",
        "",
        "| variant | map | Brier | Brier before calibration | constant predictor | log loss |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in rows.items():
        cells = " | ".join(
            _cell(m[c]) for c in ("brier", "brier_uncalibrated", "brier_prevalence", "log_loss")
        )
        lines.append(f"| {name} | {m.get('calibration')} | {cells} |")
    return [*lines, ""]


def choices_text(cfg: RetrainConfig, selection: Selection) -> list[str]:
    """Return the report's section on what was chosen on validation, and why."""
    configurations = selection.configurations
    seeds = len(next(iter(configurations.values())).seeds) if configurations else 0
    metric = selection.metric
    lines = [
        "## Choices on validation",
        "",
        f"Chosen on {selection.rows:,} validation rows ({selection.positives} "
        "positive), held out of the training part; each configuration trained from "
        f"{seeds} seed(s) without any validation row (mean ± standard deviation below). "
        f"Threshold policy `{cfg.selection.threshold_policy}`.",
        "",
        _why_chosen(selection),
        "",
    ]
    for name in selection.variants:
        c = configurations[name]
        lines.append(
            f"- {name}: {metric} {_spread(c.spread(metric))} (standard error "
            f"{c.standard_error(metric):.4f}, mean - SE {c.lower_bound(metric):.4f}); "
            f"threshold {c.threshold:.4f}: {c.why}"
        )
    lines.append("")
    if selection.sweep:
        lines += [
            f"Class-weight sweep (class 0 weighs 1): the `tuned` variant takes "
            f"{selection.tuned_weight:g}, by the same rule (validation {metric}, mean - SE).",
            "",
            "| minority weight | validation pr_auc | recall | precision |",
            "|---|---|---|---|",
        ]
        for point in selection.sweep:
            lines.append(
                f"| {point.weight:g} | {_spread(point.pr_auc)} | "
                f"{_spread(point.recall)} | {_spread(point.precision)} |"
            )
        lines.append("")
    return lines


def _why_chosen(selection: Selection) -> str:
    """Return why the candidate won: the spread-aware rule, and the best mean if another's."""
    metric, configurations = selection.metric, selection.configurations
    chosen = configurations[selection.candidate]
    text = (
        f"Chosen: **{selection.candidate}**, the highest validation {metric} less one standard "
        f"error over its seeds ({chosen.lower_bound(metric):.4f}): a configuration whose mean "
        "is higher but noisier does not win on it."
    )
    means = {v: configurations[v].spread(metric).mean for v in selection.variants}
    top = max((v for v in means if means[v] is not None), key=lambda v: means[v], default=None)
    if top is not None and top != selection.candidate and means[top] > chosen.spread(metric).mean:
        c = configurations[top]
        text += (
            f" The highest mean was {top}'s, {means[top]:.4f} ± {c.standard_error(metric):.4f} "
            f"(standard error), {c.lower_bound(metric):.4f} less it."
        )
    return text


def gate_text(cfg: RetrainConfig, decision: Decision) -> list[str]:
    """Return the report's section on the champion gate: its rows, both models, the rule."""
    lines = ["## Champion", ""]
    if decision.gate_rows is not None:
        lines += [
            f"Gate: {decision.gate_rows:,} rows ({decision.gate_positives} positive), "
            f"{cfg.gate.share:g} of all rows chosen by a hash of each row's key: no model of "
            "any run trains, chooses or sets a threshold on them. Both models are scored by "
            "their final models. Rule: promoted if better (the lower end of the 95% interval "
            f"of the difference above {decision.min_improvement:g}), or, when trained on "
            f"newer data, if not worse by more than {decision.margin:g}.",
            "",
        ]
    rows = []
    if decision.candidate is not None and decision.candidate.gate_score is not None:
        c = decision.candidate
        rows.append(f"| candidate | {c.run_id}/{c.variant} | {c.gate_score:.4f} | {c.as_of} |")
    champion = decision.champion
    if champion is not None and champion.score is not None:
        rows.append(f"| champion | {champion.text()} | {champion.score:.4f} | {champion.as_of} |")
    if rows:
        lines += [
            f"| | run/variant | gate {decision.metric} | data as of |",
            "|---|---|---|---|",
            *rows,
            "",
        ]
    return [*lines, describe_decision(decision), ""]


def _epochs_text(cfg: RetrainConfig, metrics: dict) -> str:
    """Return how long the models trained: fixed epochs, or early stopping's counts."""
    if not cfg.training.patience:
        return f"{cfg.training.epochs} epochs"
    counts = ", ".join(
        f"{name} {m['epochs']}" for name, m in metrics["variants"].items() if m.get("epochs")
    )
    return (
        f"early stopping (patience {cfg.training.patience}, at most {cfg.training.epochs} "
        f"epochs; each final model trained for the best epoch of its blind twin on the "
        f"validation rows: {counts})"
    )


def render_report(
    run_id: str,
    cfg: RetrainConfig,
    counts: SplitCounts,
    metrics: dict,
    decision: Decision | None = None,
    plots: list[str] | None = None,
    data: dict | None = None,
    selection: Selection | None = None,
    nightly: dict | None = None,
) -> str:
    """Return report.md: the data, the table, the champion decision, plots, class reports.

    `nightly`: the run's as-of time and its drift record (`as_of`, `drift`).
    """
    nightly = nightly or {}
    as_of = f"As of {nightly['as_of']}. " if nightly.get("as_of") else ""
    lines = [
        f"# Retrain report: {run_id}",
        "",
        as_of + data_text(data),
        "",
        f"Training split: {counts.train_rows:,} rows, {counts.train_minority:,} minority, "
        f"of which {counts.validation_rows:,} ({counts.validation_minority:,} minority) "
        f"held out for choosing; gate: {counts.gate_rows:,} rows "
        f"({counts.gate_minority:,} minority), kept out of every run's training; "
        f"test split{_out_of_time(counts)}: {counts.test_rows:,} rows, "
        f"{counts.test_minority:,} minority. {_epochs_text(cfg, metrics)}, "
        f"batch {cfg.training.batch_size}, trainer `{cfg.training.trainer}`. Test metrics are "
        "for the minority class (1), each variant at the threshold chosen for it on "
        "validation; the test part chose nothing.",
        "",
        comparison_table(metrics),
        "",
    ]
    if metrics.get("reference"):
        lines += reference_text(metrics)
    lines += calibration_text(metrics)
    if decision is not None:
        lines += gate_text(cfg, decision)
    if nightly.get("drift"):
        lines += drift_text(nightly["drift"])
    if selection is not None:
        lines += choices_text(cfg, selection)
    if plots:
        lines += ["## Plots", "", *(f"![{Path(p).stem}]({p})" for p in plots), ""]
    for name, m in metrics["variants"].items():
        lines += [f"## {name}", "", "```", m["classification_report"].rstrip(), "```", ""]
    return "\n".join(lines)
