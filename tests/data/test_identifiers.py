"""ID-like columns: left out of the features chosen by check_table, one warning each."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imbalance.config import RetrainConfig
from imbalance.data.checks import check_table
from imbalance.data.identifiers import MIN_ROWS, Identifier
from imbalance.data.sources import SourceFile, SourceRead
from imbalance.data.spec import DataError, Feature
from tasks.data import read_dataset

ROWS = 500


def cfg(**fields) -> RetrainConfig:
    return RetrainConfig(
        source={"path": "customers.parquet", "label": "churned", "positive": "Yes", **fields}
    )


def with_ids(make_table, rows: int = ROWS) -> pa.Table:
    """The realistic table with a row number first and a text customer id."""
    table = make_table(rows)
    table = table.add_column(0, "row_id", pa.array(np.arange(1, rows + 1), pa.int64()))
    ids = [f"C{n:06d}" for n in np.random.default_rng(1).permutation(10 * rows)[:rows]]
    return table.append_column("customer", pa.array(ids))


def in_memory(table: pa.Table, files: tuple[int, ...] | None = None) -> SourceRead:
    parts = files or (table.num_rows,)
    listed = tuple(SourceFile(f"part-{i}.parquet", n) for i, n in enumerate(parts))
    return SourceRead(table, "mem", listed, "0" * 64)


def test_a_row_number_and_a_text_id_are_left_out_with_one_warning_each(make_table):
    left_out: list[Identifier] = []
    frame, spec = check_table(in_memory(with_ids(make_table)), cfg(), left_out)

    assert spec.feature_names == ["balance", "monthly_spend", "visits", "age", "region"]
    assert list(frame.columns) == [*spec.feature_names, "churned"]
    assert [i.column for i in left_out] == ["row_id", "customer"]
    assert [i.message() for i in left_out] == [
        "column 'row_id' looks like an ID (its values increase on every row: a row number): "
        "left out of the features; to keep it, list it with the others in --features "
        "(source.features)",
        "column 'customer' looks like an ID (a distinct value on every row): left out of the "
        "features; to keep it, list it with the others in --features (source.features)",
    ]


def test_nearly_distinct_and_per_file_row_numbers_are_ids(make_table):
    table = make_table(ROWS)
    keys = np.arange(ROWS)
    keys[:3] = 0  # a key repeated (three rows of 0): 498 distinct in 500 rows
    table = table.append_column("account", pa.array(keys.astype(np.int32)))
    # a row number that starts again in each file, in whole-number floats
    table = table.append_column("line", pa.array(np.r_[np.arange(200), np.arange(300)] * 1.0))
    left_out: list[Identifier] = []
    check_table(in_memory(table, files=(200, 300)), cfg(), left_out)

    assert [(i.column, i.why) for i in left_out] == [
        ("account", "a distinct value on 99.6% of the rows"),
        ("line", "its values increase on every row: a row number"),
    ]


def test_measurements_and_categories_are_kept(make_table):
    table = make_table(ROWS)  # floats distinct on every row, a 5-valued region, counts
    assert len(set(table.column("balance").to_pylist())) == ROWS
    table = table.append_column("ratio", pa.array(np.sort(np.random.default_rng(2).random(ROWS))))
    table = table.append_column("plan", pa.array(np.arange(ROWS) % 7))
    left_out: list[Identifier] = []
    _, spec = check_table(in_memory(table), cfg(), left_out)

    assert left_out == []
    assert "ratio" in spec.feature_names and "region" in spec.feature_names
    assert Feature("plan", "numeric") in spec.features


def test_a_small_table_is_not_judged(make_table):
    left_out: list[Identifier] = []
    _, spec = check_table(in_memory(with_ids(make_table, MIN_ROWS - 1)), cfg(), left_out)
    assert left_out == [] and spec.feature_names[0] == "row_id"


def test_listed_features_keep_an_id_without_a_warning(make_table):
    left_out: list[Identifier] = []
    _, spec = check_table(
        in_memory(with_ids(make_table)), cfg(features=["row_id", "balance"]), left_out
    )
    assert spec.feature_names == ["row_id", "balance"] and left_out == []


def test_a_table_of_ids_only_is_refused_in_one_line(make_table):
    table = with_ids(make_table).select(["row_id", "customer", "churned"])
    with pytest.raises(DataError) as error:
        check_table(in_memory(table), cfg())
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        "mem has no feature but ID-like column(s) 'row_id', 'customer' (its values increase "
        "on every row: a row number); list the ones to learn from in --features"
    )


def test_the_read_task_logs_and_records_them(tmp_path, make_table, caplog):
    pq.write_table(with_ids(make_table), tmp_path / "customers.parquet")
    source = cfg(path=str(tmp_path / "customers.parquet"))
    with caplog.at_level(logging.WARNING, logger="imbalance.data"):
        dataset = read_dataset.fn(source, datetime(2026, 12, 4, tzinfo=UTC))

    assert dataset.provenance["left_out"] == [
        {"column": "row_id", "why": "its values increase on every row: a row number"},
        {"column": "customer", "why": "a distinct value on every row"},
    ]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and warned[0].startswith("column 'row_id' looks like an ID")
    assert "row_id" not in dataset.spec.feature_names
