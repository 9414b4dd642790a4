"""The SAM transform (``AWS::Serverless-2016-10-31``), applied by AWS's own translator.

aws-sam-translator is what CloudFormation runs for this transform; it needs the AWS managed
policies by name (``Policies: [AmazonDynamoDBReadOnlyAccess]``), which are read from the
endpoint's IAM service once per process.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from streamlab.emulator.cloudformation.exceptions import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

#: Lists the AWS managed policies: {policy name: ARN}.
ManagedPolicies = Callable[[], dict[str, str]]

# The translator keeps the region in a class attribute: one translation at a time.
_LOCK = threading.Lock()


def apply_sam(
    template: dict[str, Any], parameters: dict[str, Any], pseudo: dict[str, Any], managed_policies: ManagedPolicies
) -> dict[str, Any]:
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    values = {**{key: value for key, value in pseudo.items() if key != "AWS::NotificationARNs"}, **parameters}
    session = boto3.Session(region_name=str(pseudo["AWS::Region"]))
    with _LOCK:
        translator = Translator(None, Parser(), boto_session=session)
        try:
            return dict(
                translator.translate(
                    copy.deepcopy(template), parameter_values=values, get_managed_policy_map=managed_policies
                )
            )
        except InvalidDocumentException as error:
            causes = " ".join(cause.message for cause in error.causes)
            raise TemplateError(f"Transform {SAM_TRANSFORM} failed with: {error.message} {causes}".strip()) from None
        except Exception as error:  # the translator's other failures are template errors too
            raise TemplateError(f"Transform {SAM_TRANSFORM} failed with: {error}") from None


class ManagedPolicyMap:
    """The AWS managed policies of the endpoint's IAM (ListPolicies, Scope AWS), read once."""

    def __init__(self, iam_client: Callable[[], Any]) -> None:
        self._iam_client = iam_client
        self._map: dict[str, str] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, str]:
        with self._lock:
            if self._map is None:
                found: dict[str, str] = {}
                paginator = self._iam_client().get_paginator("list_policies")
                for page in paginator.paginate(Scope="AWS"):
                    for policy in page["Policies"]:
                        found[policy["PolicyName"]] = policy["Arn"]
                self._map = found
            return self._map
