"""Which AWS service a request is for.

AWS SDKs sign every request with SigV4; the credential scope
(``Credential=AKID/20240101/us-east-1/dynamodb/aws4_request``) names the service and
region. That is the only signal that is reliable for every service on a single port,
so the gateway routes on it, and falls back to the presigned query form. The region then
becomes lookup keys and file paths, so the scope is checked here, where it enters, with the
errors AWS gives for a malformed one (:class:`SignatureError`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from streamlab.aws_rules import is_region_name
from streamlab.emulator.request_validation import RequestError


class Scope(NamedTuple):
    service: str
    region: str


class SignatureError(RequestError):
    """The request's SigV4 signature is malformed (AWS: IncompleteSignatureException and kin).

    AWS answers these before it looks at the request: DynamoDB with HTTP 400, most other
    services with 403. ``status`` is the 403; the gateway uses 400 for DynamoDB.
    """


LAMBDA_PATH_PREFIXES = (
    "/2015-03-31/",
    "/2017-10-31/",
    "/2018-10-31/",
    "/2019-09-25/",
    "/2019-09-30/",
    "/2020-04-22/",
    "/2021-10-31/",
)
_ALGORITHM = "AWS4-HMAC-SHA256"
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
_REQUIRED_PARAMETERS = ("Credential", "Signature", "SignedHeaders")
#: Where the parsed scope of a request is kept, so it is parsed (and checked) once.
_ENVIRON_KEY = "streamlab.credential_scope"


def credential_scope(environ: dict[str, Any]) -> Scope | None:
    """The (service, region) of a SigV4 request, or None for an unsigned one.

    The region ends up in file paths and lookup keys, so a malformed Authorization header or
    credential, or a region that is not a region name, raises :class:`SignatureError` with the
    error AWS gives, and no service ever sees it.
    """
    if _ENVIRON_KEY not in environ:
        try:
            environ[_ENVIRON_KEY] = _parse_scope(environ)
        except SignatureError as error:
            environ[_ENVIRON_KEY] = error
    scope: Scope | SignatureError | None = environ[_ENVIRON_KEY]
    if isinstance(scope, SignatureError):
        raise scope
    return scope


def _parse_scope(environ: dict[str, Any]) -> Scope | None:
    auth = environ.get("HTTP_AUTHORIZATION", "").strip()
    if auth:
        return _scope_of(_credential_from_header(auth, environ))
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Credential" in query:
        return _scope_of(parse_qs(query).get("X-Amz-Credential", [""])[0])
    return None


def _hashed(value: str) -> str:
    return base64.b64encode(hashlib.sha256(value.encode("utf-8", "replace")).digest()).decode()


def _credential_from_header(auth: str, environ: dict[str, Any]) -> str:
    algorithm, _, rest = auth.partition(" ")
    pairs: dict[str, str] = {}
    for part in re.split(r"[,\s]+", rest):
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals:
            raise SignatureError(
                "IncompleteSignatureException",
                "Invalid key=value pair (missing equal-sign) in Authorization header "
                f"(hashed with SHA-256 and encoded with Base64): '{_hashed(auth)}'.",
                status=403,
            )
        pairs[name] = value
    missing = "".join(
        f"Authorization header requires '{name}' parameter. " for name in _REQUIRED_PARAMETERS if not pairs.get(name)
    )
    if not environ.get("HTTP_X_AMZ_DATE") and not environ.get("HTTP_DATE"):
        missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
    if missing:
        raise SignatureError(
            "IncompleteSignatureException",
            f"{missing}(Hashed with SHA-256 and encoded with Base64) Authorization={_hashed(auth)}",
            status=403,
        )
    if algorithm != _ALGORITHM:
        raise SignatureError(
            "IncompleteSignatureException",
            f"Unsupported AWS 'algorithm': '{algorithm}' (only {_ALGORITHM} for now). ",
            status=403,
        )
    return pairs["Credential"]


def _scope_of(credential: str) -> Scope:
    fields = credential.rstrip("/").split("/")
    if len(fields) != 5:
        raise SignatureError(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'",
            status=403,
        )
    _, _, region, service, terminator = fields
    problems = ""
    if not is_region_name(region):
        problems += f"Credential should be scoped to a valid region, not '{region}'. "
    if not _SERVICE_NAME.match(service.lower()):
        problems += "Credential should be scoped to correct service. "
    if terminator != "aws4_request":
        problems += f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
    if problems:
        raise SignatureError("InvalidSignatureException", problems.strip(), status=403)
    return Scope(service=service.lower(), region=region)


def is_lambda_request(environ: dict[str, Any]) -> bool:
    """True for requests the Lambda service answers (signed for ``lambda``, or unsigned on its paths)."""
    scope = credential_scope(environ)
    if scope is not None:
        return scope.service == "lambda"
    return str(environ.get("PATH_INFO", "")).startswith(LAMBDA_PATH_PREFIXES)


def dynamodb_operation(environ: dict[str, Any]) -> str | None:
    """``PutItem`` for ``X-Amz-Target: DynamoDB_20120810.PutItem``; None for other services."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    prefix, _, operation = target.partition(".")
    if prefix.startswith("DynamoDB_"):
        return operation
    return None
