"""The user's table checked, and its DataSpec decided, before anything trains.

`check_table` refuses, with one `DataError` line, a table a run cannot use: no rows,
a label that is missing, has gaps or is not two-valued, a positive value that never
occurs, features missing, with gaps or infinities, of a type no model can read, or a
categorical column with so many values it is probably an id. Columns that look like
ids (a row number, a distinct value on nearly every row: `identifiers.py`) are left
out of the features it chooses, unless the user lists them. Where rows are at fault
the message says how many and where the first one is (file and row, `SourceRead.locate`).

Plain pyarrow/pandas code, not a validation library: pandera (or great_expectations)
is not installed, and would not pay for itself here. The point is one line per
refusal naming the column, the value and the file and row a user can open (such
libraries report in their own multi-line format, by frame index, after converting
to pandas), and speed: each check is one vectorised Arrow kernel over a column of
the table as read (1,000,000 rows x 20 columns in about 0.3 s, see
benchmarks/bench_data.py), with nothing to install.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imbalance.config import RetrainConfig
from imbalance.data.identifiers import Identifier, identifiers
from imbalance.data.sources import SourceRead
from imbalance.data.spec import DataError, DataSpec, Feature, Kind, Scalar, plain

MAX_CATEGORIES = 1000  # a categorical column with more distinct values is refused (an id?)
# The model computes in float32 and standardises with the variance, a square: values
# beyond this would overflow it (float32 ends near 3.4e38).
MAX_MAGNITUDE = 1e18
# Names `imbalance predict` writes into its output: a feature so named could never be scored.
RESERVED = ("score", "predicted_label")
# A text column of which at least this share parses as numbers is a numeric column
# with a typo, not a category.
NUMERIC_SHARE = 0.95
MIN_POSITIVES = 2  # fewer positive rows cannot be split into a training and a test part
_SHOWN = 8  # values or columns a message lists before "..."


def check_table(
    source: SourceRead, cfg: RetrainConfig, left_out: list[Identifier] | None = None
) -> tuple[pd.DataFrame, DataSpec]:
    """Return the feature columns + the label column as a frame, and the run's DataSpec.

    The frame keeps the table's rows in order and its columns' types as read (decimal
    columns become float64); categorical columns are left as they are. Raises
    DataError (one line) if the table cannot support a run. Without `source.features`
    the features are all columns but the label, the time and the id column, less the
    ID-like ones (`identifiers.py`), which are appended to `left_out` if given.
    """
    table = source.table
    where = source.uri
    if table.num_rows == 0:
        raise DataError(f"{where} has no rows")
    columns = table.column_names
    repeated = _repeated(columns)
    if repeated:
        raise DataError(f"{where} has the column {repeated!r} twice; rename one of them")
    label = cfg.source.label
    if label not in columns:
        raise DataError(
            f"the label column {label!r} is not in {where}; its columns are {_listed(columns)}"
        )
    time_column = cfg.source.time_column
    if time_column:
        _check_time(source, time_column)
    id_column = cfg.source.id_column
    if id_column:
        _check_id(source, id_column)
    not_features = {label} | {c for c in (time_column, id_column) if c}
    features = list(cfg.source.features)
    if not features:
        features = [c for c in columns if c not in not_features]
        ids = identifiers(source, features)
        if ids and len(ids) == len(features):
            raise DataError(
                f"{where} has no feature but ID-like column(s) {_listed(features)} "
                f"({ids[0].why}); list the ones to learn from in --features"
            )
        features = [c for c in features if c not in {i.column for i in ids}]
        if left_out is not None:
            left_out.extend(ids)
    missing = [name for name in features if name not in columns]
    if missing:
        raise DataError(
            f"feature column(s) {_listed(missing)} not in {where}; "
            f"its columns are {_listed(columns)}"
        )
    if not features:
        raise DataError(f"{where} has no column but the label {label!r}: no feature to learn from")
    for name in features:
        if not name.strip():
            raise DataError(
                f"{where} has a column without a name (a CSV written with its index?): "
                "name it, or leave it out with --features"
            )
        if name in RESERVED:
            raise DataError(
                f"feature column {name!r} of {where} has a name `imbalance predict` writes: "
                "rename it, or leave it out with --features"
            )
    stray = [name for name in cfg.source.categorical if name not in features]
    if stray:
        what = "is the label" if stray[0] == label else "is not a feature"
        if stray[0] != label and stray[0] not in columns:
            what = f"is not in {where}"
        raise DataError(f"column {stray[0]!r} is declared categorical but {what}")

    positive, negative = _label_values(source, label, cfg.source.positive)
    kinds = {name: _kind(source, name, cfg.source.categorical) for name in features}
    for name, kind in kinds.items():
        if kind == "numeric":
            _check_numeric(source, name)
        else:
            _check_categorical(source, name)

    spec = DataSpec(
        label=label,
        positive=positive,
        negative=negative,
        features=tuple(Feature(name, kinds[name]) for name in features),
        scale=True,
    )
    return _frame(table, [*features, label]), spec


# --- the label ---------------------------------------------------------------------------


def _label_values(source: SourceRead, label: str, wanted: str) -> tuple[Scalar, Scalar]:
    """Return the label's (positive, negative) values, or refuse the label column."""
    column = _decoded(source.table.column(label))
    kind = column.type
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or _is_text(kind)
    ):
        raise DataError(
            f"the label column {label!r} of {source.uri} is of type {kind}; a label must "
            "be text, numbers or booleans"
        )
    gaps = pc.is_null(column, nan_is_null=True)
    if _is_text(kind):  # a CSV's empty cell in a text column is "", not null
        gaps = pc.or_kleene(gaps, pc.equal(pc.utf8_trim_whitespace(column), ""))
    _refuse_rows(source, gaps, f"the label column {label!r} has {{n}} empty value(s)")
    counts = pc.value_counts(column)
    if len(counts) != 2:
        raise DataError(_not_two_valued(source, label, column, counts))
    values = [plain(v) for v in counts.field("values").to_pylist()]
    matches = _matching(values, wanted)
    if len(matches) != 1:
        why = "matches both" if matches else "is none"
        raise DataError(
            f"the positive value {wanted!r} {why} of the values of the label {label!r} "
            f"in {source.uri}: {_listed(values)}; give one of them exactly"
        )
    at = values.index(matches[0])
    positive, negative = values[at], values[1 - at]
    rows = counts.field("counts")[at].as_py()
    if rows < MIN_POSITIVES:
        first = source.locate(pc.index(column, counts.field("values")[at]).as_py())
        raise DataError(
            f"{label} = {positive!r} in only {rows} row(s), the first at {first}; at least "
            f"{MIN_POSITIVES} are needed to split them into a training and a test part"
        )
    return positive, negative


