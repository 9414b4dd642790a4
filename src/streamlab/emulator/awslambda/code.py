"""Deployment packages: validating a zip, unpacking it per function version, fetching it
from the endpoint's own S3."""

from __future__ import annotations

import io
import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streamlab.emulator.awslambda.exceptions import InvalidParameterValueException
from streamlab.emulator.awslambda.models import FunctionCode

#: AWS's quotas: 50 MB zipped for a direct upload, 250 MB unzipped.
MAX_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 262_144_000


def unpack(zip_bytes: bytes, directory: Path) -> FunctionCode:
    """Validate ``zip_bytes`` and unpack it into ``directory`` (which must not exist yet)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise InvalidParameterValueException(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    if sum(member.file_size for member in members) > MAX_UNZIPPED_BYTES:
        raise InvalidParameterValueException(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
    directory.mkdir(parents=True)
    root = directory.resolve()
    try:
        for member in members:
            target = (directory / member.filename).resolve()
            if root != target and root not in target.parents:
                raise InvalidParameterValueException(f"Invalid path in the deployment package: {member.filename}")
            archive.extract(member, directory)
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                os.chmod(target, mode | stat.S_IRUSR)
    except (zipfile.BadZipFile, OSError, RuntimeError) as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise InvalidParameterValueException(
            f"Could not unzip uploaded file. Please check your file, then try to upload again. ({error})"
        ) from None
    except InvalidParameterValueException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return FunctionCode(zip_bytes=zip_bytes, sha256=FunctionCode.digest(zip_bytes), directory=directory)


def fetch_from_s3(
    s3_client: Callable[[str], Any], region: str, bucket: str, key: str, version: str | None = None
) -> bytes:
    """The object's bytes, or the InvalidParameterValueException AWS gives for a bad location."""
    client = s3_client(region)
    options = {"Bucket": bucket, "Key": key}
    if version:
        options["VersionId"] = version
    try:
        body: bytes = client.get_object(**options)["Body"].read()
        return body
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", str(error))
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {code}. S3 Error Message: {message}"
        ) from None
