"""Shared helpers for the Lambda tests (the fixtures are in conftest.py).

Functions are built in-test from inline handler source, so each test shows the code it runs.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Callable

from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30)

ECHO = """
def handler(event, context):
    return event
"""


def zip_source(files: dict[str, str] | str, filename: str = "app.py") -> bytes:
    """A deployment package from inline source: a string is ``app.py``; a dict maps paths to source."""
    if isinstance(files, str):
        files = {filename: files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, source in files.items():
            archive.writestr(path, textwrap.dedent(source))
    return buffer.getvalue()


FunctionFactory = Callable[..., str]
