"""Where a deploy goes: boto3 clients for one endpoint (or AWS), its account, region and backend kind.

The backend kind matters in one place only: function dependencies are installed for the
interpreter streamlab's embedded endpoint reports in its health answer (this one, unless the
endpoint runs in a container or on another machine) and for Lambda's Linux everywhere else.
The embedded endpoint is recognised by its public health route, never by reaching into it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import boto3
from botocore.config import Config

from streamlab.aws_rules import resolve_region

Backend = Literal["aws", "embedded", "other"]

HEALTH_PATH = "/_streamlab/health"
#: Credentials for local endpoints when the default chain has none (moto and LocalStack accept any).
LOCAL_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def detect_backend(endpoint_url: str | None, timeout: float = 2.0) -> Backend:
    """``aws`` without an endpoint; ``embedded`` when the endpoint answers streamlab's health route."""
    return probe_endpoint(endpoint_url, timeout)[0]


def probe_endpoint(endpoint_url: str | None, timeout: float = 20.0) -> tuple[Backend, dict[str, Any] | None]:
    """The backend kind, and for an embedded endpoint the ``runtime`` its functions run on.

    The timeout is generous: an endpoint's first health answer searches for every runtime's
    interpreter, and a probe that gave up early would build zips for the wrong Python.
    """
    if not endpoint_url:
        return "aws", None
    url = endpoint_url.rstrip("/") + HEALTH_PATH
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:  # 503 while starting still identifies the endpoint
        body = exc.read()
    except (OSError, ValueError):
        return "other", None
    try:
        health = json.loads(body)
    except ValueError:
        return "other", None
    if isinstance(health, dict) and isinstance(health.get("services"), dict) and "lambda" in health["services"]:
        runtime = health.get("runtime")
        return "embedded", runtime if isinstance(runtime, dict) else None
    return "other", None


@dataclass
class Target:
    """boto3 clients aimed at one endpoint, plus the account facts ARNs are built from."""

    session: boto3.Session
    endpoint_url: str | None
    region: str
    backend: Backend
    runtime: dict[str, Any] | None = None  # what an embedded endpoint's functions run on (its health answer)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def connect(
        cls,
        endpoint_url: str | None = None,
        region: str | None = None,
        session: boto3.Session | None = None,
        backend: Backend | None = None,
    ) -> Target:
        """Resolve region and credentials the way the AWS CLI would; local endpoints get dummy credentials.

        ``endpoint_url`` None falls back to ``AWS_ENDPOINT_URL`` (boto3 would send requests there
        anyway), so detection and credentials follow where the requests really go.
        """
        endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        region = resolve_region(region, session)
        if session is None:
            session = boto3.Session(region_name=region)
            if endpoint_url and session.get_credentials() is None:
                session = boto3.Session(region_name=region, **LOCAL_CREDENTIALS)
        runtime = None
        # An embedded endpoint is asked even when named: its health answer says which Python each
        # runtime runs on, which is what the functions' dependencies must be built for.
        if backend is None or (backend == "embedded" and endpoint_url):
            detected, runtime = probe_endpoint(endpoint_url)
            backend = backend or detected
        return cls(session, endpoint_url, region, backend, runtime)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, config=_CLIENT_CONFIG
            )
        return self._clients[service]

    @cached_property
    def _identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = self.client("sts").get_caller_identity()
        return identity

    @property
    def account(self) -> str:
        return str(self._identity["Account"])

    @property
    def partition(self) -> str:
        return str(self._identity.get("Arn", "arn:aws:").split(":")[1] or "aws")

    def arn(self, service: str, resource: str, *, regional: bool = True, with_account: bool = True) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>`` (region/account blank where AWS leaves them)."""
        region = self.region if regional else ""
        account = self.account if with_account else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def describe(self) -> str:
        where = self.endpoint_url or "AWS"
        runtime = ""
        if self.runtime and self.runtime.get("python"):
            runtime = f", functions on Python {self.runtime['python']} {self.runtime.get('platform') or ''}".rstrip()
        return f"{where} ({self.backend}, {self.region}{runtime})"


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
