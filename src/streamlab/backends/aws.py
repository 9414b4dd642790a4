"""Real AWS: the default boto3 credential chain and region, no endpoint URL."""

from __future__ import annotations

import os

import boto3

from streamlab.backends.base import Backend, BackendUnavailable

DEFAULT_REGION = "us-east-1"


def aws_region(session: boto3.Session | None = None) -> str:
    """``AWS_REGION`` / ``AWS_DEFAULT_REGION`` / the profile's region, else us-east-1."""
    env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return env or (session.region_name if session else None) or DEFAULT_REGION


class AwsBackend(Backend):
    """Nothing to start: checks that the default credential chain yields credentials."""

    name = "aws"

    def __init__(self, session: boto3.Session | None = None, region: str | None = None) -> None:
        self.session = session or boto3.Session()
        self.region = region or aws_region(self.session)

    def credentials_available(self) -> tuple[bool, str]:
        if self.session.get_credentials() is None:
            return False, (
                "no AWS credentials in the default chain (environment, ~/.aws, SSO, "
                "instance role); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        return True, ""

    def start(self) -> None:
        ok, reason = self.credentials_available()
        if not ok:
            raise BackendUnavailable(reason)
        return None

    def stop(self) -> None:
        return None
