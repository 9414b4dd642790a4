"""Which resource-policy statements let SNS or S3 push to a function (AddPermission's statement shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from streamlab.emulator.awslambda.pushes import Push, allows, split_function_arn

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"
PUSH = Push("arn:aws:lambda:us-east-1:123456789012:function:f", b"{}", "sns.amazonaws.com", TOPIC, "123456789012")


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Sid": "s",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": PUSH.function_arn,
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        (statement(), True),
        (statement(Principal="*"), True),
        (statement(Action="lambda:*"), True),
        (statement(Condition={"ArnLike": {"AWS:SourceArn": TOPIC}}), True),
        (statement(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:123456789012:ord*"}}), True),
        (statement(Condition={"ArnLike": {"AWS:SourceArn": "arn:aws:sns:us-east-1:123456789012:other"}}), False),
        (statement(Condition={"StringEquals": {"AWS:SourceAccount": "123456789012"}}), True),
        (statement(Condition={"StringEquals": {"AWS:SourceAccount": "999999999999"}}), False),
        (statement(Principal={"Service": "s3.amazonaws.com"}), False),
        (statement(Action="lambda:GetFunction"), False),
        (statement(Effect="Deny"), False),
    ],
    ids=[
        "service",
        "any-principal",
        "lambda-star",
        "source-arn",
        "source-arn-wildcard",
        "other-topic",
        "source-account",
        "other-account",
        "other-service",
        "other-action",
        "deny",
    ],
)
def test_a_statement_allows_the_push_only_when_all_of_it_matches(granted: dict[str, Any], allowed: bool) -> None:
    assert allows([granted], PUSH) is allowed


def test_no_statement_allows_nothing() -> None:
    assert allows([], PUSH) is False


@pytest.mark.parametrize(
    ("arn", "parts"),
    [
        ("arn:aws:lambda:eu-west-1:123456789012:function:f", ("eu-west-1", "f", None)),
        ("arn:aws:lambda:eu-west-1:123456789012:function:f:live", ("eu-west-1", "f", "live")),
        ("arn:aws:sqs:eu-west-1:123456789012:q", None),
        ("f", None),
    ],
)
def test_function_arns_are_split_or_refused(arn: str, parts: tuple[str, str, str | None] | None) -> None:
    assert split_function_arn(arn) == parts
