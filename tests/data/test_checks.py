"""check_table: the DataSpec of a good table, and one line naming column, file and row else."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from imbalance.config import RetrainConfig
from imbalance.data.checks import MAX_CATEGORIES, check_table
from imbalance.data.sources import SourceFile, SourceRead, read_source
from imbalance.data.spec import DataError, Feature


def cfg(**fields) -> RetrainConfig:
    """Return a config of customers.csv with these fields of its data section."""
    return RetrainConfig(
        source={"path": "customers.csv", "label": "churned", "positive": "Yes", **fields}
    )


def csv_source(tmp_path: Path, table: pa.Table | str, name: str = "customers.csv") -> SourceRead:
    path = tmp_path / name
    if isinstance(table, str):
        path.write_text(table)
    else:
        pcsv.write_csv(table, path)
    return read_source(str(path))


def parquet_source(tmp_path: Path, table: pa.Table) -> SourceRead:
    pq.write_table(table, tmp_path / "customers.parquet")
    return read_source(str(tmp_path / "customers.parquet"))


def in_memory(table: pa.Table) -> SourceRead:
    """A source no file format could hold (duplicate names): a table as if read from one file."""
    return SourceRead(table, "mem.parquet", (SourceFile("mem.parquet", table.num_rows),), "0" * 64)


# --- what a good table gives -------------------------------------------------------------


def test_a_realistic_table(tmp_path, make_table):
    table = make_table(2000)
    frame, spec = check_table(csv_source(tmp_path, table), cfg())

    assert list(frame.columns) == table.column_names  # features in table order, then label
    assert len(frame) == 2000
    assert frame["balance"].tolist() == table.column("balance").to_pylist()
    assert frame["visits"].dtype == np.int64 and frame["balance"].dtype == np.float64
    assert spec.label == "churned" and spec.scale is True
    assert (spec.positive, spec.negative) == ("Yes", "No")
    assert spec.features == (
        Feature("balance", "numeric"),
        Feature("monthly_spend", "numeric"),
        Feature("visits", "numeric"),
        Feature("age", "numeric"),
        Feature("region", "categorical"),
    )
    assert spec.target(frame).sum() == np.sum(np.array(table.column("churned")) == "Yes")


def test_chosen_features_and_declared_categories(tmp_path, make_table):
    source = csv_source(tmp_path, make_table(500))
    frame, spec = check_table(
        source, cfg(features=["visits", "balance", "region"], categorical=["visits", "region"])
    )
    assert list(frame.columns) == ["visits", "balance", "region", "churned"]
    assert spec.features == (
        Feature("visits", "categorical"),  # a number, one-hot encoded because declared
        Feature("balance", "numeric"),
        Feature("region", "categorical"),
    )


def test_types_and_their_default_kinds(tmp_path):
    n = 6
    table = pa.table(
        {
            "amount": pa.array([decimal.Decimal("10.50")] * n, pa.decimal128(9, 2)),
            "flag": [True, False] * 3,
            "day": [dt.date(2024, 1, d + 1) for d in range(n)],
            "seen": pa.array([dt.datetime(2024, 1, 1, h) for h in range(n)], pa.timestamp("s")),
            "tier": pa.array(["a", "b", "a", "b", None, "a"]).dictionary_encode(),
            "churned": [1, 0, 0, 1, 0, 0],
        }
    )
    frame, spec = check_table(parquet_source(tmp_path, table), cfg(positive="1"))
    kinds = {f.name: f.kind for f in spec.features}
    assert kinds == {
        "amount": "numeric",
        "flag": "categorical",
        "day": "categorical",
        "seen": "categorical",
        "tier": "categorical",
    }
    assert frame["amount"].dtype == np.float64  # a decimal, as the model can read it
    assert spec.positive == 1 and type(spec.positive) is int and spec.negative == 0


@pytest.mark.parametrize(
    ("labels", "given", "positive", "negative"),
    [
        (["Yes", "No"], "Yes", "Yes", "No"),
        (["Yes", "No"], "yes", "Yes", "No"),
        (["fraud", "ok"], "FRAUD", "fraud", "ok"),
        ([1, 0], "1", 1, 0),
        ([1, 0], "1.0", 1, 0),
        ([1.0, 0.0], "1", 1.0, 0.0),
        ([2, 7], "7", 7, 2),
        ([True, False], "true", True, False),
        ([True, False], "True", True, False),
        ([True, False], "1", True, False),
        ([True, False], "0", False, True),
        (["1", "0"], "1", "1", "0"),
    ],
)
def test_the_positive_value_as_given(labels, given, positive, negative):
    n = 10
    column = pa.array([labels[0]] * 3 + [labels[1]] * (n - 3))
    table = pa.table({"x": np.arange(n, dtype=np.float64), "churned": column})
    _, spec = check_table(in_memory(table), cfg(positive=given))
    assert (spec.positive, spec.negative) == (positive, negative)
    assert type(spec.positive) is type(positive) and type(spec.negative) is type(negative)


# --- what is refused ---------------------------------------------------------------------

HEADER = "balance,visits,region,churned\n"


def rows(*lines: str, good: int = 6) -> str:
    """A small CSV: `good` plain rows (two of them Yes), then `lines`."""
    plain = [f"{1.5e4 + i},{i},north,{'Yes' if i < 2 else 'No'}" for i in range(good)]
    return HEADER + "\n".join(plain + list(lines)) + "\n"


def many_ids(n: int) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "balance": np.linspace(1e3, 5e4, n),
            "churned": ["Yes" if i % 30 == 0 else "No" for i in range(n)],
        }
    )


# name: (csv text or table, config fields, the texts the message must name)
REFUSALS = {
    "no rows": (HEADER, {}, ["customers.csv has no rows"]),
    "label missing": (
        rows(),
        {"label": "left"},
        ["label column 'left' is not in", "'balance', 'visits', 'region', 'churned'"],
    ),
    "label with gaps": (
        rows("1.0,3,south,", "2.0,4,south,"),
        {},
        ["label column 'churned' has 2 empty", "customers.csv row 7 (line 8)"],
    ),
    "label with nulls": (
        pa.table({"x": [1.0, 2.0, 3.0, 4.0], "churned": ["Yes", None, "No", "Yes"]}),
        {},
        ["label column 'churned' has 1 empty", "customers.parquet row 2"],
    ),
    "label with three values": (
        rows("1.0,3,south,Maybe"),
        {},
        [
            "'churned' of",
            "has 3 distinct value(s), not 2: 'Maybe', 'No', 'Yes'",
            "the rarest, 'Maybe', first at",
            "customers.csv row 7 (line 8)",
        ],
    ),
    "label with one value": (
        HEADER + "1.0,1,north,No\n2.0,2,north,No\n",
        {},
        ["'churned' of", "customers.csv has 1 distinct value(s), not 2: 'No'"],
    ),
    "positive never occurs": (
        rows(),
        {"positive": "Churned"},
        ["positive value 'Churned' is none of", "label 'churned'", "'Yes', 'No'"],
    ),
    "one positive row": (
        rows(good=6).replace("15001.0,1,north,Yes", "15001.0,1,north,No"),
        {},
        ["churned = 'Yes' in only 1 row(s)", "customers.csv row 1 (line 2)", "at least 2"],
    ),
    "feature missing": (
        rows(),
        {"features": ["balance", "income"]},
        ["feature column(s) 'income' not in", "customers.csv"],
    ),
    "numeric NaN": (
        rows("NaN,3,south,No", "nan,3,south,No"),
        {},
        ["'balance' has 2 empty, NaN or infinite", "customers.csv row 7 (line 8)", "--features"],
    ),
    "numeric inf": (
        rows("inf,3,south,No"),
        {},
        ["'balance' has 1 empty, NaN or infinite", "row 7 (line 8)"],
    ),
    "integer gap": (
        rows("1.0,,south,No"),
        {},
        ["'visits' has 1 empty, NaN or infinite", "row 7 (line 8)"],
    ),
    "text not declared categorical": (
        rows(),
        {"categorical": ["visits"]},
        ["'region'", "not numeric", "not declared categorical", "--categorical"],
    ),
    "categorical is the label": (
        rows(),
        {"categorical": ["churned"]},
        ["'churned' is declared categorical but is the label"],
    ),
    "categorical not in the data": (
        rows(),
        {"categorical": ["segment"]},
        ["'segment' is declared categorical but is not in", "customers.csv"],
    ),
    "too many categories": (  # listed: a column not listed would be left out as ID-like
        many_ids(MAX_CATEGORIES + 200),
        {"features": ["customer_id", "balance"]},
        ["'customer_id'", "1200 distinct values", "more than 1000", "--features"],
    ),
    "an all-empty column": (
        HEADER.replace("region", "notes") + "1.0,1,,Yes\n2.0,2,,Yes\n3.0,3,,No\n",
        {},
        ["'notes'", "has no values"],
    ),
    "a nested column": (
        pa.table({"tags": [[1, 2], [3], [4], [5]], "churned": ["Yes", "Yes", "No", "No"]}),
        {},
        ["'tags'", "of type list<", "--features"],
    ),
    "beyond float32's reach": (
        rows("1e300,3,south,No"),
        {},
        ["'balance' has 1 value(s) beyond ±1e+18", "row 7 (line 8)", "rescale"],
    ),
    "a typo in a numeric column": (
        rows(*[f"{2e4 + i},{i},south,No" for i in range(30)], "2.5e4,12a,south,No"),
        {},
        ["'visits' is numbers but for 1 value(s)", "'12a' at", "row 37 (line 38)"],
    ),
    "a column without a name": (
        ",".join(["", HEADER]).rstrip("\n")
        + "\n"
        + "\n".join(f"{i},{line}" for i, line in enumerate(rows().splitlines()[1:]))
        + "\n",
        {},
        ["a column without a name", "index"],
    ),
    "a feature named as predict's output": (
        rows().replace("visits", "score"),
        {},
        ["'score'", "`imbalance predict` writes"],
    ),
    "a label of dates": (
        pa.table({"x": [1.0, 2.0], "churned": [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]}),
        {},
        ["label column 'churned' of", "customers.parquet is of type date32"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_refusals_are_one_line(tmp_path, case):
    data, fields, named = REFUSALS[case]
    source = (
        csv_source(tmp_path, data)
        if isinstance(data, str) or "customer_id" in data.column_names
        else parquet_source(tmp_path, data)
    )
    with pytest.raises(DataError) as exc:
        check_table(source, cfg(**fields))
    message = str(exc.value)
    assert message and "\n" not in message, message
    for text in named:
        assert text in message, f"{text!r} not in {message!r}"


def test_duplicate_columns_are_refused():
    table = pa.Table.from_arrays(
        [pa.array([1.0, 2.0, 3.0, 4.0]), pa.array([1, 2, 3, 4]), pa.array(["Y", "Y", "N", "N"])],
        names=["x", "x", "churned"],
    )
    with pytest.raises(DataError, match=r"^mem\.parquet has the column 'x' twice"):
        check_table(in_memory(table), cfg(positive="Y"))


def test_a_bad_row_in_a_later_file_is_named(tmp_path, make_table):
    table = make_table(600)
    for i in range(3):
        pcsv.write_csv(table.slice(200 * i, 200), tmp_path / f"part-{i}.csv")
    text = (tmp_path / "part-2.csv").read_text().splitlines()
    cells = text[17].split(",")
    cells[0] = "inf"  # balance of part-2's row 17 (line 18)
    text[17] = ",".join(cells)
    (tmp_path / "part-2.csv").write_text("\n".join(text) + "\n")

    with pytest.raises(DataError) as exc:
        check_table(read_source(str(tmp_path)), cfg())
    assert f"{tmp_path}/part-2.csv row 17 (line 18)" in str(exc.value)
    assert "'balance' has 1 empty, NaN or infinite" in str(exc.value)


# --- the time column ---------------------------------------------------------------------


def test_the_time_column_is_checked_and_never_a_feature(tmp_path, make_table):
    table = make_table(50).append_column("day", pa.array(["2026-11-28"] * 50))
    _, spec = check_table(csv_source(tmp_path, table), cfg(time_column="day"))
    assert "day" not in spec.feature_names


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["2026-11-28", "soon"],
            r"'day' has 1 value\(s\) that are not a date or time, the first "
            r"'soon' at .*customers.csv row 2 \(line 3\)",
        ),
        (["2026-11-28", None], r"'day' has 1 empty value\(s\), the first at .*row 2"),
    ],
)
def test_a_bad_time_is_named_with_its_row(tmp_path, make_table, values, message):
    table = make_table(2).append_column("day", pa.array(values, pa.string()))
    with pytest.raises(DataError, match=message):
        check_table(csv_source(tmp_path, table), cfg(time_column="day"))


def test_a_missing_time_column_is_named(tmp_path, make_table):
    with pytest.raises(DataError, match="the time column 'day' is not in"):
        check_table(csv_source(tmp_path, make_table(20)), cfg(time_column="day"))


def test_a_numeric_time_column_is_refused(tmp_path, make_table):
    with pytest.raises(DataError, match="the time column 'age' .* needs dates or times"):
        check_table(parquet_source(tmp_path, make_table(20)), cfg(time_column="age"))
