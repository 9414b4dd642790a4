"""`deploy` through boto3 against the endpoint under test: creates, converges, updates, refuses.

Every assertion reads the resource back through the public AWS API. Function and mapping
tests need a Lambda control plane; they skip (saying why) on an endpoint without one.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from streamlab.aws_rules import PYTHON_RUNTIMES
from streamlab.deploy import DeployError, DeployResult, Target, deploy, detect_backend
from streamlab.deploy.role import POLICY_NAME, apply_role
from streamlab.deploy.target import probe_endpoint
from streamlab.packaging import Platform, platform_for_runtime, runtime_description
from streamlab.stack import Stack, StackError, load_stack

REPO = Path(__file__).resolve().parents[2]

RESOURCES = """
[tables.Orders]
partition_key = { name = "order_id", type = "S" }
sort_key = { name = "version", type = "N" }
stream_view_type = "NEW_AND_OLD_IMAGES"
ttl_attribute = "expires_at"

[tables.Orders.indexes.by_customer]
partition_key = { name = "customer_id", type = "S" }
projection = "ALL"

[tables.Products]
partition_key = { name = "sku", type = "S" }

[queues.orders-dlq]
message_retention_period = 1209600

[queues.order-events]
visibility_timeout = 60
dead_letter_queue = "orders-dlq"
max_receive_count = 5

[topics.notifications]

[[topics.notifications.subscriptions]]
queue = "order-events"
raw_message_delivery = true

[buckets.audit]
"""

FUNCTIONS = """
[functions.probe]
handler = "probe.handler"
runtime = "python3.12"
timeout = 30
environment = { LOG_LEVEL = "INFO" }

[[mappings]]
function = "probe"
source = "Orders"
starting_position = "TRIM_HORIZON"
batch_size = 100
bisect_batch_on_function_error = true
maximum_retry_attempts = 3
function_response_types = ["ReportBatchItemFailures"]
on_failure = "queue:orders-dlq"
"""


class Project:
    """A throw-away project directory (setup/stack.toml + handlers/) with a unique name prefix."""

    def __init__(self, root: Path, endpoint_url: str, region: str) -> None:
        self.root = root
        self.prefix = f"t{uuid.uuid4().hex[:8]}-"
        self.endpoint_url = endpoint_url
        self.region = region
        self.lines: list[str] = []
        (root / "setup").mkdir()
        (root / "handlers").mkdir()
        shutil.copy(REPO / "handlers" / "probe.py", root / "handlers" / "probe.py")

    @property
    def stack_path(self) -> Path:
        return self.root / "setup" / "stack.toml"

    def write(self, body: str) -> Path:
        self.stack_path.write_text(f'[stack]\nname_prefix = "{self.prefix}"\n' + textwrap.dedent(body))
        return self.stack_path

    def load(self) -> Stack:
        return load_stack(self.stack_path)

    def deploy(self, body: str | None = None) -> DeployResult:
        if body is not None:
            self.write(body)
        self.lines = []
        return deploy(
            self.load(),
            endpoint_url=self.endpoint_url,
            region=self.region,
            log=self.lines.append,
            cache_dir=self.root / ".streamlab",
        )

    def name(self, logical: str) -> str:
        return self.prefix + logical


@pytest.fixture
def project(tmp_path: Path, streamlab_endpoint_url: str, streamlab_region: str) -> Project:
    return Project(tmp_path, streamlab_endpoint_url, streamlab_region)


@pytest.fixture
def lambda_control_plane(streamlab_client: Callable[..., Any]) -> None:
    """Skip unless the endpoint's Lambda answers GetFunction for a missing name as AWS does."""
    try:
        streamlab_client("lambda").get_function(FunctionName=f"streamlab-probe-{uuid.uuid4().hex[:8]}")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            return
        pytest.skip(
            f"the endpoint has no Lambda control plane yet (GetFunction answered "
            f"{error.get('Code')}: {error.get('Message')})"
        )
    pytest.fail("GetFunction found a function that cannot exist")


