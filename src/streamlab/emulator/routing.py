"""Which AWS service a request is for.

AWS SDKs sign every request with SigV4; the credential scope
(``Credential=AKID/20240101/us-east-1/dynamodb/aws4_request``) names the service and
region. That is the only signal that is reliable for every service on a single port,
so the gateway routes on it, and falls back to the presigned query form.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qs


class Scope(NamedTuple):
    service: str
    region: str


_LAMBDA_PATH_PREFIXES = (
    "/2015-03-31/",
    "/2017-10-31/",
    "/2018-10-31/",
    "/2019-09-25/",
    "/2019-09-30/",
    "/2020-04-22/",
    "/2021-10-31/",
)


def credential_scope(environ: dict[str, Any]) -> Scope | None:
    """The (service, region) of a SigV4 request, or None for an unsigned one."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = ""
    if auth.startswith("AWS4-HMAC-SHA256"):
        for part in auth[len("AWS4-HMAC-SHA256") :].split(","):
            part = part.strip()
            if part.startswith("Credential="):
                credential = part[len("Credential=") :]
                break
    elif "X-Amz-Credential" in environ.get("QUERY_STRING", ""):
        credential = parse_qs(environ["QUERY_STRING"]).get("X-Amz-Credential", [""])[0]
    fields = credential.split("/")
    if len(fields) != 5:
        return None
    return Scope(service=fields[3].lower(), region=fields[2])


def is_lambda_request(environ: dict[str, Any]) -> bool:
    """True for requests the Lambda service answers (signed for ``lambda``, or unsigned on its paths)."""
    scope = credential_scope(environ)
    if scope is not None:
        return scope.service == "lambda"
    return str(environ.get("PATH_INFO", "")).startswith(_LAMBDA_PATH_PREFIXES)


def dynamodb_operation(environ: dict[str, Any]) -> str | None:
    """``PutItem`` for ``X-Amz-Target: DynamoDB_20120810.PutItem``; None for other services."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    prefix, _, operation = target.partition(".")
    if prefix.startswith("DynamoDB_"):
        return operation
    return None
