"""The user's rows, read as they are: a file, a folder, a glob or an fsspec URL.

    read_source("data/train.parquet")              one file (.parquet, .pq or .csv)
    read_source("data/parts/")                     a folder of them, subfolders too
    read_source("data/*.csv")                      a glob
    read_source("s3://bucket/key.parquet")         object storage (s3fs), a key or a prefix
    read_source("file:///abs/path/train.csv")      any fsspec URL

A folder is read recursively; hidden and `_`-prefixed files and folders (`_SUCCESS`,
`.crc`, `_delta_log/`) are skipped; other files are CSV or Parquet, all of one kind.
Files are read in sorted order and their tables concatenated; hive-style folder names
(`year=2024/`) are not turned into columns. Every file's bytes are read once: hashed
(the source's content fingerprint) and parsed by pyarrow from memory.

A window of days (`partitions.py`) keeps, of a folder, prefix or glob partitioned by
date (`date=2026-11-28/`), the files whose partition lies in it, and reads only them:

    read_source("s3://bucket/events/", window=Window(date(2026, 11, 29), days=7))

The fingerprint then covers the window's files only: it changes when a partition
arrives in the window (or one in it changes), not when one outside it does.

Object storage: credentials come from the standard AWS variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, ...), the endpoint of an
S3-compatible store (MinIO, Ceph, moto) from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL.
s3fs honours those two by itself (botocore >= 1.31 reads them; tested with s3fs
2026.9 against a moto server), so nothing is passed here; `storage_options` can still
give s3fs anything (`{"endpoint_url": ..., "anon": True}`). No option is kept in what
this returns, and a URL's password or signed query is masked in `uri`.

Every failure the user can cause (a missing file, bucket or key, a glob matching
nothing, an unknown extension, a corrupt file, denied access, wrong or missing
credentials, an endpoint that does not answer) is a one-line `DataError` naming the
path. Other network errors (a timeout mid-read) are left as they are. Finding the files,
reading their bytes and those errors live in `filesystem.py`; this module parses and joins them.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from imbalance.data.filesystem import CSV, display, list_files, mask_uri, read_bytes, relative
from imbalance.data.partitions import Window, select
from imbalance.data.spec import DataError
from imbalance.messages import first_line


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: its path as the user knows it (s3://bucket/key, /abs/path)."""

    path: str
    rows: int

    @property
    def is_csv(self) -> bool:
        return self.path.lower().endswith(CSV)


@dataclass(frozen=True)
class SourceRead:
    """A source's rows as read, where each came from, and the fingerprint of its bytes.

    `partitions`: the dates (ISO) of the partitions read when a window was given, and
    `window` that window ("(2026-11-22, 2026-11-29]"); empty without one.
    """

    table: pa.Table
    uri: str
    files: tuple[SourceFile, ...]
    sha256: str
    partitions: tuple[str, ...] = ()
    window: str = ""
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts, total = [], 0
        for f in self.files:
            starts.append(total)
            total += f.rows
        object.__setattr__(self, "_starts", tuple(starts))

    def locate(self, row: int) -> str:
        """Return where row `row` (0-based, of `table`) is: its file and 1-based row there.

        "data/part-2.csv row 17 (line 18)": a CSV's line counts its header (and
        assumes no quoted value spans lines); a Parquet file's row is its row.
        """
        if not 0 <= row < self.table.num_rows:
            raise IndexError(f"row {row} is not among the {self.table.num_rows} rows")
        i = bisect.bisect_right(self._starts, row) - 1
        while self.files[i].rows == 0:  # empty files share a start with the next one
            i += 1
        f = self.files[i]
        n = row - self._starts[i] + 1
        return f"{f.path} row {n}" + (f" (line {n + 1})" if f.is_csv else "")


def read_source(
    uri: str, storage_options: dict | None = None, window: Window | None = None
) -> SourceRead:
    """Return all rows of `uri` (a file, a folder, a glob or an fsspec URL), checked to parse.

    With a `window`, `uri` is a folder, prefix or glob of date partitions, and only the
    files of the partitions in the window are read. Raises DataError (one line, naming
    the path) for anything the user can fix.
    """
    shown = mask_uri(uri)
    if not uri.strip():
        raise DataError("no data source given")
    fs, root, paths, single = list_files(uri, shown, storage_options or {})
    dates: tuple[date, ...] = ()
    if window is not None:
        if single:
            raise DataError(
                f"source.window_days needs a folder of date partitions, got a file: {shown}"
            )
        names = {relative(path, root): path for path in paths}
        chosen, dates = select(names, window, source=display(fs, root) if root else "")
        paths = [names[name] for name in chosen]
    digest = hashlib.sha256()
    tables, files = [], []
    for path in paths:
        name = relative(path, root)
        where = display(fs, path)
        data = read_bytes(fs, path, where)
        encoded = name.encode()
        digest.update(b"%d:%s%d:" % (len(encoded), encoded, len(data)))
        digest.update(data)
        table = _parse(data, where)
        del data
        tables.append(table)
        files.append(SourceFile(where, table.num_rows))
    return SourceRead(
        table=_concat(tables, files),
        uri=shown,
        files=tuple(files),
        sha256=digest.hexdigest(),
        partitions=tuple(d.isoformat() for d in dates),
        window="" if window is None else str(window),
    )


# --- parsing -----------------------------------------------------------------------------


def _parse(data: bytes, where: str) -> pa.Table:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    is_csv = where.lower().endswith(CSV)
    read = pcsv.read_csv if is_csv else pq.read_table
    try:
        table = read(pa.py_buffer(data))
    except (pa.ArrowException, OSError) as exc:
        kind = "CSV" if is_csv else "Parquet"
        raise DataError(f"{where} is not a readable {kind} file: {first_line(exc)}") from None
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise DataError(f"{where} has the column {name!r} twice; rename one of them")
        seen.add(name)
    return table


def _concat(tables: list[pa.Table], files: list[SourceFile]) -> pa.Table:
    """Return the files' tables as one; refuse parts whose columns differ."""
    first = tables[0]
    for table, f in zip(tables[1:], files[1:], strict=True):
        if set(table.column_names) != set(first.column_names):
            missing = [c for c in first.column_names if c not in table.column_names]
            extra = [c for c in table.column_names if c not in first.column_names]
            how = "; ".join(
                part
                for part in (
                    f"lacks {', '.join(map(repr, missing))}" if missing else "",
                    f"has {', '.join(map(repr, extra))} too" if extra else "",
                )
                if part
            )
            raise DataError(
                f"{f.path} has other columns than {files[0].path}: it {how}; "
                "all files of a source need the same columns"
            )
    if len(tables) == 1:
        return first
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        error = exc
    for table, f in zip(tables[1:], files[1:], strict=True):
        for name in first.column_names:
            a, b = first.schema.field(name).type, table.schema.field(name).type
            if not _unifiable(a, b):
                raise DataError(
                    f"{f.path} has column {name!r} of type {b} where {files[0].path} has {a}; "
                    "all files of a source need the same column types"
                )
    raise DataError(f"the files of the source cannot be combined: {first_line(error)}")


def _unifiable(a: pa.DataType, b: pa.DataType) -> bool:
    try:
        pa.unify_schemas(
            [pa.schema([("c", a)]), pa.schema([("c", b)])], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True
