"""The report: the variants side by side, the champion decision, the class reports."""

from __future__ import annotations

from pathlib import Path

from imbalance.champion import describe_decision
from imbalance.config import RetrainConfig
from imbalance.data import SplitCounts

TABLE_COLUMNS = ["precision", "recall", "f1", "roc_auc", "pr_auc", "train_seconds"]


def _cell(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def comparison_table(metrics: dict) -> str:
    """Return the markdown table of the variants' minority-class metrics, one row each."""
    header = "| variant | class weight | " + " | ".join(TABLE_COLUMNS) + " | tn, fp, fn, tp |"
    rule = "|" + "---|" * (len(TABLE_COLUMNS) + 3)
    rows = []
    for name, m in metrics["variants"].items():
        weight = m["class_weight"]
        weight_text = (
            "none"
            if weight is None
            else ", ".join(f"{k}: {float(v):.4g}" for k, v in weight.items())
        )
        cm = ", ".join(str(v) for row in m["confusion_matrix"] for v in row)
        cells = " | ".join(_cell(m[c]) for c in TABLE_COLUMNS)
        rows.append(f"| {name} | {weight_text} | {cells} | {cm} |")
    return "\n".join([header, rule, *rows])


def data_text(data: dict | None) -> str:
    """Return one paragraph on the run's data: where from, its label, its features."""
    if not data or data.get("source") == "generator":
        return "Data: the tutorial's generated data (x1, x2; label 1 is the rare class)."
    spec = data.get("spec", {})
    features = spec.get("features", [])
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    categorical = [f["name"] for f in features if f["kind"] == "categorical"]
    label = data.get("label", {})
    parts = [
        f"Data: `{data.get('source')}`, {data.get('rows', 0):,} rows from "
        f"{len(data.get('files', []))} file(s), sha256 `{str(data.get('sha256', ''))[:16]}…` "
        f"(snapshot in data/dataset.parquet).",
        f"Class 1 is {label.get('column')} = {label.get('positive')!r}, "
        f"class 0 {label.get('column')} = {label.get('negative')!r}.",
    ]
    if numeric:
        parts.append(f"Standardised inside the model: {', '.join(numeric)}.")
    if categorical:
        parts.append(f"One-hot inside the model: {', '.join(categorical)}.")
    return " ".join(parts)


def render_report(
    run_id: str,
    cfg: RetrainConfig,
    counts: SplitCounts,
    metrics: dict,
    decision: dict | None = None,
    plots: list[str] | None = None,
    data: dict | None = None,
) -> str:
    """Return report.md: the data, the table, the champion decision, plots, class reports."""
    lines = [
        f"# Retrain report: {run_id}",
        "",
        data_text(data),
        "",
        f"Training split: {counts.train_rows:,} rows, {counts.train_minority:,} minority; "
        f"test split: {counts.test_rows:,} rows, {counts.test_minority:,} minority. "
        f"{cfg.epochs} epochs, batch {cfg.batch_size}, trainer `{cfg.trainer}`, "
        f"threshold {cfg.threshold}. Metrics are for the minority class (1) on the test split.",
        "",
        comparison_table(metrics),
        "",
    ]
    if decision is not None:
        lines += ["## Champion", "", describe_decision(decision), ""]
    if plots:
        lines += ["## Plots", "", *(f"![{Path(p).stem}]({p})" for p in plots), ""]
    for name, m in metrics["variants"].items():
        lines += [f"## {name}", "", "```", m["classification_report"].rstrip(), "```", ""]
    return "\n".join(lines)
