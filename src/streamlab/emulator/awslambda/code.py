"""Deployment packages: validating a zip, unpacking it per function version, fetching it
from the endpoint's own S3."""

from __future__ import annotations

import base64
import binascii
import io
import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from streamlab.emulator.awslambda.exceptions import InvalidParameterValueException, RequestTooLargeException
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


def zip_from_source(
    source: dict[str, Any], region: str, s3_client: Callable[[str], Any], operation: str = "CreateFunction"
) -> bytes:
    """The zip of a ``ZipFile`` (base64 in the request) or ``S3Bucket``/``S3Key`` source."""
    zip_b64 = source.get("ZipFile")
    if zip_b64:
        try:
            zip_bytes = base64.b64decode(zip_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValueException(
                "Could not unzip uploaded file. Please check your file, then try to upload again."
            ) from None
        if len(zip_bytes) > MAX_DIRECT_UPLOAD_BYTES:
            raise RequestTooLargeException(f"Request must be smaller than 70167211 bytes for the {operation} operation")
        return zip_bytes
    if source.get("S3Bucket") and source.get("S3Key"):
        return fetch_from_s3(s3_client, region, source["S3Bucket"], source["S3Key"], source.get("S3ObjectVersion"))
    if source.get("ImageUri"):
        raise InvalidParameterValueException("Only PackageType Zip is supported by streamlab's Lambda service.")
    raise InvalidParameterValueException("Please provide a source for function code: ZipFile, or S3Bucket and S3Key.")
