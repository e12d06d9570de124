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
path. Other network errors (a timeout mid-read) are left as they are.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import posixpath
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa

from imbalance.data.partitions import Window, select
from imbalance.data.spec import DataError
from imbalance.messages import first_line

S3_CLIENT_CONFIG = {"connect_timeout": 5, "read_timeout": 10, "retries": {"max_attempts": 1}}
CSV = (".csv",)
PARQUET = (".parquet", ".pq")
_GLOB = re.compile(r"[*?\[]")
_SECRET_QUERY = re.compile(r"sig|signature|token|credential|secret|key|password", re.I)


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
    fs, root, paths, single = _list(uri, shown, storage_options or {})
    dates: tuple[date, ...] = ()
    if window is not None:
        if single:
            raise DataError(
                f"source.window_days needs a folder of date partitions, got a file: {shown}"
            )
        names = {_relative(path, root): path for path in paths}
        chosen, dates = select(names, window, source=_display(fs, root) if root else "")
        paths = [names[name] for name in chosen]
    digest = hashlib.sha256()
    tables, files = [], []
    for path in paths:
        name = _relative(path, root)
        where = _display(fs, path)
        data = _read_bytes(fs, path, where)
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


def mask_uri(uri: str) -> str:
    """Return `uri` with any password and signed-query values replaced by ***."""
    if "://" not in uri:
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = (user.split(":", 1)[0] + ":***" if ":" in user else "***") + "@" + host
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in pairs])
    if (netloc, query) == (parts.netloc, parts.query):
        return uri  # nothing to mask: as given (urlunsplit would drop an empty //)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# --- finding the files -------------------------------------------------------------------


def _list(uri: str, shown: str, options: dict) -> tuple[Any, str, list[str], bool]:
    """Return (filesystem, root, the data files in sorted order, whether `uri` is a file)."""
    from fsspec.core import url_to_fs

    if uri.startswith(("s3://", "s3a://")):
        # botocore waits 60 s per attempt for an endpoint that accepts and never
        # answers, and retries: minutes before a user hears anything. Bounded here.
        options = {"config_kwargs": S3_CLIENT_CONFIG} | options
    try:
        # A fresh filesystem each time: a cached one would keep an old listing of the
        # folder and the credentials of its first use.
        fs, path = url_to_fs(uri, **{"skip_instance_cache": True, **options})
    except ImportError as exc:
        raise DataError(f"cannot read {shown}: {first_line(exc)}") from None
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot read {shown}: {first_line(exc)}") from None
    with _user_errors(shown, listing=True):
        if _GLOB.search(path):
            return fs, _glob_root(path), _glob(fs, path, shown), False
        info = _info(fs, path, shown)
        if info["type"] != "directory":
            _check_extension(path, shown)
            return fs, posixpath.dirname(path), [path], True
        return fs, path.rstrip("/"), _folder(fs, path.rstrip("/"), shown), False


def _info(fs: Any, path: str, shown: str) -> dict:
    try:
        return fs.info(path)
    except FileNotFoundError as exc:
        bucket = path.split("/", 1)[0]
        if "s3" in _protocols(fs) and ("/" not in path.strip("/") or "bucket" in str(exc)):
            if not bucket:
                raise DataError(f"no bucket named in {shown}") from None
            raise DataError(f"no such bucket {bucket!r}: {shown}") from None
        raise DataError(f"no such file or folder: {shown}") from None


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _glob(fs: Any, pattern: str, shown: str) -> list[str]:
    root = _glob_root(pattern)
    found = [p for p, info in fs.glob(pattern, detail=True).items() if info["type"] != "directory"]
    found = [p for p in found if not _skipped(posixpath.relpath(p, root))]
    if not found:
        raise DataError(f"no file matches {shown}")
    return _data_files(sorted(found), shown, "matches")


def _folder(fs: Any, root: str, shown: str) -> list[str]:
    found = [p for p in _find(fs, root) if not _skipped(posixpath.relpath(p, root))]
    if not found:
        raise DataError(f"the folder {shown} holds no data file (hidden and _ files are skipped)")
    return _data_files(sorted(found), shown, "holds")


def _find(fs: Any, root: str) -> list[str]:
    """Return every file under `root`; on a local disk following symlinked folders.

    fsspec's local `find` lists a symlinked folder (a partition linked in from
    elsewhere) as a file. os.walk follows it, once: a link back up (a loop) is
    walked no further.
    """
    if "file" not in _protocols(fs):
        return fs.find(root)
    found, seen = [], set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        found += [posixpath.join(folder, name) for name in files]
    return found


