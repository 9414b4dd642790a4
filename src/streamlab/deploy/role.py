"""The functions' IAM execution role: stream reads, logs, the stack's data, the on-failure destinations.

Created through IAM on every target (moto and LocalStack serve IAM too), so the same code path
runs everywhere and the role ARN handed to CreateFunction is always real. The inline policy is
scoped to the stack: the declared tables' streams (like AWSLambdaDynamoDBExecutionRole, which
grants the same actions on ``*``), CloudWatch Logs, item reads and writes on the stack's tables,
objects in its buckets and Publish to its topics (what the handlers do), and SendMessage / Publish /
PutObject on the queues, topics and buckets used as on-failure destinations.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from botocore.exceptions import ClientError

from streamlab.deploy.report import Change
from streamlab.deploy.target import Target, error_code
from streamlab.stack import Stack

POLICY_NAME = "streamlab-execution"
TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def execution_policy(target: Target, stack: Stack) -> dict[str, Any]:
    """The inline policy the stack's functions and mappings need."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": target.arn("logs", "*"),
        }
    ]
    streams = [
        target.arn("dynamodb", f"table/{t.physical_name}/stream/*") for t in stack.tables.values() if t.stream_view_type
    ]
    if streams:
        statements.append(
            {
                "Sid": "StreamRead",
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                "Resource": sorted(streams),
            }
        )
        statements.append({"Sid": "StreamList", "Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"})
    statements += data_statements(target, stack)
    destinations = [m.on_failure for m in stack.mappings if m.on_failure is not None]
    queues = sorted({target.arn("sqs", stack.queues[d.name].physical_name) for d in destinations if d.kind == "queue"})
    topics = sorted({target.arn("sns", stack.topics[d.name].physical_name) for d in destinations if d.kind == "topic"})
    buckets = sorted({stack.buckets[d.name].physical_name for d in destinations if d.kind == "bucket"})
    if queues:
        statements.append(
            {"Sid": "OnFailureQueues", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queues}
        )
    if topics:
        statements.append({"Sid": "OnFailureTopics", "Effect": "Allow", "Action": "sns:Publish", "Resource": topics})
    if buckets:
        resources = [f"arn:{target.partition}:s3:::{b}" for b in buckets]
        statements.append(
            {
                "Sid": "OnFailureBuckets",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:ListBucket"],
                "Resource": sorted(resources + [f"{r}/*" for r in resources]),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def data_statements(target: Target, stack: Stack) -> list[dict[str, Any]]:
    """What the handlers do with the stack's own resources: items of its tables, objects in its
    buckets, messages to its topics. One role serves every function of the stack, so this is
    scoped to the stack, not to each function (on AWS, split roles per function for tighter grants).
    """
    statements: list[dict[str, Any]] = []
    tables = sorted(target.arn("dynamodb", f"table/{t.physical_name}") for t in stack.tables.values())
    if tables:
        statements.append(
            {
                "Sid": "TableItems",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:ConditionCheckItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                ],
                "Resource": sorted(tables + [f"{arn}/index/*" for arn in tables]),
            }
        )
    if stack.buckets:
        objects = sorted(f"arn:{target.partition}:s3:::{b.physical_name}/*" for b in stack.buckets.values())
        statements.append(
            {"Sid": "BucketObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects}
        )
    if stack.topics:
        topics = sorted(target.arn("sns", t.physical_name) for t in stack.topics.values())
        statements.append({"Sid": "TopicPublish", "Effect": "Allow", "Action": "sns:Publish", "Resource": topics})
    return statements


def apply_role(target: Target, stack: Stack) -> tuple[Change, str]:
    """Create or update the execution role; returns the change and the role ARN."""
    iam = target.client("iam")
    policy = execution_policy(target, stack)
    try:
        role = iam.get_role(RoleName=stack.role_name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        role = iam.create_role(
            RoleName=stack.role_name,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Execution role of the streamlab stack's Lambda functions",
        )["Role"]
        iam.put_role_policy(RoleName=stack.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        return Change("role", stack.role_name, "created"), role["Arn"]

    details: list[str] = []
    if _normal(_document(role.get("AssumeRolePolicyDocument"))) != _normal(TRUST_POLICY):
        iam.update_assume_role_policy(RoleName=stack.role_name, PolicyDocument=json.dumps(TRUST_POLICY))
        details.append("trust policy")
    try:
        current = _document(iam.get_role_policy(RoleName=stack.role_name, PolicyName=POLICY_NAME)["PolicyDocument"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        current = None
    if _normal(current) != _normal(policy):
        iam.put_role_policy(RoleName=stack.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        details.append("policy")
    return Change("role", stack.role_name, "updated" if details else "unchanged", tuple(details)), role["Arn"]


def _document(value: Any) -> Any:
    """IAM returns policy documents URL-encoded; botocore usually decodes them, not always."""
    if isinstance(value, str):
        return json.loads(urllib.parse.unquote(value))
    return value


def _normal(policy: Any) -> Any:
    if isinstance(policy, dict):
        return {k: _normal(v) for k, v in policy.items()}
    if isinstance(policy, list):
        items = [_normal(v) for v in policy]
        return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return policy
