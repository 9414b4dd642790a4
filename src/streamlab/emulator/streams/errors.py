"""The errors the DynamoDB Streams API answers, with the codes boto3 turns into exceptions.

Messages are AWS's where a recording gives them (ResourceNotFoundException: LocalStack's AWS
snapshot ``test_non_existent_stream``, validated 2024-11-20); elsewhere they are the first
sentence of the error's documentation in the ``dynamodbstreams`` service model.
"""

from __future__ import annotations

from streamlab.errors import StreamlabError


class StreamsError(StreamlabError):
    """An HTTP 400 DynamoDB Streams error: ``code`` is what boto3 shows as ``Error.Code``."""

    code = "InternalServerError"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(StreamsError):
    code = "ValidationException"


class ResourceNotFound(StreamsError):
    code = "ResourceNotFoundException"


class ExpiredIterator(StreamsError):
    code = "ExpiredIteratorException"

    def __init__(
        self,
        message: str = (
            "The shard iterator has expired and can no longer be used to retrieve stream records. "
            "A shard iterator expires 15 minutes after it is retrieved using the GetShardIterator action."
        ),
    ) -> None:
        super().__init__(message)


class TrimmedDataAccess(StreamsError):
    code = "TrimmedDataAccessException"

    def __init__(
        self, message: str = "The operation attempted to read past the oldest stream record in a shard."
    ) -> None:
        super().__init__(message)


class LimitExceeded(StreamsError):
    code = "LimitExceededException"


def stream_not_found(arn: str) -> ResourceNotFound:
    return ResourceNotFound(f"Requested resource not found: Stream: {arn} not found")


def shard_not_found(shard_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Requested resource not found: Shard: {shard_id} does not exist")


def table_not_found(table: str) -> ResourceNotFound:
    return ResourceNotFound(f"Requested resource not found: Table: {table} not found")
