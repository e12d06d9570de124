"""Measure the calibration maps (Platt, isotonic) on the test part of real runs.

Runs the flow on the tutorial's data (100,000 rows, 0.5% positives) and on a
10,000-row table at 3% positives, keeps each configuration's blind-twin validation
scores as the run fits its maps on them, and fits both methods on them; each is then
applied to the final model's test scores (predictions.parquet; `manual` at weight 500
by default), and its Brier score printed beside the raw score's and the constant predictor's (the
training part's positive rate). How `imbalance.selection.calibration.DEFAULT_METHOD`
was chosen: `python benchmarks/measure_calibration.py [--rows N --fraction F ...]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from imbalance import store  # noqa: E402
from imbalance.config import RetrainConfig  # noqa: E402
from imbalance.selection import calibration as calibration_module  # noqa: E402
from imbalance.selection.calibration import METHODS, brier, fit_calibration  # noqa: E402

CAPTURED: dict[str, tuple[np.ndarray, np.ndarray]] = {}
_twin_scores = calibration_module.twin_validation_scores


def _capturing(cfg, trained, x_validation):
    scores = _twin_scores(cfg, trained, x_validation)
    CAPTURED["scores"] = scores
    return scores


def _capturing_calibrations(cfg, trained, x_validation, y_validation, *args, **kwargs):
    CAPTURED["y"] = np.asarray(y_validation).astype(int)
    return _calibrations(cfg, trained, x_validation, y_validation, *args, **kwargs)


_calibrations = calibration_module.calibrations


def measure(rows: int, fraction: float, epochs: int, manual: float, root: Path) -> None:
    import tasks.choose
    from flows.retrain import retrain

    calibration_module.twin_validation_scores = _capturing
    tasks.choose.calibrations = _capturing_calibrations
    cfg = RetrainConfig(
        generator={"n_samples": rows, "minority_fraction": fraction},
        training={"epochs": epochs},
        selection={"manual_class_weight": {0: 1.0, 1: manual}},
        storage={"artifacts_dir": str(root / f"artifacts-{rows}-{fraction}")},
    )
    run = store.RunPaths(Path(retrain(cfg)))
    metrics = store.read_json(run.metrics)
    predictions = store.read_parquet(run.predictions)
    y_test = np.asarray(predictions["label"])
    selection = store.read_json(run.selection)
    tuned = selection.get("tuned_weight")
    print(f"\n{rows:,} rows at {fraction:g} asked ({metrics['train_prevalence']:.4f} in training)")
    print("variant | platt | isotonic | uncalibrated | prevalence")
    for name, m in metrics["variants"].items():
        source = f"w={tuned:g}" if name == "tuned" else name
        val = CAPTURED["scores"][source]
        test = predictions[name].to_numpy()
        cells = [brier(y_test, fit_calibration(val, CAPTURED["y"], k).apply(test)) for k in METHODS]
        cells += [m["brier_uncalibrated"], m["brier_prevalence"]]
        print(name, "|", " | ".join(f"{c:.5f}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="100000:0.005,10000:0.03", help="rows:fraction,...")
    parser.add_argument("--epochs", type=int, default=RetrainConfig().training.epochs)
    parser.add_argument(
        "--manual-weight", type=float, default=500.0, help="class 1's weight in `manual`"
    )
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as tmp, prefect_test_harness(server_startup_timeout=120):
        for table in args.tables.split(","):
            rows, fraction = table.split(":")
            measure(int(rows), float(fraction), args.epochs, args.manual_weight, Path(tmp))


if __name__ == "__main__":
    main()
