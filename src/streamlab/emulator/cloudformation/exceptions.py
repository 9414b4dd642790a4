"""CloudFormation's errors, with the codes and HTTP statuses of its service model."""

from __future__ import annotations

from streamlab.errors import StreamlabError


class CloudFormationError(StreamlabError):
    """An error answered to the caller: ``code`` is what boto3 shows as ``Error.Code``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class ValidationError(CloudFormationError):
    """CloudFormation's catch-all for bad input (``ValidationError``, HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__("ValidationError", message)


class AlreadyExistsException(CloudFormationError):
    def __init__(self, message: str) -> None:
        super().__init__("AlreadyExistsException", message)


class InsufficientCapabilitiesException(CloudFormationError):
    def __init__(self, message: str) -> None:
        super().__init__("InsufficientCapabilitiesException", message)


class ChangeSetNotFoundException(CloudFormationError):
    def __init__(self, message: str) -> None:
        super().__init__("ChangeSetNotFound", message, status=404)


class InvalidChangeSetStatusException(CloudFormationError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidChangeSetStatus", message)


class TemplateError(ValidationError):
    """A template that cannot be deployed: answered as ``ValidationError`` before anything is created."""


class ResourceFailure(StreamlabError):
    """A provider could not create, update or delete a resource; the message becomes the event's reason."""