def _data_files(paths: list[str], shown: str, verb: str) -> list[str]:
    """Return `paths`, refusing any that is neither CSV nor Parquet, or a mix of both."""
    other = [p for p in paths if not p.lower().endswith(CSV + PARQUET)]
    if other:
        hint = (
            f"name the data files with a glob such as {shown.rstrip('/')}/*.csv"
            if verb == "holds"
            else "narrow the glob to the .csv or .parquet files"
        )
        raise DataError(
            f"{shown} {verb} {posixpath.basename(other[0])!r}, neither CSV nor Parquet "
            f"({len(other)} such file(s)); {hint}"
        )
    csv = [p for p in paths if p.lower().endswith(CSV)]
    if csv and len(csv) != len(paths):
        parquet = next(p for p in paths if not p.lower().endswith(CSV))
        raise DataError(
            f"{shown} {verb} both CSV and Parquet files ({posixpath.basename(csv[0])!r}, "
            f"{posixpath.basename(parquet)!r}); keep one kind"
        )
    return paths


def _check_extension(path: str, shown: str) -> None:
    if not path.lower().endswith(CSV + PARQUET):
        raise DataError(f"{shown} is neither a .csv nor a .parquet/.pq file")


def _skipped(relative: str) -> bool:
    """Whether a file under the root is hidden or `_`-prefixed, or lies in such a folder."""
    return any(part[:1] in (".", "_") for part in relative.split("/") if part not in ("", "."))


def _glob_root(pattern: str) -> str:
    """Return the folder part of a glob before its first wildcard."""
    head = pattern[: _GLOB.search(pattern).start()]
    return head.rsplit("/", 1)[0] if "/" in head else ""


def _relative(path: str, root: str) -> str:
    """Return a file's name relative to the source's root (the fingerprint hashes it)."""
    return posixpath.relpath(path, root) if root else path


def _display(fs: Any, path: str) -> str:
    """Return a path in the user's form: /abs/path for local files, s3://bucket/key else."""
    from fsspec.implementations.local import LocalFileSystem

    return path if isinstance(fs, LocalFileSystem) else mask_uri(fs.unstrip_protocol(path))


# --- reading and parsing -----------------------------------------------------------------


def _read_bytes(fs: Any, path: str, where: str) -> bytes:
    with _user_errors(where):
        try:
            return fs.cat_file(path)
        except FileNotFoundError:
            raise DataError(f"no such file: {where} (it went while being read)") from None
        except IsADirectoryError:
            raise DataError(f"{where} is a folder, not a file") from None


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


# --- errors ------------------------------------------------------------------------------


class _user_errors:  # noqa: N801 - used as a context manager, reads as one
    """Turn the errors a user causes (access, credentials, endpoint) into DataError."""

    def __init__(self, where: str, listing: bool = False):
        self.where = where
        self.listing = listing  # finding the files: a ValueError is about the path given

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, DataError):
            return False
        message = _user_message(exc, self.where)
        if message is None and self.listing and isinstance(exc, ValueError):
            message = f"cannot read {self.where}: {first_line(exc)}"
        if message is None:
            return False
        raise DataError(message) from None


def _user_message(exc: BaseException, where: str) -> str | None:
    """Return the one-line message for an error the user caused, None for any other."""
    from botocore import exceptions as boto

    if isinstance(exc, PermissionError):
        code = _boto_code(exc)
        detail = f" ({code})" if code else ""
        if where.startswith(("s3://", "s3a://")):
            return (
                f"access denied to {where}{detail}: check the AWS credentials "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and "
                "that they may read it"
            )
        return f"permission denied: {where}{detail}"
    if isinstance(exc, FileNotFoundError):
        if "bucket" in first_line(exc).lower():
            return f"no such bucket: {where}"
        return f"no such file or folder: {where}"
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (
            f"no usable AWS credentials to read {where}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    if isinstance(exc, boto.ProfileNotFound):
        return f"cannot read {where}: {first_line(exc)} (AWS_PROFILE or ~/.aws/config)"
    if isinstance(exc, boto.SSOError | boto.TokenRetrievalError | boto.CredentialRetrievalError):
        return f"cannot load the AWS credentials to read {where}: {first_line(exc)}"
    if isinstance(exc, boto.ParamValidationError):
        lines = str(exc).strip().splitlines()
        detail = lines[1].split(":")[0].strip() if len(lines) > 1 else first_line(exc)
        return f"{where} is not a valid S3 location: {detail}"
    if isinstance(exc, boto.EndpointConnectionError):
        endpoint = exc.kwargs.get("endpoint_url", "")
        base = "{0.scheme}://{0.netloc}".format(urlsplit(endpoint)) if endpoint else "?"
        return (
            f"cannot reach the storage endpoint {base} to read {where}: is it running, "
            "and is AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL right?"
        )
    if isinstance(exc, boto.ConnectTimeoutError | boto.ReadTimeoutError):
        return (
            f"the storage endpoint did not answer in time while reading {where} "
            f"({type(exc).__name__}): is it up, and is AWS_ENDPOINT_URL right?"
        )
    if isinstance(exc, NotADirectoryError | IsADirectoryError):
        return f"cannot read {where}: {first_line(exc)}"
    return None


def _boto_code(exc: BaseException) -> str:
    cause = exc.__cause__
    response = getattr(cause, "response", None) or {}
    code = response.get("Error", {}).get("Code", "")
    return "" if code in ("403", "AccessDenied") else code
