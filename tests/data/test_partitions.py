"""Windows of date partitions: the day arithmetic, the paths refused, and read_source with one."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from test_sources import assert_one_line as one_line  # tests/data/test_sources.py

from imbalance.data.partitions import Window, partition_date, select
from imbalance.data.sources import read_source
from imbalance.data.spec import DataError


def days(*isos: str) -> list[date]:
    return [date.fromisoformat(d) for d in isos]


# --- the window --------------------------------------------------------------------------


def test_a_window_holds_as_of_and_the_days_before_it_not_the_start():
    w = Window(date(2026, 11, 28), 3)
    assert (w.start, w.end) == (date(2026, 11, 25), date(2026, 11, 28))
    assert str(w) == "(2026-11-25, 2026-11-28]"
    inside = days("2026-11-26", "2026-11-27", "2026-11-28")
    outside = days("2026-11-24", "2026-11-25", "2026-11-29")
    assert all(w.contains(d) for d in inside)
    assert not any(w.contains(d) for d in outside)


@pytest.mark.parametrize(
    ("as_of", "n", "inside", "outside"),
    [
        ("2026-11-28", 1, ["2026-11-28"], ["2026-11-27", "2026-11-29"]),
        ("2026-03-01", 2, ["2026-02-28", "2026-03-01"], ["2026-02-27", "2026-03-02"]),
        ("2027-01-01", 2, ["2026-12-31", "2027-01-01"], ["2026-12-30", "2027-01-02"]),
        ("2028-03-01", 2, ["2028-02-29", "2028-03-01"], ["2028-02-28"]),
        ("2028-02-29", 1, ["2028-02-29"], ["2028-02-28", "2028-03-01"]),
        ("2028-12-31", 366, ["2028-01-01", "2028-02-29"], ["2027-12-31"]),
    ],
    ids=["one day", "month", "year", "leap day in", "leap day as of", "leap year"],
)
def test_window_boundaries(as_of, n, inside, outside):
    w = Window(date.fromisoformat(as_of), n)
    assert [d for d in days(*inside) if not w.contains(d)] == []
    assert [d for d in days(*outside) if w.contains(d)] == []


def test_a_datetime_as_of_counts_as_its_day():
    w = Window(datetime(2026, 3, 1, 23, 59), 2)
    assert w.as_of == date(2026, 3, 1) and w.contains(date(2026, 2, 28))


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_a_window_of_no_days_is_refused(n):
    with pytest.raises(DataError) as exc:
        Window(date(2026, 11, 28), n)
    one_line(exc, "window_days", repr(n))


# --- a path's date -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("date=2026-11-28/part-0.parquet", date(2026, 11, 28)),
        ("dt=2028-02-29/part-0.csv", date(2028, 2, 29)),
        ("date=2026-11-28/hour=03/sub/part-0.parquet", date(2026, 11, 28)),
        ("region=north/day=2026-01-31/part-0.parquet", date(2026, 1, 31)),
        ("day=2026-01-31/date=2026-02-01/part-0.parquet", date(2026, 1, 31)),  # the first
        ("part-0.parquet", None),
        ("region=north/part-0.parquet", None),
        ("2026-11-28/part-0.parquet", None),  # no key: not hive-style
        ("date=2026-11/part-0.parquet", None),  # a month, not a day
        ("date=2026-11-28.parquet", None),  # a file's name is no folder
    ],
)
def test_partition_date(path, expected):
    assert partition_date(path) == expected


@pytest.mark.parametrize(
    "folder",
    [
        "date=2026-02-30",
        "date=2027-02-29",  # not a leap year
        "date=2026-13-01",
        "date=2026-1-5",
        "date=2026-11-28T00:00:00",
        "date=2026-11-28 00:00:00",
    ],
)
def test_a_folder_that_looks_like_a_date_but_is_none_is_named(folder):
    path = f"{folder}/part-0.parquet"
    with pytest.raises(DataError) as exc:
        partition_date(path)
    one_line(exc, path, "YYYY-MM-DD")


# --- selecting files ---------------------------------------------------------------------


PATHS = [
    "date=2026-11-26/part-0.parquet",
    "date=2026-11-27/part-0.parquet",
    "date=2026-11-27/part-1.parquet",
    "date=2026-11-28/nested/deeper/part-0.parquet",
    "date=2026-11-29/part-0.parquet",
]


def test_select_keeps_the_window_in_order_and_its_dates():
    chosen, dates = select(PATHS, Window(date(2026, 11, 28), 2))
    assert chosen == tuple(PATHS[1:4])
    assert dates == (date(2026, 11, 27), date(2026, 11, 28))
    assert select(reversed(PATHS), Window(date(2026, 11, 28), 2))[1] == dates


def test_a_file_without_a_partition_is_named():
    with pytest.raises(DataError) as exc:
        select([*PATHS, "loose.parquet"], Window(date(2026, 11, 28), 2), source="s3://b/events")
    one_line(exc, "s3://b/events/loose.parquet has no date partition", "window_days")


def test_no_partition_in_the_window_names_the_window_and_what_there_is():
    with pytest.raises(DataError) as exc:
        select(PATHS, Window(date(2026, 12, 10), 7), source="/data/events")
    one_line(exc, "/data/events", "(2026-12-03, 2026-12-10]", "4 date", "2026-11-26", "2026-11-29")
    with pytest.raises(DataError) as exc:
        select(PATHS, Window(date(2026, 11, 25), 30))  # the 26th is the day after as_of
    one_line(exc, "(2026-10-26, 2026-11-25]")


# --- read_source with a window -----------------------------------------------------------


def write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        pcsv.write_csv(table, path)
    else:
        pq.write_table(table, path)


def three_days(root: Path, suffix: str) -> pa.Table:
    """Days 2026-02-27 to 2026-03-01, 10 rows each; `day` tells which partition a row is."""
    table = pa.table({"x": list(range(30)), "day": [27] * 10 + [28] * 10 + [1] * 10})
    write(table.slice(0, 10), root / f"date=2026-02-27/part-0{suffix}")
    write(table.slice(10, 4), root / f"date=2026-02-28/part-0{suffix}")
    write(table.slice(14, 6), root / f"date=2026-02-28/late/part-1{suffix}")
    write(table.slice(20, 10), root / f"date=2026-03-01/part-0{suffix}")
    (root / "_SUCCESS").write_bytes(b"")
    return table


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_source_reads_the_window_only(tmp_path, suffix):
    root = tmp_path / "events"
    three_days(root, suffix)
    window = Window(date(2026, 3, 1), 2)

    source = read_source(str(root), window=window)

    assert source.table.column("day").to_pylist() == [28] * 10 + [1] * 10
    assert source.table.column_names == ["x", "day"]  # no `date` column from the folders
    assert [Path(f.path).relative_to(root).as_posix() for f in source.files] == [
        f"date=2026-02-28/late/part-1{suffix}",
        f"date=2026-02-28/part-0{suffix}",
        f"date=2026-03-01/part-0{suffix}",
    ]
    assert source.partitions == ("2026-02-28", "2026-03-01")
    assert source.window == "(2026-02-27, 2026-03-01]"
    assert read_source(str(root), window=Window(date(2026, 3, 1), 1)).table.num_rows == 10
    whole = read_source(str(root))
    assert (whole.table.num_rows, whole.partitions, whole.window) == (30, (), "")


def test_the_fingerprint_covers_the_window_only(tmp_path):
    root = tmp_path / "events"
    table = three_days(root, ".parquet")
    window = Window(date(2026, 3, 1), 2)
    before = read_source(str(root), window=window).sha256

    write(table.slice(0, 3), root / "date=2026-02-26/part-0.parquet")  # before the window
    write(table.slice(0, 3), root / "date=2026-02-27/part-9.parquet")  # the excluded start
    write(table.slice(0, 3), root / "date=2026-03-02/part-0.parquet")  # tomorrow's, early
    assert read_source(str(root), window=window).sha256 == before
    assert read_source(f"{root}/date=*/**/*.parquet", window=window).sha256 == before

    write(table.slice(20, 9), root / "date=2026-03-01/part-0.parquet")  # a day rewritten
    assert read_source(str(root), window=window).sha256 != before


def test_a_partition_arriving_in_the_window_changes_the_fingerprint(tmp_path):
    root = tmp_path / "events"
    table = three_days(root, ".csv")
    later = Window(date(2026, 3, 2), 3)
    before = read_source(str(root), window=later)
    write(table.slice(0, 5), root / "date=2026-03-02/part-0.csv")
    after = read_source(str(root), window=later)
    assert after.sha256 != before.sha256
    assert after.partitions == ("2026-02-28", "2026-03-01", "2026-03-02")
    assert after.table.num_rows == before.table.num_rows + 5


def test_read_source_with_a_window_refuses_what_it_cannot_window(tmp_path):
    root = tmp_path / "events"
    three_days(root, ".parquet")
    write(pa.table({"x": [1], "day": [0]}), root / "stray.parquet")
    with pytest.raises(DataError) as exc:
        read_source(str(root), window=Window(date(2026, 3, 1), 2))
    one_line(exc, f"{root}/stray.parquet has no date partition")

    (root / "stray.parquet").unlink()
    write(pa.table({"x": [1], "day": [0]}), root / "date=2026-02-30/part-0.parquet")
    with pytest.raises(DataError) as exc:
        read_source(str(root), window=Window(date(2026, 3, 1), 2))
    one_line(exc, f"{root}/date=2026-02-30/part-0.parquet", "'2026-02-30' is not a real date")

    with pytest.raises(DataError) as exc:
        read_source(
            str(root / "date=2026-03-01/part-0.parquet"), window=Window(date(2026, 3, 1), 2)
        )
    one_line(
        exc, "source.window_days needs a folder of date partitions, got a file", "part-0.parquet"
    )


def test_a_partition_linked_in_from_elsewhere_is_read_and_a_loop_read_once(tmp_path):
    elsewhere = tmp_path / "archive"
    three_days(elsewhere, ".parquet")
    root = tmp_path / "events"
    root.mkdir()
    for day in ("2026-02-28", "2026-03-01"):
        (root / f"date={day}").symlink_to(elsewhere / f"date={day}", target_is_directory=True)
    (root / "date=2026-03-01" / "loop").symlink_to(root, target_is_directory=True)
    source = read_source(str(root), window=Window(date(2026, 3, 1), 2))
    assert source.table.column("day").to_pylist() == [28] * 10 + [1] * 10
    (root / "date=2026-03-01" / "loop").unlink()


def test_a_window_of_empty_partitions_says_so(tmp_path):
    from imbalance.config import RetrainConfig
    from imbalance.data.snapshot import from_source

    root = tmp_path / "events"
    three_days(root, ".parquet")
    empty = pa.table({"x": pa.array([], pa.int64()), "day": pa.array([], pa.int64())})
    write(empty, root / "date=2026-03-02/part-0.parquet")
    cfg = RetrainConfig(
        source={"path": str(root), "label": "day", "window_days": 1},
        nightly={"as_of": "2026-03-02"},
    )
    with pytest.raises(DataError) as exc:
        from_source(cfg, cfg.as_of_time())
    one_line(exc, "the window (2026-03-01, 2026-03-02] of", "holds no rows", "2026-03-02")
