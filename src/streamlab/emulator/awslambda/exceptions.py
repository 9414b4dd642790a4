"""The errors Lambda's API returns, with the codes and HTTP statuses boto3 maps to exceptions.

Every error is rendered the way AWS renders it for the REST-JSON protocol: an
``x-amzn-ErrorType`` header naming the code and a ``{"Type", "message"}`` body, so
``botocore`` raises ``client.exceptions.<Code>`` with ``response["Error"]["Message"]``.
"""

from __future__ import annotations

from typing import Any

from streamlab.errors import StreamlabError


class LambdaError(StreamlabError):
    """Base of every error the service reports to a caller."""

    code: str = "ServiceException"
    status: int = 500
    #: "User" for a caller's mistake, "Service" for ours (the ``Type`` field AWS sends); None: no Type.
    error_type: str | None = "Service"
    #: AWS spells the member ``Message`` for some errors and ``message`` for others (LocalStack's
    #: AWS-validated snapshots of test_lambda_api, 2025-11-25); botocore reads both.
    message_key = "message"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Extra members AWS puts beside ``message`` (e.g. ``Reason`` on throttles).
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {} if self.error_type is None else {"Type": self.error_type}
        return {**body, self.message_key: self.message, **self.extra}


class ServiceException(LambdaError):
    code = "ServiceException"
    status = 500


class ResourceNotFoundException(LambdaError):
    code = "ResourceNotFoundException"
    status = 404
    error_type = "User"
    message_key = "Message"


class ProvisionedConcurrencyConfigNotFoundException(LambdaError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404
    error_type = "User"


class ResourceConflictException(LambdaError):
    code = "ResourceConflictException"
    status = 409
    error_type = "User"


class ResourceInUseException(LambdaError):
    code = "ResourceInUseException"
    status = 400
    error_type = "User"


class InvalidParameterValueException(LambdaError):
    code = "InvalidParameterValueException"
    status = 400
    error_type = "User"


class ValidationException(LambdaError):
    """A request member breaks the API model's constraints (AWS sends no ``Type`` with it)."""

    code = "ValidationException"
    status = 400
    error_type = None


def constraint_violation(member: str, value: Any, constraint: str) -> ValidationException:
    """A request member that breaks the API model's constraint, in AWS's wording:
    ``1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: ...``."""
    shown = "null" if value is None else f"'{value}'"
    return ValidationException(
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {constraint}"
    )


class InvalidRequestContentException(LambdaError):
    """The request body is not valid JSON (or the Invoke payload is not)."""

    code = "InvalidRequestContentException"
    status = 400
    error_type = "User"


class RequestTooLargeException(LambdaError):
    code = "RequestTooLargeException"
    status = 413
    error_type = "User"


class PreconditionFailedException(LambdaError):
    code = "PreconditionFailedException"
    status = 412
    error_type = "User"


class TooManyRequestsException(LambdaError):
    """Throttled: AWS adds ``Reason`` and a ``Retry-After`` header."""

    code = "TooManyRequestsException"
    status = 429
    error_type = "User"

    def __init__(
        self, message: str = "Rate Exceeded.", reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded"
    ) -> None:
        super().__init__(message, Reason=reason)
        self.reason = reason


class UnknownOperationException(LambdaError):
    code = "UnknownOperationException"
    status = 404
    error_type = "User"
