"""A source's filesystem: its files found through fsspec and read; the errors a user causes.

`list_files` resolves a path, folder, glob or fsspec URL (s3://...) to its filesystem
and its data files (hidden and `_` files skipped, CSV or Parquet, one kind), `read_bytes`
reads one, and both turn what the user can fix (a missing file, bucket or key, denied
access, wrong or missing credentials, an endpoint that does not answer) into a one-line
DataError naming the path; `mask_uri` hides a URL's secrets wherever one is shown. The
parsing, joining and fingerprint are `sources.py`'s (whose docstring says what a source
may be).
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from imbalance.data.spec import DataError
from imbalance.messages import first_line

S3_CLIENT_CONFIG = {"connect_timeout": 5, "read_timeout": 10, "retries": {"max_attempts": 1}}
CSV = (".csv",)
PARQUET = (".parquet", ".pq")
_GLOB = re.compile(r"[*?\[]")
_SECRET_QUERY = re.compile(r"sig|signature|token|credential|secret|key|password", re.I)


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


def list_files(uri: str, shown: str, options: dict) -> tuple[Any, str, list[str], bool]:
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


def relative(path: str, root: str) -> str:
    """Return a file's name relative to the source's root (the fingerprint hashes it)."""
    return posixpath.relpath(path, root) if root else path


def display(fs: Any, path: str) -> str:
    """Return a path in the user's form: /abs/path for local files, s3://bucket/key else."""
    from fsspec.implementations.local import LocalFileSystem

    return path if isinstance(fs, LocalFileSystem) else mask_uri(fs.unstrip_protocol(path))


# --- reading -----------------------------------------------------------------------------


def read_bytes(fs: Any, path: str, where: str) -> bytes:
    with _user_errors(where):
        try:
            return fs.cat_file(path)
        except FileNotFoundError:
            raise DataError(f"no such file: {where} (it went while being read)") from None
        except IsADirectoryError:
            raise DataError(f"{where} is a folder, not a file") from None


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
