"""Events other services push to functions (SNS subscriptions, S3 notifications): checked, then queued.

moto keeps its state per process, so its SNS and S3 find the Lambda service of the running
endpoint through :data:`PUSH_ROUTER`, which every :class:`~.service.LambdaService` joins while it
runs. A push is an asynchronous invocation (InvocationType Event: the async queue's retries,
EventInvokeConfig, destinations and DeadLetterConfig apply), allowed only when the function's
resource-based policy lets the pushing service's principal invoke it, as on AWS: AddPermission
with ``Principal`` ``sns.amazonaws.com`` / ``s3.amazonaws.com`` and, when the statement has them,
a matching ``SourceArn`` and ``SourceAccount``.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from streamlab.emulator.awslambda.exceptions import LambdaError
from streamlab.emulator.awslambda.models import Function, FunctionStore

log = logging.getLogger(__name__)

_INVOKE_ACTIONS = frozenset({"lambda:InvokeFunction", "lambda:*", "*"})


class PushVerdict(StrEnum):
    QUEUED = "queued"
    NO_FUNCTION = "no_function"
    NOT_PERMITTED = "not_permitted"


@dataclass(frozen=True)
class Push:
    """Who pushes what to which function."""

    function_arn: str  # the subscription's / notification's target, qualified or not
    payload: bytes
    principal: str  # sns.amazonaws.com, s3.amazonaws.com
    source_arn: str  # the topic, the bucket
    source_account: str | None = None


class PushReceiver(Protocol):
    """What a Lambda service offers the router (see LambdaService)."""

    store: FunctionStore

    def submit_push(self, function: Function, qualifier: str | None, payload: bytes) -> None: ...


def split_function_arn(function_arn: str) -> tuple[str, str, str | None] | None:
    """(region, name, qualifier) of ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``."""
    parts = function_arn.split(":")
    if len(parts) not in (7, 8) or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function":
        return None
    return parts[3], parts[6], parts[7] if len(parts) == 8 else None


def allows(statements: list[dict[str, Any]], push: Push) -> bool:
    """True when one Allow statement lets ``push.principal`` invoke (its conditions holding)."""
    return any(_statement_allows(statement, push) for statement in statements)


def _statement_allows(statement: dict[str, Any], push: Push) -> bool:
    if statement.get("Effect") != "Allow" or statement.get("Action") not in _INVOKE_ACTIONS:
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (isinstance(principal, dict) and principal.get("Service") == push.principal):
        return False
    condition = statement.get("Condition") or {}
    source_arn = (condition.get("ArnLike") or {}).get("AWS:SourceArn")
    if source_arn is not None and not fnmatch.fnmatchcase(push.source_arn, source_arn):
        return False
    source_account = (condition.get("StringEquals") or {}).get("AWS:SourceAccount")
    return source_account is None or source_account == push.source_account


class PushRouter:
    """The Lambda services running in this process, and the check every push passes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._receivers: list[PushReceiver] = []

    def join(self, receiver: PushReceiver) -> None:
        with self._lock:
            if receiver not in self._receivers:
                self._receivers.append(receiver)

    def leave(self, receiver: PushReceiver) -> None:
        with self._lock:
            if receiver in self._receivers:
                self._receivers.remove(receiver)

    def function_exists(self, function_arn: str) -> bool:
        return self._find(function_arn) is not None

    def permitted(self, push: Push) -> bool:
        """The function exists and its policy (of the qualifier named) lets the principal invoke it."""
        found = self._find(push.function_arn)
        if found is None:
            return False
        _, function, qualifier = found
        policy = function.policies.get(qualifier or "")
        return policy is not None and allows(policy.statements, push)

    def deliver(self, push: Push) -> PushVerdict:
        """Queue ``push`` as an Event invocation when it is allowed; say why not otherwise."""
        found = self._find(push.function_arn)
        if found is None:
            log.warning("%s push to %s dropped: no such function", push.principal, push.function_arn)
            return PushVerdict.NO_FUNCTION
        receiver, function, qualifier = found
        policy = function.policies.get(qualifier or "")
        if policy is None or not allows(policy.statements, push):
            log.warning(
                "%s push from %s to %s refused: the function's policy does not allow %s to invoke it (AddPermission)",
                push.principal,
                push.source_arn,
                push.function_arn,
                push.principal,
            )
            return PushVerdict.NOT_PERMITTED
        try:
            receiver.submit_push(function, qualifier, push.payload)
        except LambdaError as error:  # an alias or version that does not exist, a payload too large
            log.warning("%s push to %s dropped: %s", push.principal, push.function_arn, error.message)
            return PushVerdict.NO_FUNCTION
        return PushVerdict.QUEUED

    def _find(self, function_arn: str) -> tuple[PushReceiver, Function, str | None] | None:
        parsed = split_function_arn(function_arn)
        if parsed is None:
            return None
        region, name, qualifier = parsed
        with self._lock:
            receivers = list(self._receivers)
        for receiver in receivers:
            function = receiver.store.get(region, name)
            if function is not None:
                return receiver, function, qualifier
        return None


#: The one router of the process (moto's state is per process too).
PUSH_ROUTER = PushRouter()


def json_payload(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode("utf-8")