def queue_attributes(sqs: Any, name: str) -> dict[str, str]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def snapshot(project: Project, streamlab_client: Callable[..., Any]) -> dict[str, Any]:
    """Everything deploy manages, as the endpoint reports it (for "changed nothing" checks)."""
    dynamodb, sqs, sns, s3 = (streamlab_client(s) for s in ("dynamodb", "sqs", "sns", "s3"))
    state: dict[str, Any] = {}
    for table in ("Orders", "Products"):
        described = dynamodb.describe_table(TableName=project.name(table))["Table"]
        described.pop("ItemCount", None)
        described.pop("TableSizeBytes", None)
        state[table] = described
        state[f"{table}.ttl"] = dynamodb.describe_time_to_live(TableName=project.name(table))["TimeToLiveDescription"]
    for queue in ("orders-dlq", "order-events"):
        attributes = queue_attributes(sqs, project.name(queue))
        for volatile in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ):
            attributes.pop(volatile, None)
        state[queue] = attributes
    topic_arn = next(
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(":" + project.name("notifications"))
    )
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    state["subscriptions"] = [
        (s["SubscriptionArn"], sns.get_subscription_attributes(SubscriptionArn=s["SubscriptionArn"])["Attributes"])
        for s in subscriptions
    ]
    state["bucket.versioning"] = s3.get_bucket_versioning(Bucket=project.name("audit")).get("Status")
    return state


# --- resources that need no Lambda ----------------------------------------------------------