def _not_two_valued(
    source: SourceRead, label: str, column: pa.ChunkedArray, counts: pa.StructArray
) -> str:
    """Return the message for a label of other than two values (the rarest one located)."""
    message = f"the label column {label!r} of {source.uri} has {len(counts)} distinct value(s)"
    if len(counts) == 1:
        return f"{message}, not 2: {plain(counts.field('values')[0].as_py())!r}; nothing to learn"
    values = counts.field("values")
    shown = sorted((plain(v) for v in values[: _SHOWN * 4].to_pylist()), key=str)
    rarest = values[pc.index(counts.field("counts"), pc.min(counts.field("counts"))).as_py()]
    where = source.locate(pc.index(column, rarest).as_py())
    return (
        f"{message}, not 2: {_listed(shown)}; the rarest, {plain(rarest.as_py())!r}, "
        f"first at {where}"
    )


def _matching(values: Sequence[Scalar], wanted: str) -> list[Scalar]:
    """Return the values `wanted` names: exactly as text, else ignoring case, else as numbers."""
    exact = [v for v in values if not isinstance(v, bool) and str(v) == wanted]
    if exact:
        return exact
    folded = wanted.strip().casefold()
    if all(isinstance(v, bool) for v in values):
        truth = {"true": True, "1": True, "false": False, "0": False}.get(folded)
        return [v for v in values if v is truth]
    caseless = [v for v in values if str(v).casefold() == folded]
    if caseless:
        return caseless
    number = _number(wanted)
    if number is None:
        return []
    return [v for v in values if _number(v) == number]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- the time column ---------------------------------------------------------------------


def _check_id(source: SourceRead, name: str) -> None:
    """Refuse an id column that is missing or has empty values (a row without a key)."""
    if name not in source.table.column_names:
        raise DataError(
            f"the id column {name!r} is not in {source.uri}; its columns are "
            f"{_listed(source.table.column_names)}"
        )
    column = _decoded(source.table.column(name))
    _refuse_rows(source, pc.is_null(column), f"the id column {name!r} has {{n}} empty value(s)")


def _check_time(source: SourceRead, name: str) -> None:
    """Refuse a time column that is missing, has gaps or values that are not dates or times."""
    import pandas as pd

    if name not in source.table.column_names:
        raise DataError(
            f"the time column {name!r} is not in {source.uri}; its columns are "
            f"{_listed(source.table.column_names)}"
        )
    column = _decoded(source.table.column(name))
    _refuse_rows(source, pc.is_null(column), f"the time column {name!r} has {{n}} empty value(s)")
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return
    if not _is_text(column.type):
        raise DataError(
            f"the time column {name!r} of {source.uri} is of type {column.type}; it needs "
            "dates or times (e.g. 2026-11-28 or 2026-11-28T02:00:00Z)"
        )
    parsed = times(column)
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = int(bad.nonzero()[0][0])
        text = pd.Series(column.to_pylist()).iloc[first]
        raise DataError(
            f"the time column {name!r} has {int(bad.sum())} value(s) that are not a date or "
            f"time, the first {text!r} at {source.locate(first)}"
        )


