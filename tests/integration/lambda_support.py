"""Shared helpers for the Lambda tests (the fixtures are in conftest.py).

Functions are built in-test from inline handler source, so each test shows the code it runs.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30)

ECHO = """
def handler(event, context):
    return event
"""


def zip_source(files: dict[str, str] | str, filename: str = "app.py", executable: tuple[str, ...] = ()) -> bytes:
    """A deployment package from inline source: a string is ``app.py``; a dict maps paths to source.
    Paths in ``executable`` get mode 0755 (as ``zip`` records an executable script)."""
    if isinstance(files, str):
        files = {filename: files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, source in files.items():
            info = zipfile.ZipInfo(path)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if path in executable else 0o100644) << 16
            archive.writestr(info, textwrap.dedent(source))
    return buffer.getvalue()


FunctionFactory = Callable[..., str]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def payload_of(response: dict[str, Any]) -> Any:
    """The JSON an Invoke answered."""
    return json.loads(response["Payload"].read())


def arn(region: str, name: str, qualifier: str | None = None) -> str:
    """A function's ARN in moto's account, qualified when ``qualifier`` is given."""
    base = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def local_client(endpoint_url: str, service: str) -> Any:
    """A boto3 client on an endpoint a test started itself (dummy credentials, no retries)."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_RETRIES,
    )
