"""ID-like columns: left out of the features when the user did not choose them.

A row number or a customer id is a column of the table but not a property of the row
a model could learn from: a model fitted on it learns which ids were positive in this
file, which says nothing about the next one. `check_table` leaves such columns out of
the features it chooses itself (`source.features` empty) and the read task logs one
warning line for each (`message`); a column the user lists in `source.features`
(`--features`) is never questioned. The manifest's data record keeps which were left
out and why (`left_out`).

A candidate column is ID-like, in a table of at least `MIN_ROWS` rows, if it is

- **a row number**: integers (or floats that are all whole numbers) with no empty value,
  strictly increasing row after row within each file. Any count or measurement has
  ties or goes down somewhere in `MIN_ROWS` rows (a random one is increasing with
  chance 1/n!); what increases on every row is a counter: a row number, an
  auto-increment key, or a time as a number (not a feature either: `source.time_column`).
- **distinct on nearly every row**: integers or text (categorical) with a distinct
  value on at least `DISTINCT_SHARE` of the rows. 99% rather than 100% also catches
  keys with a few repeats (a customer twice); a category, a code or a count repeats far
  more often than that. Float columns are never judged so: a measurement in floats
  (an amount, a ratio) is distinct on nearly every row and is often the best feature there is.
  An integer measurement spread over ~50x more values than there are rows (an amount
  in cents) is distinct on 99% of rows too and is left out: the warning says so, and
  listing the features keeps it.

`MIN_ROWS`: in a small table (a sample, a test) a column of 20 counts from a wide
range is all distinct, or in order, by chance; with 100 rows and more, an integer
range has to be ~5,000 wide to be 99% distinct by chance and increasing is
practically impossible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from imbalance.data.sources import SourceRead

MIN_ROWS = 100  # smaller tables: no column is judged ID-like
DISTINCT_SHARE = 0.99  # share of rows with a distinct value that makes a column ID-like

ROW_NUMBER = "its values increase on every row: a row number"


@dataclass(frozen=True)
class Identifier:
    """A column left out of the features as ID-like, and why (see the module's rules)."""

    column: str
    why: str

    def message(self) -> str:
        """Return the one warning line: the column, why, and how to keep it."""
        return (
            f"column {self.column!r} looks like an ID ({self.why}): left out of the features; "
            "to keep it, list it with the others in --features (source.features)"
        )

    def to_json(self) -> dict[str, str]:
        return {"column": self.column, "why": self.why}


def identifiers(source: SourceRead, candidates: Sequence[str]) -> list[Identifier]:
    """Return the ID-like columns among `candidates` (in their order), with why each is."""
    table = source.table
    if table.num_rows < MIN_ROWS:
        return []
    found = []
    for name in candidates:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        why = _why(source, column)
        if why:
            found.append(Identifier(name, why))
    return found


def _why(source: SourceRead, column: pa.ChunkedArray) -> str | None:
    kind = column.type
    integer = pa.types.is_integer(kind)
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()
    if (integer or pa.types.is_floating(kind)) and _row_number(source, column):
        return ROW_NUMBER
    if integer or text:
        rows = len(column)
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
        if distinct >= DISTINCT_SHARE * rows:
            share = "every row" if distinct == rows else f"{distinct / rows:.1%} of the rows"
            return f"a distinct value on {share}"
    return None


def _row_number(source: SourceRead, column: pa.ChunkedArray) -> bool:
    """Whether the column is whole numbers, without a gap, increasing on every row of each file."""
    if column.null_count:
        return False
    values = column.to_numpy()
    if values.dtype.kind == "f" and not (
        np.isfinite(values).all() and (values == np.round(values)).all()
    ):
        return False
    steps = values[1:] > values[:-1]  # not np.diff: unsigned integers would wrap around
    # A file's first row may start again (a row number per file): not compared with the last.
    starts = np.cumsum([f.rows for f in source.files])[:-1]
    steps[starts[(starts > 0) & (starts < len(values))] - 1] = True
    return bool(steps.all())
