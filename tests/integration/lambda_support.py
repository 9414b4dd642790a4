"""Shared helpers for the Lambda tests (the fixtures are in conftest.py).

Functions are built in-test from inline handler source, so each test shows the code it runs.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
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