def times(column: pa.ChunkedArray | pa.Array):
    """Return a time column as pandas UTC timestamps (unparseable text: NaT)."""
    import pandas as pd

    values = _decoded(column) if isinstance(column, pa.ChunkedArray) else column
    return pd.Series(
        pd.to_datetime(values.to_pandas(), utc=True, errors="coerce", format="ISO8601")
    )


# --- the features ------------------------------------------------------------------------


def _kind(source: SourceRead, name: str, declared: Sequence[str]) -> Kind:
    """Return a feature's kind, or refuse a column no model can read."""
    column = source.table.column(name)
    kind = column.type
    if pa.types.is_null(kind) or column.null_count == len(column):
        raise DataError(f"feature column {name!r} of {source.uri} has no values (all empty)")
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    usable = (
        numeric
        or _is_text(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_dictionary(kind)
        or pa.types.is_date(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_time(kind)
    )
    if not usable:
        raise DataError(
            f"feature column {name!r} of {source.uri} is of type {kind}, which a model cannot "
            "read; leave it out with --features"
        )
    if name in declared:
        return "categorical"
    if not numeric and _is_text(kind):
        _refuse_numbers_with_typos(source, name, column)
    if declared and not numeric:
        raise DataError(
            f"feature column {name!r} of {source.uri} is not numeric ({kind}) but not declared "
            "categorical: add it to --categorical, or leave it out with --features"
        )
    return "numeric" if numeric else "categorical"


def _check_numeric(source: SourceRead, name: str) -> None:
    column = source.table.column(name)
    if pa.types.is_floating(column.type):
        bad = pc.or_kleene(pc.is_null(column, nan_is_null=True), pc.is_inf(column))
    else:
        bad = pc.is_null(column)
    _refuse_rows(
        source,
        bad,
        f"numeric feature column {name!r} has {{n}} empty, NaN or infinite value(s)",
        "; fill or drop those rows, or leave the column out with --features",
    )
    magnitude = pc.abs(pc.cast(column, pa.float64()))
    _refuse_rows(
        source,
        pc.greater(magnitude, MAX_MAGNITUDE),
        f"numeric feature column {name!r} has {{n}} value(s) beyond ±{MAX_MAGNITUDE:g}",
        ", more than the model's float32 arithmetic can standardise; rescale the column",
    )


def _refuse_numbers_with_typos(source: SourceRead, name: str, column: pa.ChunkedArray) -> None:
    """Refuse a text column that is numbers but for a few values: a typo, not a category."""
    import pandas as pd

    text = column.to_pandas()
    present = text.notna() & (text.str.strip() != "")
    parsed = pd.to_numeric(text.where(present), errors="coerce")
    numbers = int(parsed.notna().sum())
    total = int(present.sum())
    if total and numbers < total and numbers >= NUMERIC_SHARE * total:
        first = int((present & parsed.isna()).to_numpy().nonzero()[0][0])
        raise DataError(
            f"feature column {name!r} is numbers but for {total - numbers} value(s), the first "
            f"{text.iloc[first]!r} at {source.locate(first)}; fix those, or declare the column "
            "categorical with --categorical"
        )


def _check_categorical(source: SourceRead, name: str) -> None:
    column = _decoded(source.table.column(name))
    distinct = pc.count_distinct(column, mode="all").as_py()
    if distinct > MAX_CATEGORIES:
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        hint = "or take it out of --categorical" if numeric else "or give it fewer values"
        raise DataError(
            f"categorical column {name!r} of {source.uri} has {distinct} distinct values "
            f"(more than {MAX_CATEGORIES}): likely an id or a timestamp; exclude it with "
            f"--features, {hint}"
        )


# --- helpers -----------------------------------------------------------------------------


def _refuse_rows(source: SourceRead, mask: pa.ChunkedArray, message: str, hint: str = "") -> None:
    """Refuse if `mask` is true on any row: the message gets the count and the first row."""
    count = pc.sum(mask).as_py() or 0
    if count:
        first = pc.index(mask, True).as_py()
        raise DataError(message.format(n=count) + f", the first at {source.locate(first)}" + hint)


def _frame(table: pa.Table, columns: list[str]) -> pd.DataFrame:
    """Return `columns` of `table` as a pandas frame (decimals as float64, the rest as read)."""
    picked = table.select(columns)
    for i, field in enumerate(picked.schema):
        if pa.types.is_decimal(field.type):
            picked = picked.set_column(i, field.name, pc.cast(picked.column(i), pa.float64()))
    return picked.to_pandas()


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return a dictionary-encoded column as its plain values (others as they are)."""
    kind = column.type
    return column.cast(kind.value_type) if pa.types.is_dictionary(kind) else column


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()


def _repeated(names: Sequence[str]) -> str | None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _listed(values: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    return shown + (f", ... ({len(values)} in all)" if len(values) > _SHOWN else "")
