"""Real AWS: the default boto3 credential chain and region, no endpoint URL."""

from __future__ import annotations

import boto3

from streamlab.aws_rules import resolve_region
from streamlab.backends.base import Backend, BackendUnavailable


class AwsBackend(Backend):
    """Nothing to start: checks that the default credential chain yields credentials."""

    name = "aws"

    def __init__(self, session: boto3.Session | None = None, region: str | None = None) -> None:
        self.session = session or boto3.Session()
        self.region = resolve_region(region, self.session)

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
