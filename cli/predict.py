"""`imbalance predict`: score a file of rows with a saved model (the champion by default)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cli.inspect import add_artifacts_dir, open_run, user_error
from imbalance import store
from imbalance.config import recorded_fields
from imbalance.data.spec import DataError, recorded_spec
from imbalance.messages import first_line
from imbalance.model.scoring import recorded_threshold, score
from imbalance.store import ArtifactStore, RunPaths, StateFileError

if TYPE_CHECKING:
    import pandas as pd

    from imbalance.data.spec import DataSpec

SCORE, PROBABILITY, PREDICTED = "score", "probability", "predicted_label"
READERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="score rows with a saved model (default: the champion)",
        description="Read a Parquet or CSV file with the model's feature columns, as raw "
        "as the data it was trained on (`imbalance show RUN` lists them); write it back as "
        f"Parquet with `{SCORE}`, `{PROBABILITY}` (the score calibrated on held-out rows, "
        f"when the model has a map) and `{PREDICTED}` (0/1 at the run's threshold) added.",
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="a .parquet or .csv file")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUTPUT", help="Parquet file to write"
    )
    parser.add_argument("--run", metavar="RUN", help="run id, `latest` or `champion` (default)")
    parser.add_argument(
        "--variant", metavar="V", help="variant to use (default: the run's chosen one)"
    )
    add_artifacts_dir(parser)
    parser.set_defaults(handler=handle)


def read_rows(path: Path) -> pd.DataFrame:
    """Return the rows of a Parquet or CSV file, or raise a UserError saying why not.

    Parsed by the reader runs use (`imbalance.data.sources`, pyarrow), so a value
    reads the same here as in training: the text "NA" stays text, as it did there.
    """
    from imbalance.data.sources import read_source

    if READERS.get(path.suffix.lower()) is None:
        raise user_error(f"{path}: unsupported file type {path.suffix!r} (use .parquet or .csv)")
    if not path.is_file():
        raise user_error(f"{path}: no such file")
    try:
        return read_source(str(path)).table.to_pandas()
    except DataError as exc:
        raise user_error(str(exc)) from None


def checked_features(rows: pd.DataFrame, spec: DataSpec, source: Path) -> pd.DataFrame:
    """Return the model's feature columns of `rows`, numeric ones as float32.

    Raises a UserError naming the column (and row) the model cannot take: a missing
    column, or in a numeric one an empty or non-numeric value, or one beyond float32's
    range (the model's inputs). Categorical columns take any value: one never seen in
    training counts as "other".
    """
    import pandas as pd

    missing = [c for c in spec.feature_names if c not in rows.columns]
    if missing:
        raise user_error(
            f"{source}: missing feature column(s) {', '.join(missing)} "
            f"(the model reads {', '.join(spec.feature_names)})"
        )
    if rows.empty:
        raise user_error(f"{source}: no rows to score")
    for column in (SCORE, PROBABILITY, PREDICTED):
        if column in rows.columns:
            raise user_error(f"{source}: already has a column {column!r}, which predict writes")
    columns = {}
    for column in spec.feature_names:
        if column in spec.categorical:
            columns[column] = rows[column]
            continue
        kind = rows[column].dtype
        if pd.api.types.is_bool_dtype(kind) or kind.kind in "mM":  # booleans, times
            raise user_error(
                f"{source}: column {column} holds {kind} values; the model was trained on "
                "numbers there"
            )
        values = _as_float64(rows[column])
        bad = np.isnan(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raw = rows[column].iloc[row]
            what = "an empty value" if pd.isna(raw) else f"a non-numeric value {raw!r}"
            raise user_error(
                f"{source}: column {column} has {what} at row {row + 1} ({int(bad.sum())} bad)"
            )
        with np.errstate(over="ignore"):
            x32 = values.astype("float32")  # the model's dtype: 1e39 is finite here, inf there
        overflow = ~np.isfinite(x32)
        if overflow.any():
            row = int(np.flatnonzero(overflow)[0])
            what = "an infinite value" if np.isinf(values[row]) else repr(float(values[row]))
            raise user_error(
                f"{source}: column {column} has {what} at row {row + 1}, beyond float32's "
                f"range (the model's inputs); {int(overflow.sum())} such value(s)"
            )
        columns[column] = x32
    return pd.DataFrame(columns, index=rows.index)


def _as_float64(values: pd.Series) -> np.ndarray:
    """Return a column as float64: NaN where it is not a number, ±inf beyond float64's range."""
    import pandas as pd

    try:
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    except (OverflowError, TypeError, ValueError):  # integers past float64 or C long
        return np.array([_one_float(v) for v in values], dtype="float64")


def _one_float(value) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if str(value).strip()[0] != "-" else float("-inf")
    except (TypeError, ValueError):
        return float("nan")


def choose_model(
    artifacts: ArtifactStore, run_ref: str | None, variant: str | None
) -> tuple[RunPaths, dict[str, Any], str]:
    """Return (run, manifest, variant) to predict with: the champion unless told otherwise."""
    try:
        champion = artifacts.champion()
    except StateFileError as exc:
        if run_ref is None or variant is None:
            raise user_error(f"{exc}: pass --run and --variant to choose a model") from None
        champion = None
    if run_ref is None and champion is None:
        raise user_error("no champion yet: finish a run with `imbalance run`, or pass --run")
    run, manifest = open_run(artifacts, run_ref or "champion")
    if variant is None and champion and champion.run_id == run.run_id:
        variant = champion.variant
    if variant is None:
        candidate = (manifest.get("champion") or {}).get("candidate")
        if not candidate:
            raise user_error(f"run {run.run_id} records no chosen variant: pass --variant")
        variant = candidate["variant"]
    files = manifest.get("files", {})
    saved = [f[len("models/") : -len(".keras")] for f in files if f.endswith(".keras")]
    configured = recorded_fields(manifest.get("config", {})).get("selection.variants", [])
    trained = [v for v in configured if v in saved] + [v for v in saved if v not in configured]
    if f"models/{variant}.keras" not in files:
        raise user_error(
            f"run {run.run_id} has no variant {variant!r} (it has: {', '.join(trained)})"
        )
    return run, manifest, variant


def handle(args: argparse.Namespace) -> int:
    import pyarrow as pa

    if args.output.suffix.lower() not in (".parquet", ".pq"):
        raise user_error(f"{args.output}: the output is Parquet; name it *.parquet")
    output = args.output.resolve()
    if output == args.input.resolve():
        raise user_error(f"{args.output}: is the input; write the scores to another file")
    if output.is_relative_to(Path(args.artifacts_dir).resolve()):
        raise user_error(f"{args.output}: is inside the artifacts folder, which runs own")
    artifacts = ArtifactStore(args.artifacts_dir)
    run, manifest, variant = choose_model(artifacts, args.run, args.variant)
    try:
        spec = recorded_spec(manifest)
    except DataError as exc:
        raise user_error(f"run {run.run_id}: {exc}: see `imbalance verify`") from None
    rows = read_rows(args.input)
    features = checked_features(rows, spec, args.input)
    model_path = run.model(variant)
    problem = artifacts.model_problem(run.run_id, variant)  # the champion check's own
    if problem:
        raise user_error(f"{run.run_id}/{variant}: {problem}: see `imbalance verify`")
    try:
        threshold = recorded_threshold(manifest, variant)
    except (KeyError, TypeError, ValueError):
        raise user_error(f"run {run.run_id} records no threshold for {variant}") from None

    try:
        model = store.load_model(model_path)  # the one place TensorFlow is imported
    except Exception as exc:  # Keras raises many kinds for a file it cannot load
        raise user_error(f"{model_path}: cannot load the model: {first_line(exc)}") from None
    scores = score(model, features, spec)
    calibration = model_calibration(model_path)
    added = {SCORE: scores}
    if calibration is not None:  # between the score and the label
        added[PROBABILITY] = calibration.apply(scores)
    added[PREDICTED] = (scores >= threshold).astype("int8")  # the raw score at the threshold
    out = rows.assign(**added)
    try:  # the input's own columns are written back as they came
        schema = pa.Schema.from_pandas(out, preserve_index=False).remove_metadata()
    except (OverflowError, pa.ArrowException) as exc:
        raise user_error(
            f"{args.input}: a column holds values Parquet cannot store ({first_line(exc)})"
        ) from None
    provenance = {"run_id": run.run_id, "variant": variant, "threshold": threshold}
    if calibration is not None:
        provenance["calibration"] = calibration.method
    try:
        store.write_parquet(args.output, out, schema, provenance | {"input": str(args.input)})
    except OSError as exc:
        raise user_error(f"{args.output}: cannot write it: {first_line(exc)}") from None
    positives = int(out[PREDICTED].sum())
    print(
        f"scored {len(out):,} rows with {run.run_id}/{variant} (threshold {threshold:.4g}): "
        f"{positives:,} labelled 1; "
        + (
            ""
            if calibration is not None
            else f"no {PROBABILITY} (the model has no calibration map); "
        )
        + f"wrote {args.output}"
    )
    return 0


def model_calibration(path: Path):
    """Return the calibration map saved in a model file, or None (a model saved before maps)."""
    from imbalance.selection.calibration import Calibration, CalibrationError

    saved = store.model_metadata(path).get("calibration")
    if saved is None:
        return None
    try:
        return Calibration.from_json(saved)
    except CalibrationError as exc:
        raise user_error(f"{path}: {exc}") from None
