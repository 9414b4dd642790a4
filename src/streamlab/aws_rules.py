"""What AWS allows, and what streamlab assumes, in one place.

Every module that checks a value against an AWS rule (a runtime name, a mapping parameter's
range, a filter limit, a region) reads it from here, so the stack loader, the control plane
and the engine cannot disagree. Sources: the botocore service models (enums and ranges),
docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html, lambda-runtimes.html and
configuration-envvars.html; shared/reference/esm-semantics.md has the rest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

# --- accounts and regions ----------------------------------------------------------------------

#: The region used when nothing names one (botocore itself has no default).
DEFAULT_REGION = "us-east-1"
#: moto's default account: ARNs made by streamlab and by moto's services must agree.
ACCOUNT_ID = "123456789012"

#: ``us-east-1``, ``eu-central-2``, ``us-gov-west-1``, ``cn-north-1``, ``us-isob-east-1``. A region
#: name reaches file paths and lookup keys, so anything else is refused before it is used.
REGION_NAME = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")


#: What :func:`resolve_region` falls back to, for ``--region`` help texts.
REGION_ORDER = "AWS_DEFAULT_REGION, the profile's region, AWS_REGION, else us-east-1"


def is_region_name(value: object) -> bool:
    return isinstance(value, str) and REGION_NAME.fullmatch(value) is not None


def resolve_region(explicit: str | None = None, session: Any = None, environ: Mapping[str, str] | None = None) -> str:
    """The region a call goes to: botocore's order, then streamlab's fallbacks.

    1. ``explicit`` (a ``--region`` flag, a ``region_name`` argument);
    2. ``session``'s region, when a boto3 session is given (it already reflects 3 and 4 unless
       it was made for a region);
    3. ``AWS_DEFAULT_REGION``, the variable botocore reads;
    4. the profile's ``region`` in the shared config file (``AWS_PROFILE``, else default);
    5. ``AWS_REGION``, which Lambda and the other SDKs set but botocore does not read;
    6. :data:`DEFAULT_REGION`.
    """
    environ = os.environ if environ is None else environ
    if explicit:
        return explicit
    region = getattr(session, "region_name", None) if session is not None else None
    region = region or environ.get("AWS_DEFAULT_REGION") or _profile_region() or environ.get("AWS_REGION")
    return str(region or DEFAULT_REGION)


def _profile_region() -> str | None:
    import botocore.exceptions
    import botocore.session

    try:
        region = botocore.session.get_session().get_config_variable("region")
    except botocore.exceptions.ProfileNotFound:
        return None
    return str(region) if region else None


# --- DynamoDB ----------------------------------------------------------------------------------

#: An attribute value may nest maps and lists this many levels deep, the attribute itself being
#: level 1 (measured against DynamoDB, eu-west-2, 2026-06: 31 wraps accepted, 32 refused).
MAX_ATTRIBUTE_NESTING = 32
#: Items in one TransactWriteItems / TransactGetItems call.
MAX_TRANSACTION_ITEMS = 100
#: How long a ClientRequestToken makes TransactWriteItems idempotent.
TRANSACTION_TOKEN_TTL_SECONDS = 600
NESTING_MESSAGE = (
    "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
)


# --- Lambda functions -------------------------------------------------------------------------

#: The Python runtimes AWS lets a function be created with (lambda-runtimes.html, December 2026:
#: python3.9 is deprecated and blocked for new functions).
PYTHON_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13", "python3.14")
DEFAULT_RUNTIME = "python3.12"

#: Variables Lambda sets itself and refuses in a function's configuration (configuration-envvars.html).
RESERVED_ENVIRONMENT_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def arn_resource_name(arn: str) -> str:
    """The named resource of an ARN: ``Orders`` of ``arn:aws:dynamodb:R:A:table/Orders`` and of its
    stream ``.../table/Orders/stream/LABEL``, ``clicks`` of ``arn:aws:kinesis:R:A:stream/clicks``."""
    resource = arn.split(":", 5)[-1].split("/")
    return resource[1] if len(resource) > 1 else resource[0]


def runtime_python_version(runtime: str) -> str:
    """``python3.12`` -> ``3.12``."""
    return runtime.removeprefix("python")


# --- event source mappings --------------------------------------------------------------------


class StartingPosition(StrEnum):
    TRIM_HORIZON = "TRIM_HORIZON"
    LATEST = "LATEST"
    AT_TIMESTAMP = "AT_TIMESTAMP"


#: Which starting positions each stream source accepts (AT_TIMESTAMP is Kinesis only).
STREAM_STARTING_POSITIONS: Mapping[str, tuple[StartingPosition, ...]] = {
    "dynamodb": (StartingPosition.TRIM_HORIZON, StartingPosition.LATEST),
    "kinesis": (StartingPosition.TRIM_HORIZON, StartingPosition.LATEST, StartingPosition.AT_TIMESTAMP),
}


class FunctionResponseType(StrEnum):
    REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


class MappingState(StrEnum):
    """``State`` of an event source mapping, as GetEventSourceMapping reports it."""

    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"


#: States a mapping passes through on its way to Enabled or Disabled.
TRANSIENT_MAPPING_STATES = frozenset(
    {MappingState.CREATING, MappingState.ENABLING, MappingState.DISABLING, MappingState.UPDATING}
)


class EventSourceKind(StrEnum):
    """The event sources the mapping engine polls (the service part of their ARN)."""

    DYNAMODB = "dynamodb"
    KINESIS = "kinesis"
    SQS = "sqs"


class BatchOutcome(StrEnum):
    """What one invocation meant for its batch (the engine's verdict)."""

    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"


class DiscardCondition(StrEnum):
    """``requestContext.condition`` of an on-failure record (services-dynamodb-errors.html)."""

    RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
    RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


class ProcessingResult(StrEnum):
    """``LastProcessingResult`` of a mapping."""

    NO_RECORDS = "No records processed"
    OK = "OK"
    FUNCTION_CALL_FAILED = "PROBLEM: Function call failed"


#: BatchSize per source when a request names none.
DEFAULT_BATCH_SIZE: Mapping[str, int] = {"dynamodb": 100, "kinesis": 100, "sqs": 10}

#: Mapping parameter -> (inclusive low, inclusive high) for the stream sources (services-ddb-params.html).
STREAM_PARAMETER_RANGES: Mapping[str, tuple[int, int]] = {
    "BatchSize": (1, 10_000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "MaximumRetryAttempts": (-1, 10_000),
    "ParallelizationFactor": (1, 10),
    "TumblingWindowInSeconds": (0, 900),
}
#: MaximumRecordAgeInSeconds: -1 (forever), or between these.
RECORD_AGE_RANGE = (60, 604_800)
#: An SQS batch above 10 messages needs a batching window.
SQS_MAX_BATCH_WITHOUT_WINDOW = 10
#: ReceiveMessage returns at most this many messages a call.
SQS_RECEIVE_LIMIT = 10
#: ScalingConfig.MaximumConcurrency for SQS mappings (with-sqs-scaling.html): 2 to 1000.
SQS_MAXIMUM_CONCURRENCY_RANGE = (2, 1000)
#: How many batches an SQS mapping without ScalingConfig runs at once here. AWS starts with
#: 5 pollers and scales up to 1,250 concurrent invokes; one machine cannot, so this is ours.
SQS_DEFAULT_CONCURRENCY = 5
#: A queue's visibility timeout when it names none (SQS CreateQueue default).
SQS_DEFAULT_VISIBILITY_TIMEOUT = 30

#: GetRecords returns at most this many records a call (DynamoDB Streams and Kinesis).
GET_RECORDS_LIMIT = 1000
#: Synchronous invocation payload limit: a batch is cut before it.
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
#: Tumbling-window state per shard; above it the window ends early.
MAX_WINDOW_STATE_BYTES = 1024 * 1024

# --- DynamoDB Streams ---------------------------------------------------------------------------

#: "All data in DynamoDB Streams is subject to a 24-hour lifetime" (Streams.html).
STREAM_RETENTION_SECONDS = 24 * 60 * 60
#: "A shard iterator expires 15 minutes after it is returned to the requester" (GetShardIterator).
SHARD_ITERATOR_TTL_SECONDS = 15 * 60
SHARD_ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
#: DescribeStream's and ListStreams' Limit: "The upper limit is 100."
DESCRIBE_STREAM_LIMIT = 100
#: The SequenceNumber shape: 21 to 40 digits.
SEQUENCE_NUMBER = re.compile(r"[0-9]{21,40}")
#: ``shardId-<20 digits>-<1 to 36 letters and digits>`` (the format LocalStack's AWS-validated tests check).
SHARD_ID = re.compile(r"shardId-[0-9]{20}-[a-zA-Z0-9]{1,36}")

# --- event filtering ---------------------------------------------------------------------------

#: Filters per mapping (a quota AWS can raise to 10), OR'ed.
MAX_FILTERS = 5
INVALID_FILTER_MESSAGE = "Invalid filter pattern definition."

# -- CloudFormation ---------------------------------------------------------------------------
#: CreateStack's TemplateBody limit; larger templates go through TemplateURL.
TEMPLATE_BODY_MAX_BYTES = 51_200
#: The limit of a template read from TemplateURL (S3).
TEMPLATE_URL_MAX_BYTES = 1_000_000
#: A stack name: a letter, then letters, digits and hyphens, 128 characters at most.
STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")

# -- CloudWatch: what Lambda publishes and how alarms read it ---------------------------------
#: Lambda's metrics namespace and the dimension names it uses (monitoring-metrics-types.html).
LAMBDA_NAMESPACE = "AWS/Lambda"
DIM_FUNCTION_NAME = "FunctionName"
DIM_RESOURCE = "Resource"  # function:qualifier for a version or alias
DIM_EXECUTED_VERSION = "ExecutedVersion"  # with Resource, when an alias was invoked
DIM_EVENT_SOURCE_MAPPING = "EventSourceMappingUUID"  # the event source mapping metrics only
#: PutMetricData takes up to 1,000 metrics a call (CloudWatch quotas).
PUT_METRIC_DATA_LIMIT = 1000


class ComparisonOperator(StrEnum):
    """PutMetricAlarm's static-threshold operators, with the words AWS's state reasons use."""

    GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    GREATER = "GreaterThanThreshold"
    LESS = "LessThanThreshold"
    LESS_OR_EQUAL = "LessThanOrEqualToThreshold"

    @property
    def words(self) -> str:
        return {
            "GreaterThanOrEqualToThreshold": "greater than or equal to",
            "GreaterThanThreshold": "greater than",
            "LessThanThreshold": "less than",
            "LessThanOrEqualToThreshold": "less than or equal to",
        }[self.value]

    def breaches(self, value: float, threshold: float) -> bool:
        if self is ComparisonOperator.GREATER_OR_EQUAL:
            return value >= threshold
        if self is ComparisonOperator.GREATER:
            return value > threshold
        if self is ComparisonOperator.LESS:
            return value < threshold
        return value <= threshold


class TreatMissingData(StrEnum):
    MISSING = "missing"  # the default
    IGNORE = "ignore"
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


#: The Region field of an alarm's SNS message is the region's long name
#: (LocalStack's test_cloudwatch snapshots, recorded against AWS 2023-10-26, mask it as region-name-full).
REGION_LONG_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "eu-south-1": "EU (Milan)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "sa-east-1": "South America (Sao Paulo)",
}


# -- asynchronous invocation and pushes --------------------------------------------------------
#: A function's DeadLetterConfig.TargetArn: an SQS queue or an SNS topic (invocation-async-retain-records).
DEAD_LETTER_TARGET_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")
#: What the Lambda service sends with an event it parks in a dead-letter queue (names and types
#: of LocalStack's AWS-recorded TestLambdaDLQ::test_dead_letter_queue, 2024-03-21).
DEAD_LETTER_ATTRIBUTES = (("RequestID", "String"), ("ErrorCode", "Number"), ("ErrorMessage", "String"))
#: The service principals that push events to a function, and the permission each needs.
SNS_PRINCIPAL = "sns.amazonaws.com"
S3_PRINCIPAL = "s3.amazonaws.com"
#: SQS limits StartMessageMoveTask: at most this many messages a second (MaxNumberOfMessagesPerSecond).
MESSAGE_MOVE_MAX_RATE = 500
