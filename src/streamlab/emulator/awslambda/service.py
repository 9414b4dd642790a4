"""The Lambda service of the embedded endpoint (a WSGI app the gateway routes ``lambda`` to)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


class LambdaService:
    """Answers the Lambda REST API. Until the control plane lands it knows no functions."""

    def __init__(self, endpoint_url: Callable[[], str]) -> None:
        self._endpoint_url = endpoint_url

    def start(self) -> None:
        """Start background parts (runtime API server, environments)."""

    def stop(self) -> None:
        """Stop every execution environment and background thread."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path.rstrip("/") == "/2015-03-31/functions":
            return _json(start_response, 200, {"Functions": []})
        return _json(
            start_response,
            404,
            {"Type": "User", "message": f"The Lambda API {environ.get('REQUEST_METHOD')} {path} is not supported"},
            error_type="UnknownOperationException",
        )


def _json(start_response: Callable[..., Any], status: int, body: dict[str, Any], error_type: str | None = None) -> Iterable[bytes]:
    payload = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    reasons = {200: "OK", 404: "Not Found"}
    start_response(f"{status} {reasons.get(status, '')}", headers)
    return [payload]
