"""The gateway: one WSGI application in front of every service of the embedded endpoint.

Requests signed for ``lambda`` go to streamlab's Lambda service, those signed for ``cloudformation``
to streamlab's CloudFormation service; ``dynamodbstreams`` requests to streamlab's stream store
(:mod:`streamlab.emulator.streams`); everything else goes to moto's dispatcher, which picks the
moto backend from the same SigV4 scope. The gateway
also tells listeners (the event source mapping engine) when a DynamoDB write went
through, so stream records can be delivered without waiting for the next poll.

Paths under ``/_streamlab/`` are streamlab's own: the health check, the stream split
(``POST /_streamlab/streams/split``), and the observability routes (the dashboard at
``/_streamlab/``, ``/_streamlab/status``, ``/_streamlab/trace``; see
:mod:`streamlab.emulator.observability.routes`); any other answers 404 JSON.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import sys
import threading
import zlib
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from xml.sax.saxutils import escape

from streamlab import __version__
from streamlab.aws_rules import DEFAULT_REGION, arn_resource_name
from streamlab.emulator.dynamodb_expressions import check_placeholders
from streamlab.emulator.kinesis_destinations import OPERATIONS as KINESIS_OPERATIONS
from streamlab.emulator.kinesis_destinations import KinesisDestinationsApi
from streamlab.emulator.moto_patches import dispatch as moto_dispatch
from streamlab.emulator.readiness import StackReadiness
from streamlab.emulator.request_validation import (
    RequestError,
    json_error_body,
    service_for_target,
    validate_json_request,
    validate_rest_json_body,
    without_null_members,
)
from streamlab.emulator.routing import (
    LAMBDA_PATH_PREFIXES,
    Scope,
    SignatureError,
    credential_scope,
    dynamodb_operation,
    is_lambda_request,
)
from streamlab.emulator.streams import StreamsApi, control
from streamlab.packaging import runtime_description

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: ``listener(operation, written)`` after a write a mapping may read: ``written`` names the tables
#: (or Kinesis streams) it wrote to, empty when the request does not say (PartiQL): all may poll.
WriteListener = Callable[[str, frozenset[str]], None]
OwnRoutes = Callable[[str, str, str], "tuple[int, str, bytes] | None"]

log = logging.getLogger(__name__)

HEALTH_PATH = "/_streamlab/health"
OWN_PATHS = "/_streamlab/"
#: How far a gzip request body may inflate (AWS takes at most 1 MB for PutMetricData; a zip bomb stops here).
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024

#: The moto services the gateway is known to serve; moto answers many more.
MOTO_SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "sns", "s3", "logs", "iam", "sts")

#: DynamoDB operations that can put a record on a table's stream.
DYNAMODB_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)


#: Writes to the other polled sources (Kinesis): the engine's pollers may read now. SQS needs
#: none: its pollers long-poll, and moto answers a waiting ReceiveMessage on a send.
SOURCE_WRITES = frozenset({"Kinesis_20131202.PutRecord", "Kinesis_20131202.PutRecords"})


class Gateway:
    """Routes each request to the Lambda service, the stream store or moto; serves streamlab's own paths.

    ``streams`` None (plain moto, ``STREAMLAB_MOTO_COMPAT=0``) leaves DynamoDB Streams to moto.
    """

    def __init__(
        self,
        lambda_app: WSGIApp,
        runtimes: Callable[[], dict[str, Any]] | None = None,
        streams: StreamsApi | None = None,
        *,
        cloudformation_app: WSGIApp | None = None,
        own_routes: OwnRoutes | None = None,
        kinesis_destinations: KinesisDestinationsApi | None = None,
        stack: StackReadiness | None = None,
    ) -> None:
        """``own_routes(method, path, query)`` answers more ``/_streamlab/`` paths (status, the
        dashboard, traces) as ``(status, content type, body)``, or None for a path it does not serve."""
        self._own_routes = own_routes
        self._lambda_app = lambda_app
        #: DynamoDB's Kinesis streaming destination operations (moto has none); None: moto answers.
        self._kinesis_destinations = kinesis_destinations
        #: The stack ``up`` deploys: health answers 503 until it is there.
        self.stack = stack or StackReadiness()
        self._cloudformation_app = cloudformation_app
        #: What each Lambda runtime's functions run on, for the health answer.
        self._runtimes = runtimes
        self._streams = streams
        self._moto_app = moto_dispatch.CachedDispatcher()
        # moto's DynamoDB keeps tables in plain dicts and lists: one lock keeps each write whole
        # and the stream records it feeds in write order.
        self._dynamodb_lock = threading.Lock()
        self._write_listeners: list[WriteListener] = []
        self.ready = threading.Event()

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call ``listener(operation)`` after every successful DynamoDB write (and Kinesis put)."""
        self._write_listeners.append(listener)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._route(environ, start_response)
        except Exception as error:  # a defect below: still an AWS-shaped answer, never an empty body
            log.exception("request failed: %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            failure = RequestError("InternalFailure", f"{type(error).__name__}: {error}", status=500)
            return _error(environ, start_response, failure, sys.exc_info())

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or ""
        if path.startswith(OWN_PATHS):
            return self._own_path(path, environ, start_response)
        try:
            # Parsed and checked once, here: no service sees a malformed scope or a bad region.
            scope = credential_scope(environ)
            _decompress_body(environ)
        except RequestError as error:  # SignatureError is one
            return _error(environ, start_response, error)
        if is_lambda_request(environ):
            return self._call_lambda(environ, start_response)
        if self._cloudformation_app is not None and scope is not None and scope.service == "cloudformation":
            return self._cloudformation_app(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            return self._call_moto(environ, start_response)
        json_service: str | None = None
        try:
            json_service = service_for_target(target, scope.service if scope is not None else None)
            if json_service is None:
                return self._call_moto(environ, start_response, scope.service if scope is not None else "unknown")
            body = _read_body(environ)
            payload = validate_json_request(json_service, target, body, signed=scope is not None)
            if json_service == "dynamodb" and isinstance(payload, dict):
                check_placeholders(target.partition(".")[2], payload)
            if b"null" in body and payload is not None and (cleaned := without_null_members(payload)) is not payload:
                body = json.dumps(cleaned).encode()  # members sent as null are absent, as AWS reads them
                environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        except RequestError as error:
            return _json_error(start_response, json_service or _signing_name(scope), error)
        if json_service == "dynamodbstreams" and self._streams is not None:
            return self._call_streams(environ, target, body, start_response)
        if json_service in ("dynamodb", "dynamodbstreams"):
            region = scope.region if scope is not None else DEFAULT_REGION
            return self._call_dynamodb(json_service, region, environ, body, start_response, payload)
        return self._call_moto(environ, start_response, json_service, payload)

    def _call_lambda(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
            validate_rest_json_body("lambda", method, path, _read_body(environ))
        except RequestError as error:
            return _error(environ, start_response, error)
        return self._lambda_app(environ, start_response)

    def _call_moto(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        json_service: str | None = None,
        request: Any = None,
    ) -> Iterable[bytes]:
        """Call moto and buffer its answer, so a crash inside moto becomes an AWS-shaped 500."""
        captured: list[tuple[str, list[Any]]] = []

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [(status, headers)]
            return lambda data: None

        try:
            body = self._moto_app(environ, capture)
            try:
                payload = b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except Exception as error:  # moto raised instead of answering: report, don't drop the connection
            log.exception("moto failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            failure = RequestError("InternalFailure", f"{type(error).__name__}: {error}", status=500)
            if json_service is not None:
                return _json_error(start_response, json_service, failure)
            return _xml_error(start_response, failure)
        status, headers = captured[0]
        if status.startswith("200") and environ.get("HTTP_X_AMZ_TARGET", "") in SOURCE_WRITES:
            for listener in self._write_listeners:  # a Kinesis mapping may poll now
                listener(environ["HTTP_X_AMZ_TARGET"].partition(".")[2], written_sources(request))
        start_response(status, headers)
        return [payload]

    def _call_dynamodb(
        self,
        service: str,
        region: str,
        environ: dict[str, Any],
        body: bytes,
        start_response: Callable[..., Any],
        request: Any = None,
    ) -> Iterable[bytes]:
        operation = dynamodb_operation(environ)
        if service == "dynamodb" and operation in KINESIS_OPERATIONS and self._kinesis_destinations is not None:
            with self._dynamodb_lock:
                status, answer = self._kinesis_destinations.handle(operation, body, region)
            start_response(
                f"{status} {HTTPStatus(status).phrase}",
                [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(answer)))],
            )
            return [answer]
        try:
            with self._dynamodb_lock:
                status, headers, payload = moto_dispatch.dispatch(service, region, environ, body)
        except Exception as error:  # moto raised instead of answering: report, don't drop the connection
            log.exception("moto failed on %s", environ.get("HTTP_X_AMZ_TARGET"))
            return _json_error(
                start_response, service, RequestError("InternalFailure", f"{type(error).__name__}: {error}", status=500)
            )
        if status == 200 and operation in DYNAMODB_WRITES:
            written = written_sources(request)
            if written and self._kinesis_destinations is not None:  # the change went on to Kinesis too
                written |= self._kinesis_destinations.streams_fed_by(written)
            for listener in self._write_listeners:
                listener(operation, written)
        headers = {
            name: str(value) for name, value in headers.items() if name.lower() not in ("content-length", "status")
        }
        headers["Content-Length"] = str(len(payload))
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [payload]

    def _services(self) -> tuple[str, ...]:
        own = ("lambda", "cloudformation") if self._cloudformation_app is not None else ("lambda",)
        return (*own, *MOTO_SERVICES)

    def _call_streams(
        self, environ: dict[str, Any], target: str, body: bytes, start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        assert self._streams is not None
        scope = credential_scope(environ)
        region = scope.region if scope is not None else "us-east-1"
        status, payload = self._streams.handle(target.partition(".")[2], body, region)
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def _own_path(self, path: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if path == HEALTH_PATH:
            return self._health(start_response)
        if path == control.SPLIT_PATH and self._streams is not None:
            method = environ.get("REQUEST_METHOD", "GET")
            status, answer = control.split(self._streams.store, method, _read_body(environ))
            return _json_answer(start_response, status, answer)
        if self._own_routes is not None:
            routed = self._own_routes(environ.get("REQUEST_METHOD", "GET"), path, environ.get("QUERY_STRING", ""))
            if routed is not None:
                status, content_type, body = routed
                headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
                if content_type.startswith("text/html"):
                    # The dashboard is the endpoint's own page: no other origin may frame it.
                    headers.append(("X-Frame-Options", "DENY"))
                return _answer(start_response, status, [*headers, ("Cache-Control", "no-store")], body)
        return _json_answer(start_response, 404, {"error": "NotFound", "message": f"no streamlab route {path}"})

    def _health(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = self.ready.is_set()
        ready = started and self.stack.ready
        stack = self.stack.describe()
        body = json.dumps(
            {
                "status": "ready" if ready else ("starting" if not started else stack["state"]),
                "stack": stack,
                "version": __version__,
                "services": {name: "available" for name in self._services()},
                # What functions run on here, so a deploy from elsewhere builds dependencies for it:
                # the endpoint's interpreter, and the one each Lambda runtime gets.
                "runtime": {
                    **runtime_description(),
                    **({"runtimes": self._runtimes()} if self._runtimes is not None else {}),
                },
                **({"streams": self._streams.store.stats()} if self._streams is not None else {}),
            }
        ).encode()
        start_response(
            "200 OK" if ready else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def written_sources(payload: Any) -> frozenset[str]:
    """The tables (or Kinesis streams) a write request (its parsed JSON) names, as names (an ARN's last part):
    ``TableName``, BatchWriteItem's ``RequestItems``, each TransactWriteItems action's, Kinesis'
    ``StreamName`` / ``StreamARN``. Empty when it names none (PartiQL): then every mapping may read."""
    if not isinstance(payload, dict):
        return frozenset()
    names: list[Any] = [payload.get("TableName"), payload.get("StreamName"), payload.get("StreamARN")]
    if isinstance(payload.get("RequestItems"), dict):
        names += list(payload["RequestItems"])
    for item in payload.get("TransactItems") or []:
        if isinstance(item, dict):
            names += [action.get("TableName") for action in item.values() if isinstance(action, dict)]
    return frozenset(arn_resource_name(name) for name in names if isinstance(name, str) and name)


def _decompress_body(environ: dict[str, Any]) -> None:
    """A gzip body (botocore compresses PutMetricData bodies over 10 KB) becomes the plain body, once,
    here: the JSON checks and every service then read what the client meant."""
    encodings = [e.strip().lower() for e in environ.get("HTTP_CONTENT_ENCODING", "").split(",") if e.strip()]
    if "gzip" not in encodings:
        return
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(_read_body(environ))) as compressed:
            body = compressed.read(MAX_DECOMPRESSED_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        raise RequestError("SerializationException", "Request body is not valid gzip") from None
    if len(body) > MAX_DECOMPRESSED_BYTES:
        raise RequestError(
            "RequestEntityTooLarge", f"Request body inflates to more than {MAX_DECOMPRESSED_BYTES} bytes", status=413
        )
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    rest = [e for e in encodings if e != "gzip"]
    if rest:
        environ["HTTP_CONTENT_ENCODING"] = ",".join(rest)
    else:
        del environ["HTTP_CONTENT_ENCODING"]


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back, so the backend can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json_answer(start_response: Callable[..., Any], status: int, answer: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(answer).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _signing_name(scope: Scope | None) -> str:
    return scope.service if scope is not None else "unknown"


def _error(
    environ: dict[str, Any], start_response: Callable[..., Any], error: RequestError, exc_info: Any = None
) -> Iterable[bytes]:
    """Answer ``error`` in the protocol the request spoke: REST-JSON (Lambda), JSON (X-Amz-Target), XML."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if environ.get("PATH_INFO", "").startswith(LAMBDA_PATH_PREFIXES):
        body = json.dumps({"Type": "User" if error.status < 500 else "Service", "message": error.message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code)]
        return _answer(start_response, error.status, headers, body, exc_info)
    if target:
        service = "dynamodb" if target.startswith("DynamoDB") else target.partition(".")[0].lower() or "unknown"
        if service == "dynamodb" and isinstance(error, SignatureError):
            error = RequestError(error.code, error.message, status=400)  # DynamoDB answers these with 400
        return _json_error(start_response, service, error, exc_info)
    if error.code in _QUERY_SIGNATURE_ERRORS:
        code, status = _QUERY_SIGNATURE_ERRORS[error.code]
        error = RequestError(code, error.message, status=status)
    return _xml_error(start_response, error, exc_info)


#: What the XML (query) services call the signature errors, with their status (AWS's common errors).
_QUERY_SIGNATURE_ERRORS = {
    "IncompleteSignatureException": ("IncompleteSignature", 400),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
}


def _answer(
    start_response: Callable[..., Any], status: int, headers: list[tuple[str, str]], body: bytes, exc_info: Any = None
) -> Iterable[bytes]:
    start_response(f"{status} {HTTPStatus(status).phrase}", [*headers, ("Content-Length", str(len(body)))], exc_info)
    return [body]


def _json_error(
    start_response: Callable[..., Any], service: str, error: RequestError, exc_info: Any = None
) -> Iterable[bytes]:
    body = json_error_body(service, error)
    start_response(
        f"{error.status} {HTTPStatus(error.status).phrase}",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-ErrorType", error.code),
        ],
        exc_info,
    )
    return [body]


def _xml_error(start_response: Callable[..., Any], error: RequestError, exc_info: Any = None) -> Iterable[bytes]:
    fault = "Sender" if error.status < 500 else "Receiver"
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Type>{fault}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error></ErrorResponse>"
    ).encode()
    return _answer(start_response, error.status, [("Content-Type", "text/xml")], body, exc_info)