def test_deploy_creates_tables_queues_topic_and_bucket(project: Project, streamlab_client: Callable[..., Any]) -> None:
    result = project.deploy(RESOURCES)

    assert result.summary == "7 created, 0 updated, 0 unchanged"
    assert f"created table Orders [{project.name('Orders')}]" in project.lines
    assert project.lines[-1] == result.summary
    assert [(c.kind, c.name) for c in result.changes] == [
        ("table", "Orders"),
        ("table", "Products"),
        ("bucket", "audit"),
        ("queue", "orders-dlq"),
        ("queue", "order-events"),
        ("topic", "notifications"),
        ("subscription", "notifications->order-events"),
    ]

    dynamodb = streamlab_client("dynamodb")
    orders = dynamodb.describe_table(TableName=project.name("Orders"))["Table"]
    assert orders["KeySchema"] == [
        {"AttributeName": "order_id", "KeyType": "HASH"},
        {"AttributeName": "version", "KeyType": "RANGE"},
    ]
    assert orders["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert orders["LatestStreamArn"].startswith(orders["TableArn"] + "/stream/")
    assert orders["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = orders["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_customer"
    assert index["KeySchema"] == [{"AttributeName": "customer_id", "KeyType": "HASH"}]
    assert index["Projection"]["ProjectionType"] == "ALL"
    ttl = dynamodb.describe_time_to_live(TableName=project.name("Orders"))["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    products = dynamodb.describe_table(TableName=project.name("Products"))["Table"]
    assert "LatestStreamArn" not in products
    assert not (products.get("StreamSpecification") or {}).get("StreamEnabled")

    sqs = streamlab_client("sqs")
    dlq = queue_attributes(sqs, project.name("orders-dlq"))
    events = queue_attributes(sqs, project.name("order-events"))
    assert dlq["MessageRetentionPeriod"] == "1209600"
    assert events["VisibilityTimeout"] == "60"
    redrive = json.loads(events["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5

    sns = streamlab_client("sns")
    topic_arn = next(
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(":" + project.name("notifications"))
    )
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("sqs", events["QueueArn"])
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    policy = json.loads(events["Policy"])
    statement = policy["Statement"][0]
    assert statement["Action"] == "sqs:SendMessage"
    assert topic_arn in json.dumps(statement["Condition"])

    streamlab_client("s3").head_bucket(Bucket=project.name("audit"))


def test_subscription_delivers_to_the_queue(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES)
    sns, sqs = streamlab_client("sns"), streamlab_client("sqs")
    topic_arn = next(
        t["TopicArn"]
        for t in sns.list_topics()["Topics"]
        if t["TopicArn"].endswith(":" + project.name("notifications"))
    )
    sns.publish(TopicArn=topic_arn, Message="hello")
    url = sqs.get_queue_url(QueueName=project.name("order-events"))["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
    assert [m["Body"] for m in messages] == ["hello"]  # raw delivery: the body is the message itself


def test_second_deploy_reports_and_changes_nothing(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES)
    before = snapshot(project, streamlab_client)
    time.sleep(1.1)  # so any rewrite would show in second-resolution timestamps
    result = project.deploy()
    assert result.summary == "no changes"
    assert not result.changed
    assert result.unchanged == 7
    assert result.created == 0
    assert result.updated == 0
    assert project.lines[-1] == "no changes"
    assert all(line.startswith(("deploying", "unchanged ", "no changes")) for line in project.lines)
    assert snapshot(project, streamlab_client) == before  # same stream ARN, timestamps, attributes


def test_changed_attributes_are_updated(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES)
    old_stream = streamlab_client("dynamodb").describe_table(TableName=project.name("Orders"))["Table"][
        "LatestStreamArn"
    ]
    changed = (
        RESOURCES.replace('ttl_attribute = "expires_at"', 'ttl_attribute = "valid_until"')
        .replace("[tables.Products]\n", '[tables.Products]\nstream_view_type = "KEYS_ONLY"\n')
        .replace("visibility_timeout = 60", "visibility_timeout = 120")
        .replace("max_receive_count = 5", "max_receive_count = 2")
        .replace("raw_message_delivery = true", "raw_message_delivery = false")
        .replace("[buckets.audit]", "[buckets.audit]\nversioning = true")
        + '\n[tables.Products.indexes.by_brand]\npartition_key = { name = "brand", type = "S" }\n'
        + 'projection = "KEYS_ONLY"\n'
    )
    result = project.deploy(changed)

    assert result.summary == "0 created, 5 updated, 2 unchanged"
    lines = set(project.lines)
    assert f"updated table Orders [{project.name('Orders')}] (ttl)" in lines
    assert f"updated table Products [{project.name('Products')}] (stream, index by_brand created)" in lines
    assert f"updated queue order-events [{project.name('order-events')}] (visibility_timeout, redrive)" in lines
    assert "updated subscription notifications->order-events (raw_message_delivery)" in lines
    assert f"updated bucket audit [{project.name('audit')}] (versioning)" in lines

    dynamodb, sqs, sns = streamlab_client("dynamodb"), streamlab_client("sqs"), streamlab_client("sns")
    orders = dynamodb.describe_table(TableName=project.name("Orders"))["Table"]
    assert orders["LatestStreamArn"] == old_stream
    ttl = dynamodb.describe_time_to_live(TableName=project.name("Orders"))["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "valid_until")
    products = dynamodb.describe_table(TableName=project.name("Products"))["Table"]
    assert products["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert [i["IndexName"] for i in products["GlobalSecondaryIndexes"]] == ["by_brand"]
    events = queue_attributes(sqs, project.name("order-events"))
    assert events["VisibilityTimeout"] == "120"
    assert int(json.loads(events["RedrivePolicy"])["maxReceiveCount"]) == 2
    assert json.loads(events["Policy"])["Statement"][0]["Action"] == "sqs:SendMessage"  # kept by the update
    subscription_arn = snapshot(project, streamlab_client)["subscriptions"][0][0]
    assert (
        sns.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]["RawMessageDelivery"] == "false"
    )
    assert streamlab_client("s3").get_bucket_versioning(Bucket=project.name("audit"))["Status"] == "Enabled"

    assert project.deploy().summary == "no changes"


def test_changed_stream_view_type_replaces_the_stream(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES)
    dynamodb = streamlab_client("dynamodb")
    old_stream = dynamodb.describe_table(TableName=project.name("Orders"))["Table"]["LatestStreamArn"]
    result = project.deploy(RESOURCES.replace('"NEW_AND_OLD_IMAGES"', '"NEW_IMAGE"'))
    assert result.get("table", "Orders").details == ("stream",)
    orders = dynamodb.describe_table(TableName=project.name("Orders"))["Table"]
    assert orders["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert orders["LatestStreamArn"] != old_stream
    assert project.deploy().summary == "no changes"


def test_removed_settings_are_removed(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES)
    reduced = (
        RESOURCES.replace('ttl_attribute = "expires_at"\n', "")
        .replace('stream_view_type = "NEW_AND_OLD_IMAGES"\n', "")
        .replace('dead_letter_queue = "orders-dlq"\nmax_receive_count = 5\n', "")
        .replace(
            '[tables.Orders.indexes.by_customer]\npartition_key = { name = "customer_id", type = "S" }\n'
            'projection = "ALL"\n',
            "",
        )
    )
    result = project.deploy(reduced)
    assert result.get("table", "Orders").details == ("stream", "index by_customer deleted", "ttl")
    assert result.get("queue", "order-events").details == ("redrive",)

    dynamodb = streamlab_client("dynamodb")
    orders = dynamodb.describe_table(TableName=project.name("Orders"))["Table"]
    assert not (orders.get("StreamSpecification") or {}).get("StreamEnabled")
    assert not orders.get("GlobalSecondaryIndexes")
    ttl = dynamodb.describe_time_to_live(TableName=project.name("Orders"))["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("DISABLED", "DISABLING")
    assert not queue_attributes(streamlab_client("sqs"), project.name("order-events")).get("RedrivePolicy")
    result = project.deploy()
    assert result.summary == "no changes", project.lines


def test_subscription_filter_policy_is_set_changed_and_removed(
    project: Project, streamlab_client: Callable[..., Any]
) -> None:
    body = RESOURCES.replace(
        "raw_message_delivery = true",
        'raw_message_delivery = true\nfilter_policy = { kind = ["order"] }\nfilter_policy_scope = "MessageBody"',
    )
    project.deploy(body)
    sns = streamlab_client("sns")
    subscription_arn = snapshot(project, streamlab_client)["subscriptions"][0][0]

    def attributes() -> dict[str, str]:
        return sns.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]

    assert json.loads(attributes()["FilterPolicy"]) == {"kind": ["order"]}
    assert attributes()["FilterPolicyScope"] == "MessageBody"
    assert project.deploy().summary == "no changes"

    result = project.deploy(body.replace('["order"]', '["order", "refund"]'))
    assert result.get("subscription", "notifications->order-events").details == ("filter_policy",)
    assert json.loads(attributes()["FilterPolicy"]) == {"kind": ["order", "refund"]}

    result = project.deploy(RESOURCES)
    assert result.get("subscription", "notifications->order-events").details == ("filter_policy",)
    assert json.loads(attributes().get("FilterPolicy") or "{}") == {}
    assert project.deploy().summary == "no changes"


def test_provisioned_capacity_is_updated(project: Project, streamlab_client: Callable[..., Any]) -> None:
    body = """
        [tables.Counters]
        partition_key = { name = "id", type = "S" }
        billing_mode = "PROVISIONED"
        read_capacity = 2
        write_capacity = 1
    """
    assert project.deploy(body).summary == "1 created, 0 updated, 0 unchanged"
    result = project.deploy(body.replace("read_capacity = 2", "read_capacity = 4"))
    assert result.get("table", "Counters").details == ("billing",)
    table = streamlab_client("dynamodb").describe_table(TableName=project.name("Counters"))["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 4
    assert project.deploy().summary == "no changes"


def test_changed_table_keys_are_refused(project: Project) -> None:
    project.deploy('[tables.Keys]\npartition_key = { name = "pk", type = "S" }\n')
    with pytest.raises(DeployError, match=r"table Keys .* exists with keys \(pk:S HASH\).*delete the table"):
        project.deploy('[tables.Keys]\npartition_key = { name = "pk", type = "N" }\n')


def test_invalid_stack_creates_nothing(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.write(RESOURCES + FUNCTIONS.replace('function = "probe"', 'function = "audit_trail"'))
    with pytest.raises(
        StackError, match=r'mappings\[0\]\.function: no function named "audit_trail" \(defined: probe\)'
    ):
        deploy(
            load_stack(project.stack_path),
            endpoint_url=project.endpoint_url,
            region=project.region,
            log=project.lines.append,
        )
    assert project.lines == []
    tables = streamlab_client("dynamodb").list_tables()["TableNames"]
    assert not [t for t in tables if t.startswith(project.prefix)]
    queues = streamlab_client("sqs").list_queues(QueueNamePrefix=project.prefix).get("QueueUrls", [])
    assert queues == []


def test_endpoint_kinds_are_detected(streamlab_endpoint_url: str) -> None:
    assert detect_backend(None) == "aws"
    assert detect_backend("http://127.0.0.1:9") == "other"  # nothing listens on the discard port
    kind = detect_backend(streamlab_endpoint_url)
    assert kind in ("embedded", "other")  # "other" when the suite runs against LocalStack


def test_an_embedded_endpoint_names_the_interpreter_its_functions_run_on(
    streamlab_endpoint_url: str, streamlab_in_process: bool
) -> None:
    kind, runtime = probe_endpoint(streamlab_endpoint_url)
    if kind != "embedded":
        pytest.skip("not a streamlab endpoint")
    assert set(runtime) == {"python", "platform", "runtimes"}
    assert runtime["python"].count(".") == 2
    assert set(runtime["runtimes"]) == set(PYTHON_RUNTIMES)
    for lambda_runtime, interpreter in runtime["runtimes"].items():
        # Dependencies are built for the interpreter that runtime's functions really run on.
        platform = platform_for_runtime(runtime, lambda_runtime)
        if interpreter["python"] == runtime["python"]:
            assert platform.is_local
        else:
            assert platform == Platform(interpreter["python"], runtime["platform"])
    if streamlab_in_process:  # the same interpreter: dependencies are built with plain pip
        assert {k: runtime[k] for k in ("python", "platform")} == runtime_description()
        assert platform_for_runtime(runtime).is_local


def test_execution_role_grants_stream_logs_and_destinations(
    project: Project, streamlab_client: Callable[..., Any]
) -> None:
    project.write(RESOURCES + FUNCTIONS)
    stack = project.load()
    target = Target.connect(project.endpoint_url, project.region)
    change, arn = apply_role(target, stack)
    assert (change.kind, change.action) == ("role", "created")
    iam = streamlab_client("iam")
    role = iam.get_role(RoleName=stack.role_name)["Role"]
    assert role["Arn"] == arn
    assert stack.role_name == project.name("streamlab-lambda-execution")
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    document = iam.get_role_policy(RoleName=stack.role_name, PolicyName=POLICY_NAME)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert "dynamodb:GetRecords" in statements["StreamRead"]["Action"]
    assert statements["StreamRead"]["Resource"] == [target.arn("dynamodb", f"table/{project.name('Orders')}/stream/*")]
    assert "logs:PutLogEvents" in statements["Logs"]["Action"]
    dlq_arn = target.arn("sqs", project.name("orders-dlq"))
    assert statements["OnFailureQueues"] == {
        "Sid": "OnFailureQueues",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": [dlq_arn],
    }
    again, _ = apply_role(target, stack)
    assert again.action == "unchanged"


# --- functions and mappings (need the endpoint's Lambda control plane) -------------------------


@pytest.mark.usefixtures("lambda_control_plane")
def test_deploy_creates_function_and_mapping(project: Project, streamlab_client: Callable[..., Any]) -> None:
    result = project.deploy(RESOURCES + FUNCTIONS)
    first_lines = list(project.lines)
    assert result.get("role", project.name("streamlab-lambda-execution")).action in ("created", "unchanged")
    assert result.get("function", "probe").action == "created"
    assert result.get("mapping", "Orders->probe").action == "created"

    lam = streamlab_client("lambda")
    config = lam.get_function(FunctionName=project.name("probe"))["Configuration"]
    assert (config["Handler"], config["Runtime"], config["Timeout"], config["MemorySize"]) == (
        "probe.handler",
        "python3.12",
        30,
        128,
    )
    assert config["Environment"]["Variables"] == {"LOG_LEVEL": "INFO"}
    assert (
        config["Role"]
        == streamlab_client("iam").get_role(RoleName=project.name("streamlab-lambda-execution"))["Role"]["Arn"]
    )
    stream_arn = streamlab_client("dynamodb").describe_table(TableName=project.name("Orders"))["Table"][
        "LatestStreamArn"
    ]
    (mapping,) = lam.list_event_source_mappings(FunctionName=project.name("probe"))["EventSourceMappings"]
    assert mapping["EventSourceArn"] == stream_arn
    assert (mapping["BatchSize"], mapping["BisectBatchOnFunctionError"], mapping["MaximumRetryAttempts"]) == (
        100,
        True,
        3,
    )
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    dlq_arn = queue_attributes(streamlab_client("sqs"), project.name("orders-dlq"))["QueueArn"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == dlq_arn
    assert any(line.startswith("built function probe: ") for line in first_lines)

    assert project.deploy().summary == "no changes"
    assert not any(line.startswith("built ") for line in project.lines)  # the zip came from the cache


@pytest.mark.usefixtures("lambda_control_plane")
def test_changed_handler_code_updates_the_function(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES + FUNCTIONS)
    lam = streamlab_client("lambda")
    before = lam.get_function(FunctionName=project.name("probe"))["Configuration"]["CodeSha256"]
    handler = project.root / "handlers" / "probe.py"
    handler.write_text(handler.read_text() + "\n# a change\n")
    result = project.deploy()
    assert f"updated function probe [{project.name('probe')}] (code)" in project.lines
    assert result.summary.startswith("0 created, 1 updated, ")
    after = lam.get_function(FunctionName=project.name("probe"))["Configuration"]["CodeSha256"]
    assert after != before
    assert project.deploy().summary == "no changes"


@pytest.mark.usefixtures("lambda_control_plane")
def test_changed_configuration_and_mapping_parameters_are_updated(
    project: Project, streamlab_client: Callable[..., Any]
) -> None:
    project.deploy(RESOURCES + FUNCTIONS)
    changed = (
        FUNCTIONS.replace("timeout = 30", "timeout = 60\nreserved_concurrency = 2")
        .replace('{ LOG_LEVEL = "INFO" }', '{ LOG_LEVEL = "DEBUG" }')
        .replace("batch_size = 100", "batch_size = 10\nmaximum_record_age_in_seconds = 3600")
        .replace('on_failure = "queue:orders-dlq"', 'on_failure = "topic:notifications"')
        + '[[mappings.filters]]\neventName = ["INSERT", "MODIFY"]\n'
    )
    result = project.deploy(RESOURCES + changed)
    assert result.get("function", "probe").details == ("timeout", "environment", "reserved_concurrency")
    assert result.get("mapping", "Orders->probe").details == (
        "batch_size",
        "maximum_record_age_in_seconds",
        "filters",
        "on_failure",
    )

    lam = streamlab_client("lambda")
    function = lam.get_function(FunctionName=project.name("probe"))
    assert function["Configuration"]["Timeout"] == 60
    assert function["Configuration"]["Environment"]["Variables"] == {"LOG_LEVEL": "DEBUG"}
    assert function["Concurrency"]["ReservedConcurrentExecutions"] == 2
    (mapping,) = lam.list_event_source_mappings(FunctionName=project.name("probe"))["EventSourceMappings"]
    assert (mapping["BatchSize"], mapping["MaximumRecordAgeInSeconds"]) == (10, 3600)
    assert [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]] == [
        {"eventName": ["INSERT", "MODIFY"]}
    ]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"].endswith(":" + project.name("notifications"))
    assert project.deploy().summary == "no changes"


@pytest.mark.usefixtures("lambda_control_plane")
def test_replaced_stream_moves_the_mapping(project: Project, streamlab_client: Callable[..., Any]) -> None:
    project.deploy(RESOURCES + FUNCTIONS)
    result = project.deploy(RESOURCES.replace('"NEW_AND_OLD_IMAGES"', '"NEW_IMAGE"') + FUNCTIONS)
    assert result.get("mapping", "Orders->probe").details == ("stream replaced",)
    stream_arn = streamlab_client("dynamodb").describe_table(TableName=project.name("Orders"))["Table"][
        "LatestStreamArn"
    ]
    # The old mapping is listed, in state Deleting, until its deletion settles (on AWS too): wait for it.
    deadline = time.monotonic() + 10
    while True:
        mappings = streamlab_client("lambda").list_event_source_mappings(FunctionName=project.name("probe"))[
            "EventSourceMappings"
        ]
        if len(mappings) == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [m["EventSourceArn"] for m in mappings] == [stream_arn]


@pytest.mark.usefixtures("lambda_control_plane")
def test_the_repository_stack_deploys(tmp_path: Path, streamlab_endpoint_url: str, streamlab_region: str) -> None:
    from streamlab.stack import parse_stack

    prefix = f"t{uuid.uuid4().hex[:8]}-"
    text = f'[stack]\nname_prefix = "{prefix}"\n' + (REPO / "setup" / "stack.toml").read_text()
    stack = parse_stack(text, REPO / "setup" / "stack.toml")
    lines: list[str] = []
    first = deploy(
        stack,
        endpoint_url=streamlab_endpoint_url,
        region=streamlab_region,
        log=lines.append,
        cache_dir=tmp_path / "cache",
    )
    assert first.created == len(first.changes)
    second = deploy(
        stack,
        endpoint_url=streamlab_endpoint_url,
        region=streamlab_region,
        log=lines.append,
        cache_dir=tmp_path / "cache",
    )
    assert second.summary == "no changes"


def make_wheel(directory: Path) -> Path:
    """A pure-Python wheel ``tinydep`` (VALUE = 42), so the test needs no package index."""
    import base64
    import hashlib
    import zipfile

    files = {
        "tinydep/__init__.py": b"VALUE = 42\n",
        "tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
        b"true\nTag: py3-none-any\n",
    }
    record = [
        f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}"
        for p, d in files.items()
    ]
    files["tinydep-1.0.dist-info/RECORD"] = ("\n".join([*record, "tinydep-1.0.dist-info/RECORD,,"]) + "\n").encode()
    wheel = directory / "tinydep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.mark.usefixtures("lambda_control_plane")
def test_declared_requirements_are_importable_by_the_handler(
    project: Project, streamlab_client: Callable[..., Any]
) -> None:
    wheel = make_wheel(project.root)
    (project.root / "handlers" / "uses_dep.py").write_text(
        "import tinydep\n\ndef handler(event, context):\n    return {'value': tinydep.VALUE}\n"
    )
    result = project.deploy(f"""
        [functions.uses_dep]
        handler = "uses_dep.handler"
        requirements = ["{wheel}"]
    """)
    assert result.get("function", "uses_dep").action == "created"
    response = streamlab_client("lambda").invoke(FunctionName=project.name("uses_dep"), Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {"value": 42}
