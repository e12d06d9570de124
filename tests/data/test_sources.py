"""read_source: files, folders, globs and URLs read back whole; every user mistake one line."""

from __future__ import annotations

import os
import socket
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from imbalance.data.filesystem import mask_uri
from imbalance.data.partitions import Window
from imbalance.data.sources import read_source
from imbalance.data.spec import DataError


def write_csv(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(table, path)
    return path


def write_parquet(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def assert_one_line(exc: pytest.ExceptionInfo, *named: str) -> str:
    message = str(exc.value)
    assert "\n" not in message and message, message
    for text in named:
        assert text in message, f"{text!r} not in {message!r}"
    return message


# --- what is read ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".pq", ".csv"])
def test_one_file_is_read_whole(tmp_path, make_table, suffix):
    table = make_table(1500)
    path = tmp_path / f"customers{suffix}"
    (write_csv if suffix == ".csv" else write_parquet)(table, path)

    source = read_source(str(path))

    assert source.table.num_rows == 1500
    assert source.table.column_names == table.column_names
    assert source.table.column("balance").to_pylist() == table.column("balance").to_pylist()
    assert source.table.column("churned").to_pylist() == table.column("churned").to_pylist()
    assert source.uri == str(path)
    assert [(f.path, f.rows) for f in source.files] == [(str(path), 1500)]
    assert len(source.sha256) == 64
    assert read_source(str(path)).sha256 == source.sha256  # stable
    line = " (line 18)" if suffix == ".csv" else ""
    assert source.locate(16) == f"{path} row 17{line}"


def test_csv_numbers_keep_their_types(tmp_path, make_table):
    path = write_csv(make_table(300), tmp_path / "x.csv")
    schema = read_source(str(path)).table.schema
    assert schema.field("balance").type == pa.float64()
    assert schema.field("visits").type == pa.int64()
    assert pa.types.is_string(schema.field("region").type)


def test_a_folder_of_hive_parts_is_read_in_sorted_order(tmp_path, make_table):
    table = make_table(3000)
    root = tmp_path / "parts"
    pieces = {
        "region=north/part-0.parquet": table.slice(0, 1000),
        "region=south/part-0.parquet": table.slice(1000, 1200),
        "region=south/part-1.parquet": table.slice(2200, 800),
    }
    for name, piece in reversed(pieces.items()):  # written out of order on purpose
        write_parquet(piece, root / name)
    (root / "_SUCCESS").write_bytes(b"")
    (root / "region=north" / ".part-0.parquet.crc").write_bytes(b"crc")
    write_parquet(table.slice(0, 5), root / "_delta_log" / "old.parquet")

    source = read_source(str(root))

    assert source.table.num_rows == 3000
    assert source.table.column("balance").to_pylist() == table.column("balance").to_pylist()
    assert [Path(f.path).relative_to(root).as_posix() for f in source.files] == list(pieces)
    assert [f.rows for f in source.files] == [1000, 1200, 800]
    assert source.locate(0) == f"{root}/region=north/part-0.parquet row 1"
    assert source.locate(1000) == f"{root}/region=south/part-0.parquet row 1"
    assert source.locate(2999) == f"{root}/region=south/part-1.parquet row 800"
    with pytest.raises(IndexError):
        source.locate(3000)


def test_a_glob_and_a_file_url(tmp_path, make_table):
    table = make_table(900)
    for i in range(3):
        write_csv(table.slice(300 * i, 300), tmp_path / "data" / f"day-{i}.csv")
    (tmp_path / "data" / "notes.txt").write_text("not data")

    by_glob = read_source(str(tmp_path / "data" / "*.csv"))
    by_url = read_source(f"file://{tmp_path}/data/*.csv")

    assert by_glob.table.num_rows == 900
    assert by_glob.sha256 == by_url.sha256
    assert by_url.uri == f"file://{tmp_path}/data/*.csv"
    assert by_glob.locate(299) == f"{tmp_path}/data/day-0.csv row 300 (line 301)"
    assert by_glob.locate(300) == f"{tmp_path}/data/day-1.csv row 1 (line 2)"
    assert read_source(f"file://{tmp_path}/data/day-1.csv").table.num_rows == 300


def test_a_relative_glob(tmp_path, make_table, monkeypatch):
    write_csv(make_table(100), tmp_path / "data" / "a.csv")
    monkeypatch.chdir(tmp_path)
    assert read_source("data/*.csv").table.num_rows == 100
    assert read_source("data").table.num_rows == 100


def test_integer_and_float_csv_parts_unify(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.csv").write_text("x,y\n1,No\n2,Yes\n")
    (tmp_path / "p" / "b.csv").write_text("x,y\n2.5,No\n,Yes\n")
    (tmp_path / "p" / "c.csv").write_text("y,x\nNo,4\n")  # same columns, other order
    table = read_source(str(tmp_path / "p")).table
    assert table.schema.field("x").type == pa.float64()
    assert table.column("x").to_pylist() == [1.0, 2.0, 2.5, None, 4.0]


def test_the_fingerprint_follows_the_content(tmp_path, make_table):
    path = write_csv(make_table(500), tmp_path / "d" / "x.csv")
    before = read_source(str(tmp_path / "d")).sha256
    data = bytearray(path.read_bytes())
    at = data.index(b".", 200) + 1  # a decimal digit of some amount
    data[at] = ord("7") if data[at] != ord("7") else ord("3")
    path.write_bytes(bytes(data))
    changed = read_source(str(tmp_path / "d")).sha256
    assert changed != before
    path.rename(tmp_path / "d" / "y.csv")  # the same bytes under another name
    assert read_source(str(tmp_path / "d")).sha256 != changed


def test_secrets_in_a_url_are_masked():
    url = "https://ann:hunter2@example.com/x.csv?X-Amz-Signature=abc&X-Amz-Credential=k&v=1"
    masked = mask_uri(url)
    assert "hunter2" not in masked and "abc" not in masked and "=k" not in masked
    assert masked.startswith("https://ann:***@example.com/x.csv?") and "v=1" in masked
    assert mask_uri("data/x.csv") == "data/x.csv"
    assert mask_uri("s3:///x.csv") == "s3:///x.csv"


# --- what is refused ---------------------------------------------------------------------


def _folder_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "src"
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode() if isinstance(body, str) else body)
    return root


GOOD = "a,label\n1,Yes\n2,No\n"

REFUSED = {
    "missing file": ({}, "src/none.csv", ["no such file or folder", "none.csv"]),
    "missing folder": ({}, "nope/", ["no such file or folder", "nope"]),
    "empty folder": ({"_SUCCESS": ""}, "src", ["holds no data file", "src"]),
    "glob matches nothing": ({"a.csv": GOOD}, "src/*.parquet", ["no file matches", "*.parquet"]),
    "unknown extension": ({"a.json": "{}"}, "src/a.json", ["neither", "a.json"]),
    "folder with another file": (
        {"a.csv": GOOD, "readme.md": "hi"},
        "src",
        ["'readme.md'", "neither CSV nor Parquet"],
    ),
    "glob with another file": (
        {"a.csv": GOOD, "a.txt": "hi"},
        "src/a.*",
        ["src/a.* matches 'a.txt'", "narrow the glob"],
    ),
    "folder mixing kinds": (
        {"a.csv": GOOD, "b.parquet": b"x"},
        "src",
        ["both CSV and Parquet", "'a.csv'", "'b.parquet'"],
    ),
    "corrupt parquet": (
        {"a.parquet": b"PAR1 this is not parquet"},
        "src/a.parquet",
        ["a.parquet is not a readable Parquet file"],
    ),
    "ragged csv": (
        {"a.csv": "a,label\n1,Yes\n2\n"},
        "src/a.csv",
        ["a.csv is not a readable CSV file", "Expected 2 columns"],
    ),
    "empty csv": ({"a.csv": ""}, "src/a.csv", ["a.csv is not a readable CSV file"]),
    "duplicate column": (
        {"a.csv": "a,label,a\n1,Yes,2\n"},
        "src/a.csv",
        ["a.csv has the column 'a' twice"],
    ),
    "parts with other columns": (
        {"p1.csv": GOOD, "p2.csv": "b,label\n1,Yes\n"},
        "src",
        ["p2.csv has other columns than", "p1.csv", "lacks 'a'", "has 'b' too"],
    ),
    "parts with other types": (
        {"p1.csv": GOOD, "p2.csv": "a,label\nten,Yes\n"},
        "src",
        ["p2.csv has column 'a' of type string", "p1.csv has int64"],
    ),
    "unknown protocol": ({}, "nosuch://bucket/x.csv", ["cannot read nosuch://bucket/x.csv"]),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_user_mistakes_are_one_line(tmp_path, monkeypatch, case):
    files, uri, named = REFUSED[case]
    _folder_with(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as exc:
        read_source(uri)
    assert_one_line(exc, *named)


def test_permission_denied_is_one_line(tmp_path, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    path = _folder_with(tmp_path, {"a.csv": GOOD}) / "a.csv"

    def denied(self, path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    # root reads any file whatever its mode: simulate the refusal where it happens
    monkeypatch.setattr(LocalFileSystem, "cat_file", denied)
    with pytest.raises(DataError) as exc:
        read_source(str(path))
    assert_one_line(exc, "permission denied", str(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_one_line(tmp_path):
    path = _folder_with(tmp_path, {"a.csv": GOOD}) / "a.csv"
    path.chmod(0)
    with pytest.raises(DataError) as exc:
        read_source(str(path))
    assert_one_line(exc, "permission denied", str(path))


# --- object storage (a real S3-compatible server: tests/conftest.py) ---------------------


@pytest.fixture(scope="module")
def bucket(s3_server, tmp_path_factory, make_table):
    """A bucket with one Parquet file and a folder of CSV parts (and a _SUCCESS marker)."""
    table = make_table(1200)
    tmp_path = tmp_path_factory.mktemp("s3-files")
    local = write_parquet(table, tmp_path / "customers.parquet")
    parts = {
        f"daily/2024-0{i}.csv": write_csv(table.slice(400 * i, 400), tmp_path / f"p{i}.csv")
        for i in range(3)
    }
    s3_server.upload("imbalance-data", {"customers.parquet": local, **parts, "daily/_SUCCESS": b""})
    return table, local


@pytest.mark.slow  # these start a server (about 2 s) and each read makes an S3 client
def test_s3_file_and_folder(s3, bucket):
    table, local = bucket

    one = read_source("s3://imbalance-data/customers.parquet")
    assert one.table.equals(table)
    assert one.uri == "s3://imbalance-data/customers.parquet"
    assert one.files[0].path == "s3://imbalance-data/customers.parquet"
    assert one.sha256 == read_source(str(local)).sha256  # where it lies does not count
    assert one.locate(5) == "s3://imbalance-data/customers.parquet row 6"

    folder = read_source("s3://imbalance-data/daily/")
    assert folder.table.num_rows == 1200
    assert folder.table.column("balance").to_pylist() == table.column("balance").to_pylist()
    assert [f.path for f in folder.files] == [
        f"s3://imbalance-data/daily/2024-0{i}.csv" for i in range(3)
    ]
    assert folder.locate(401) == "s3://imbalance-data/daily/2024-01.csv row 2 (line 3)"
    shown = repr(one) + repr(folder)
    assert s3.secret_key not in shown and s3.access_key not in shown


@pytest.mark.slow
def test_s3_window_over_a_prefix_of_date_partitions(s3, make_table, tmp_path):
    table = make_table(300)
    local = tmp_path / "events"
    parts = {
        "date=2026-12-30/part-0.parquet": table.slice(0, 100),
        "date=2026-12-31/part-0.parquet": table.slice(100, 100),
        "date=2027-01-01/part-0.parquet": table.slice(200, 50),
        "date=2027-01-01/retry/part-1.parquet": table.slice(250, 50),
    }
    for name, piece in parts.items():
        write_parquet(piece, local / name)
    files = {f"events/{name}": local / name for name in parts}
    s3.upload("imbalance-windows", files | {"events/_SUCCESS": b""})
    window = Window(date(2027, 1, 1), 2)

    source = read_source("s3://imbalance-windows/events/", window=window)

    assert source.table.num_rows == 200
    assert source.table.column("balance").to_pylist() == table.column("balance")[100:].to_pylist()
    assert [f.path for f in source.files] == [
        "s3://imbalance-windows/events/date=2026-12-31/part-0.parquet",
        "s3://imbalance-windows/events/date=2027-01-01/part-0.parquet",
        "s3://imbalance-windows/events/date=2027-01-01/retry/part-1.parquet",
    ]
    assert source.partitions == ("2026-12-31", "2027-01-01")
    assert source.window == "(2026-12-30, 2027-01-01]"
    assert source.sha256 == read_source(str(local), window=window).sha256  # names and bytes
    by_glob = read_source("s3://imbalance-windows/events/date=*/**/*.parquet", window=window)
    assert by_glob.sha256 == source.sha256

    late = {"events/date=2026-12-29/part-0.parquet": local / "date=2026-12-30/part-0.parquet"}
    s3.upload("imbalance-windows", late)  # a partition arrives, before the window
    assert read_source("s3://imbalance-windows/events/", window=window).sha256 == source.sha256
    with pytest.raises(DataError) as exc:
        read_source("s3://imbalance-windows/events/", window=Window(date(2027, 3, 1), 7))
    assert_one_line(exc, "s3://imbalance-windows/events", "(2027-02-22, 2027-03-01]")


def test_a_window_over_one_file_is_refused(tmp_path, make_table):
    path = write_parquet(make_table(10), tmp_path / "date=2026-11-28" / "part-0.parquet")
    with pytest.raises(DataError) as exc:
        read_source(str(path), window=Window(date(2026, 11, 28), 1))
    assert_one_line(
        exc, "source.window_days needs a folder of date partitions, got a file", str(path)
    )


@pytest.mark.slow
def test_s3_endpoint_from_the_s3_specific_variable(s3, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # overridden by _S3
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    assert read_source("s3://imbalance-data/customers.parquet").table.num_rows == 1200


@pytest.mark.slow
@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("s3://no-such-bucket/x.parquet", ["no such bucket 'no-such-bucket'"]),
        ("s3://no-such-bucket/", ["no such bucket 'no-such-bucket'"]),
        ("s3://imbalance-data/nope.parquet", ["no such file or folder"]),
        ("s3:///x.parquet", ["no bucket named in"]),
        ("s3://Bad_Bucket!/x.csv", ["not a valid S3 location", 'bucket name "Bad_Bucket!"']),
    ],
    ids=["bucket", "bucket only", "key", "no bucket", "bad bucket name"],
)
def test_s3_missing_bucket_or_key_is_one_line(s3, bucket, uri, named):
    with pytest.raises(DataError) as exc:
        read_source(uri)
    assert_one_line(exc, uri, *named)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "uri"),
    [
        ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "s3://imbalance-data/customers.parquet"),
        ({"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNUNKNOWN00"}, "s3://imbalance-data/daily/"),
    ],
    ids=["wrong secret", "unknown key"],
)
def test_s3_wrong_credentials_are_one_line(s3, bucket, monkeypatch, env, uri):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DataError) as exc:
        read_source(uri)
    message = assert_one_line(exc, "access denied", uri, "AWS_ACCESS_KEY_ID")
    assert "not-the-secret" not in message


@pytest.mark.slow
def test_s3_without_credentials_is_one_line(s3, bucket, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(DataError) as exc:
        read_source("s3://imbalance-data/customers.parquet")
    assert_one_line(exc, "no usable AWS credentials", "s3://imbalance-data/customers.parquet")


@pytest.mark.slow
def test_s3_unknown_profile_is_one_line(s3, bucket, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(DataError) as exc:
        read_source("s3://imbalance-data/customers.parquet")
    assert_one_line(exc, "no-such-profile", "s3://imbalance-data/customers.parquet")


@pytest.mark.slow
def test_an_endpoint_that_does_not_answer_is_one_line(s3, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retries only slow the test
    with pytest.raises(DataError) as exc:
        read_source("s3://imbalance-data/customers.parquet")
    assert_one_line(exc, "cannot reach", f"http://127.0.0.1:{port}", "AWS_ENDPOINT_URL")


def test_an_endpoint_that_never_answers_is_one_line_not_a_hang(monkeypatch, tmp_path):
    # A socket that accepts and says nothing: botocore would wait 60 s per attempt.
    import socket
    import threading

    import s3fs

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []
    threading.Thread(target=lambda: held.extend(server.accept() for _ in range(16)),
                     daemon=True).start()  # fmt: skip
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(s3fs.S3FileSystem, "retries", 1)  # s3fs's own retries: 5
    quick = {
        "config_kwargs": {"connect_timeout": 1, "read_timeout": 1, "retries": {"max_attempts": 1}}
    }
    with pytest.raises(DataError) as refused:
        read_source("s3://bucket/key.parquet", storage_options=quick)
    message = str(refused.value)
    assert "did not answer in time" in message and len(message.splitlines()) == 1
    server.close()
