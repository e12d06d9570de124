"""Shared fixtures: a realistic imbalanced table, and a real S3-compatible server.

`make_table` builds the kind of table a user brings: amounts on a 1e4 scale, a count,
an age, a region (text, categorical), and a Yes/No label with ~3% Yes.

`s3_server` (one per session) runs moto's standalone server (`python -m moto.server`,
moto 5) as a subprocess on 127.0.0.1 and a free port, with authentication enforced:
an IAM user and access key are made first, then `POST /moto-api/reset-auth` with 0
makes the server check every request's signature and key from then on (moto's
INITIAL_NO_AUTH_ACTION_COUNT). The `s3` fixture points the standard AWS variables at
it through monkeypatch, the way a user configures an S3-compatible store:

    AWS_ENDPOINT_URL=http://127.0.0.1:PORT    (AWS_ENDPOINT_URL_S3 wins if both are set)
    AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...  AWS_DEFAULT_REGION=us-east-1

botocore (and so s3fs) reads both endpoint variables itself; `read_source` passes none.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

REGION = "us-east-1"


def _make_table(rows: int = 2000, seed: int = 0, positive_share: float = 0.03) -> pa.Table:
    """Return a customer-like table: numeric columns of mixed scales, a region, a Yes/No label."""
    rng = np.random.default_rng(seed)
    churned = rng.random(rows) < positive_share
    churned[:2] = True  # never fewer than two positives, whatever the seed
    return pa.table(
        {
            "balance": np.round(rng.normal(2.5e4, 1e4, rows) + 4e3 * churned, 2),
            "monthly_spend": np.round(rng.lognormal(np.log(1.2e3), 0.6, rows), 2),
            "visits": rng.poisson(6 - 3 * churned, rows).astype(np.int64),
            "age": rng.integers(18, 90, rows).astype(np.int64),
            "region": rng.choice(["north", "south", "east", "west", "centre"], rows),
            "churned": np.where(churned, "Yes", "No"),
        }
    )


@pytest.fixture(scope="session")
def make_table() -> Callable[..., pa.Table]:
    return _make_table


def _write_day(events: Path, day: str, shift: float = 0.0, rows: int = 3000) -> Path:
    """Write one day's partition events/date=DAY/part-0.parquet; return its path.

    `amount` moves by `shift` standard deviations (drift); `ts` is each row's time
    within the day; `churned` (yes/no) depends on amount and country.
    """
    import pandas as pd

    rng = np.random.default_rng(int(day.replace("-", "")))
    amount = rng.normal(100 + 20 * shift, 20, rows)
    country = rng.choice(["de", "fr", "nl"], rows, p=[0.5, 0.3, 0.2])
    risk = (amount - 100) / 20 + (country == "nl") * 1.5 - 3.5
    churned = np.where(rng.random(rows) < 1 / (1 + np.exp(-risk)), "yes", "no")
    seconds = np.sort(rng.integers(0, 86_400, rows))
    ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    folder = events / f"date={day}"
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"ts": ts, "amount": amount, "country": country, "churned": churned})
    frame.to_parquet(folder / "part-0.parquet", index=False)
    return folder / "part-0.parquet"


@pytest.fixture(scope="session")
def write_day() -> Callable[..., Path]:
    """Write a day's partition of an events folder (see `_write_day`)."""
    return _write_day


# --- S3 ----------------------------------------------------------------------------------


@dataclass
class S3Server:
    """A running moto server: its endpoint, a valid key pair, and a way to put files in it."""

    endpoint_url: str
    access_key: str
    secret_key: str

    def client(self, **overrides: Any) -> Any:
        import boto3

        creds = {
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            **overrides,
        }
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION, **creds)

    def upload(self, bucket: str, files: dict[str, Path | bytes]) -> None:
        """Create `bucket` (if need be) and put each key's local file or bytes in it."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
        for key, body in files.items():
            data = body.read_bytes() if isinstance(body, Path) else body
            client.put_object(Bucket=bucket, Key=key, Body=data)

    def configure(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Point the standard AWS variables at this server, as a user of it would."""
        _configure(self, monkeypatch, tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=5).read()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.05)
        # Auth is off until reset-auth below: make the user whose key the tests use.
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="AKIASETUPSETUPSETUP0",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}
        policy["Statement"][0]["Resource"] = "*"
        iam.put_user_policy(UserName="reader", PolicyName="all", PolicyDocument=json.dumps(policy))
        _post(f"{url}/moto-api/reset-auth", b"0")  # from now on every request is checked
        yield S3Server(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """The server, with this test's environment configured as a user of it would be."""
    s3_server.configure(monkeypatch, tmp_path)
    return s3_server


def _configure(server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Point the standard AWS variables at `server`, as a user of it would."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # No file of this machine's (~/.aws) and no instance-metadata probe (a 1 s wait).
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# --- the order of the suite ----------------------------------------------------------------

# The longest modules first: `make test` runs the suite in two processes, a module's
# tests in one (--dist loadscope), so a long module started last would run alone at
# the end while the other process idles.
FIRST = ("tests/server/test_deployment.py", "tests/flow/test_dask.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return FIRST.index(path) if path in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: the order within a rank stays as collected
