"""stack.toml validation: every mistake names its key and what was expected, before any deploy."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from streamlab.aws_rules import PYTHON_RUNTIMES
from streamlab.stack import Destination, StackError, load_stack, parse_stack

REPO = Path(__file__).resolve().parents[2]

BASE = """
[tables.Orders]
partition_key = { name = "pk", type = "S" }
stream_view_type = "NEW_AND_OLD_IMAGES"

[tables.Products]
partition_key = { name = "sku", type = "S" }

[queues.dlq]

[topics.alerts]

[buckets.audit]

[functions.a]
handler = "a.handler"

[functions.b]
handler = "b.handler"
"""

MAPPING = """
[[mappings]]
function = "a"
source = "Orders"
starting_position = "TRIM_HORIZON"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "setup").mkdir()
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    for name in ("a", "b", "audit"):
        (handlers / f"{name}.py").write_text("def handler(event, context):\n    return None\n")
    (handlers / "common").mkdir()
    (handlers / "common" / "__init__.py").write_text("")
    return tmp_path


def parse(project: Path, text: str):
    return parse_stack(textwrap.dedent(text), project / "setup" / "stack.toml")


def problems(project: Path, text: str) -> str:
    with pytest.raises(StackError) as info:
        parse(project, text)
    return str(info.value)


# --- valid stacks ------------------------------------------------------------------------------


def test_the_repository_stack_loads() -> None:
    stack = load_stack(REPO / "setup" / "stack.toml")
    orders = stack.tables["Orders"]
    assert orders.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert orders.ttl_attribute == "expires_at"
    assert [i.name for i in orders.indexes] == ["by_customer"]
    assert stack.tables["Products"].stream_view_type == "NEW_AND_OLD_IMAGES"
    assert {"OrderAggregates", "Idempotency"} <= set(stack.tables)
    assert stack.queues["order-events"].dead_letter_queue == "order-events-dlq"
    assert stack.topics["order-notifications"].subscriptions[0].queue == "order-events"
    assert stack.topics["order-notifications"].subscriptions[0].raw_message_delivery
    assert "streamlab-audit-trail" in stack.buckets
    assert stack.functions["probe"].handler == "probe.handler"
    assert stack.functions["notifications"].environment["IDEMPOTENCY_TABLE"] == "Idempotency"
    assert stack.handlers_dir == REPO / "handlers"
    (probe,) = [m for m in stack.mappings if m.function == "probe"]
    assert (probe.function, probe.source, probe.starting_position) == ("probe", "Orders", "TRIM_HORIZON")
    for mapping in stack.mappings:
        assert mapping.function_response_types == ("ReportBatchItemFailures",), mapping.label
        assert mapping.on_failure == Destination("queue", "orders-dlq"), mapping.label
        assert 0 <= mapping.maximum_retry_attempts <= 10, (
            mapping.label
        )  # never infinite: a poison record would block its shard
        assert mapping.bisect_batch_on_function_error or mapping.tumbling_window_in_seconds, mapping.label
    stages = {m.function: json.loads(m.filters[0]) for m in stack.mappings if m.function.startswith("order_")}
    assert stages["order_charge"] == {
        "dynamodb": {"NewImage": {"status": {"S": ["Validated"]}}},
        "eventName": ["MODIFY"],
    }


def test_environment_references_become_physical_names(project: Path) -> None:
    stack = parse(
        project,
        """
        [stack]
        name_prefix = "dev-"

        [tables.Orders]
        partition_key = { name = "pk", type = "S" }

        [topics.events]

        [functions.a]
        handler = "a.handler"
        environment = { TABLE = "${tables.Orders}", BOTH = "${topics.events}|${tables.Orders}", PLAIN = "$x {y}" }
    """,
    )
    assert stack.functions["a"].environment == {
        "TABLE": "dev-Orders",
        "BOTH": "dev-events|dev-Orders",
        "PLAIN": "$x {y}",
    }


def test_dangling_environment_references_are_reported(project: Path) -> None:
    with pytest.raises(StackError) as caught:
        parse(
            project,
            """
            [tables.Orders]
            partition_key = { name = "pk", type = "S" }

            [functions.a]
            handler = "a.handler"
            environment = { A = "${tables.Order}", B = "${tabels.Orders}" }
        """,
        )
    problems = "\n".join(caught.value.problems)
    assert 'functions.a.environment.A: ${tables.Order} names no table "Order" (defined: Orders)' in problems
    assert "functions.a.environment.B: unknown reference" in problems


def test_a_full_valid_stack_loads_with_defaults_and_prefix(project: Path) -> None:
    stack = parse(
        project,
        """
        [stack]
        name_prefix = "dev-"

        [tables.Orders]
        partition_key = { name = "pk", type = "S" }
        sort_key = { name = "sk", type = "N" }
        billing_mode = "PROVISIONED"
        read_capacity = 5
        write_capacity = 2
        stream_view_type = "KEYS_ONLY"
        [tables.Orders.indexes.by_status]
        partition_key = { name = "status", type = "S" }
        projection = "INCLUDE"
        non_key_attributes = ["total"]

        [queues.dlq]
        [queues.work]
        dead_letter_queue = "dlq"
        max_receive_count = 4
        visibility_timeout = 0

        [topics.events]
        [[topics.events.subscriptions]]
        queue = "work"
        raw_message_delivery = true
        filter_policy = { kind = ["order"] }

        [functions.a]
        handler = "a.handler"
        include = ["common"]
        requirements = ["six==1.17.0"]
        reserved_concurrency = 0

        [[mappings]]
        function = "a"
        source = "Orders"
        starting_position = "LATEST"
        batch_size = 10000
        maximum_batching_window_in_seconds = 300
        maximum_retry_attempts = 10000
        maximum_record_age_in_seconds = 604800
        parallelization_factor = 10
        tumbling_window_in_seconds = 900
        on_failure = "topic:events"
        [[mappings.filters]]
        eventName = ["INSERT"]
        [[mappings.filters]]
        dynamodb.Keys.pk.S = [{ prefix = "order#" }]
    """,
    )
    assert stack.tables["Orders"].physical_name == "dev-Orders"
    assert stack.role_name == "dev-streamlab-lambda-execution"
    assert stack.functions["a"].timeout == 3
    assert stack.functions["a"].memory_size == 128
    assert stack.functions["a"].runtime == "python3.12"
    assert stack.functions["a"].modules == ("a", "common")
    (mapping,) = stack.mappings
    assert mapping.maximum_record_age_in_seconds == 604800
    assert mapping.on_failure == Destination("topic", "events")
    assert [json.loads(f) for f in mapping.filters] == [
        {"eventName": ["INSERT"]},
        {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}},
    ]


def test_mapping_defaults_are_aws_defaults(project: Path) -> None:
    (mapping,) = parse(project, BASE + MAPPING).mappings
    assert (
        mapping.batch_size,
        mapping.maximum_batching_window_in_seconds,
        mapping.maximum_retry_attempts,
        mapping.maximum_record_age_in_seconds,
        mapping.parallelization_factor,
        mapping.tumbling_window_in_seconds,
    ) == (100, 0, -1, -1, 1, 0)
    assert mapping.enabled
    assert not mapping.bisect_batch_on_function_error
    assert mapping.function_response_types == ()
    assert mapping.filters == ()
    assert mapping.on_failure is None


# --- unknown keys, wrong types ---------------------------------------------------------------


def test_unknown_key_names_the_key_and_the_allowed_ones(project: Path) -> None:
    message = problems(
        project,
        """
        [tables.Orders]
        partition_key = { name = "pk", type = "S" }
        stream_veiw = "NEW_IMAGE"
    """,
    )
    assert "stack.toml: unknown key tables.Orders.stream_veiw (expected one of: " in message
    assert "stream_view_type" in message
    assert "ttl_attribute" in message


def test_unknown_top_level_section(project: Path) -> None:
    message = problems(project, '[tabels.Orders]\npartition_key = { name = "pk", type = "S" }\n')
    assert (
        "stack.toml: unknown key tabels (expected one of: stack, tables, queues, topics, buckets, functions, mappings)"
        in message
    )


def test_unknown_mapping_key(project: Path) -> None:
    message = problems(project, BASE + MAPPING + "batchsize = 10\n")
    assert "unknown key mappings[0].batchsize (expected one of: " in message
    assert "batch_size" in message


def test_wrong_type_names_key_expectation_and_value(project: Path) -> None:
    message = problems(project, BASE.replace('handler = "a.handler"', 'handler = "a.handler"\ntimeout = "abc"'))
    assert 'stack.toml: functions.a.timeout: expected an integer 1-900, got "abc"' in message


def test_boolean_is_not_an_integer(project: Path) -> None:
    message = problems(project, BASE + MAPPING + "batch_size = true\n")
    assert "mappings[0].batch_size: expected an integer 1-10000, got true" in message


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            'billing_mode = "ON_DEMAND"',
            'tables.T.billing_mode: expected one of "PAY_PER_REQUEST", "PROVISIONED", got "ON_DEMAND"',
        ),
        (
            'stream_view_type = "NEW"',
            'tables.T.stream_view_type: expected one of "NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", '
            '"KEYS_ONLY", got "NEW"',
        ),
        ('sort_key = "sk"', 'tables.T.sort_key: expected { name = "<attribute>", type = "S" | "N" | "B" }, got "sk"'),
        ('sort_key = { name = "sk", type = "X" }', 'tables.T.sort_key.type: expected one of "S", "N", "B", got "X"'),
        ("ttl_attribute = 5", "tables.T.ttl_attribute: expected an attribute name, got 5"),
        ("read_capacity = 5", 'tables.T.read_capacity: only allowed with billing_mode = "PROVISIONED"'),
        ('billing_mode = "PROVISIONED"', "tables.T.read_capacity: required, expected an integer 1-40000"),
    ],
)
def test_table_settings(project: Path, setting: str, expected: str) -> None:
    message = problems(project, f'[tables.T]\npartition_key = {{ name = "pk", type = "S" }}\n{setting}\n')
    assert f"stack.toml: {expected}" in message


def test_missing_partition_key(project: Path) -> None:
    message = problems(project, "[tables.T]\n")
    assert "tables.T.partition_key: required, expected { name" in message


def test_attribute_declared_with_two_types(project: Path) -> None:
    message = problems(
        project,
        """
        [tables.T]
        partition_key = { name = "pk", type = "S" }
        [tables.T.indexes.by_pk]
        partition_key = { name = "pk", type = "N" }
    """,
    )
    assert 'tables.T: attribute "pk" is declared as both S and N' in message


def test_include_projection_needs_attributes(project: Path) -> None:
    message = problems(
        project,
        """
        [tables.T]
        partition_key = { name = "pk", type = "S" }
        [tables.T.indexes.by_x]
        partition_key = { name = "x", type = "S" }
        projection = "INCLUDE"
    """,
    )
    assert 'tables.T.indexes.by_x.non_key_attributes: required with projection = "INCLUDE"' in message


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("visibility_timeout = 43201", "queues.q.visibility_timeout: expected an integer 0-43200, got 43201"),
        ("message_retention_period = 59", "queues.q.message_retention_period: expected an integer 60-1209600, got 59"),
        ("delay_seconds = 901", "queues.q.delay_seconds: expected an integer 0-900, got 901"),
        ('dead_letter_queue = "q2"', "queues.q.max_receive_count: required with dead_letter_queue"),
        ("max_receive_count = 3", "queues.q.max_receive_count: only allowed with dead_letter_queue"),
        (
            'dead_letter_queue = "q2"\nmax_receive_count = 0',
            "queues.q.max_receive_count: expected an integer 1-1000, got 0",
        ),
    ],
)
def test_queue_settings(project: Path, setting: str, expected: str) -> None:
    message = problems(project, f"[queues.q2]\n[queues.q]\n{setting}\n")
    assert f"stack.toml: {expected}" in message


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('runtime = "python3.8"', 'functions.a.runtime: expected one of "python3.10", '),
        ('runtime = "nodejs20.x"', 'functions.a.runtime: expected one of "python3.10", '),
        ("timeout = 0", "functions.a.timeout: expected an integer 1-900, got 0"),
        ("timeout = 901", "functions.a.timeout: expected an integer 1-900, got 901"),
        ("memory_size = 64", "functions.a.memory_size: expected an integer 128-10240, got 64"),
        ("reserved_concurrency = -1", "functions.a.reserved_concurrency: expected an integer >= 0, got -1"),
        ("environment = { LEVEL = 1 }", 'functions.a.environment: expected a table of string values, got {"LEVEL": 1}'),
        ('environment = { AWS_REGION = "x" }', "functions.a.environment: AWS_REGION is reserved by Lambda"),
        ('requirements = "six"', "functions.a.requirements: expected a list of pip requirements"),
        ('include = ["missing"]', "functions.a.include: no module missing.py or package missing/ in "),
    ],
)
def test_function_settings(project: Path, setting: str, expected: str) -> None:
    message = problems(project, f'[functions.a]\nhandler = "a.handler"\n{setting}\n')
    assert f"stack.toml: {expected}" in message


def test_handler_must_name_an_existing_module(project: Path) -> None:
    message = problems(project, '[functions.a]\nhandler = "nothere.handler"\n')
    assert "functions.a.handler: no module nothere.py or package nothere/ in " in message
    message = problems(project, '[functions.a]\nhandler = "a"\n')
    assert 'functions.a.handler: expected "<module>.<function>"' in message


def test_physical_names_follow_service_rules(project: Path) -> None:
    message = problems(project, '[stack]\nname_prefix = "x-"\n[buckets.Audit_Trail]\n[queues."bad name"]\n')
    assert "buckets.Audit_Trail: expected a bucket name of 3-63 characters from a-z 0-9 . -" in message
    assert 'got "x-Audit_Trail" (with name_prefix)' in message
    assert 'queues."bad name": expected a queue name of 1-80 characters' in message


# --- event source mapping parameters, with AWS ranges ----------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("batch_size = 0", "mappings[0].batch_size: expected an integer 1-10000, got 0"),
        ("batch_size = 10001", "mappings[0].batch_size: expected an integer 1-10000, got 10001"),
        (
            "maximum_batching_window_in_seconds = 301",
            "mappings[0].maximum_batching_window_in_seconds: expected an integer 0-300, got 301",
        ),
        (
            "maximum_batching_window_in_seconds = -1",
            "mappings[0].maximum_batching_window_in_seconds: expected an integer 0-300, got -1",
        ),
        ("maximum_retry_attempts = -2", "mappings[0].maximum_retry_attempts: expected an integer -1 to 10000, got -2"),
        (
            "maximum_retry_attempts = 10001",
            "mappings[0].maximum_retry_attempts: expected an integer -1 to 10000, got 10001",
        ),
        (
            "maximum_record_age_in_seconds = 59",
            "mappings[0].maximum_record_age_in_seconds: expected -1 or an integer 60-604800, got 59",
        ),
        (
            "maximum_record_age_in_seconds = 0",
            "mappings[0].maximum_record_age_in_seconds: expected -1 or an integer 60-604800, got 0",
        ),
        (
            "maximum_record_age_in_seconds = 604801",
            "mappings[0].maximum_record_age_in_seconds: expected -1 or an integer 60-604800, got 604801",
        ),
        ("parallelization_factor = 0", "mappings[0].parallelization_factor: expected an integer 1-10, got 0"),
        ("parallelization_factor = 11", "mappings[0].parallelization_factor: expected an integer 1-10, got 11"),
        (
            "tumbling_window_in_seconds = 901",
            "mappings[0].tumbling_window_in_seconds: expected an integer 0-900, got 901",
        ),
        (
            "bisect_batch_on_function_error = 1",
            "mappings[0].bisect_batch_on_function_error: expected true or false, got 1",
        ),
        (
            'function_response_types = ["ReportItemFailures"]',
            'mappings[0].function_response_types: expected a list of "ReportBatchItemFailures", '
            'got ["ReportItemFailures"]',
        ),
        (
            'on_failure = "dlq"',
            'mappings[0].on_failure: expected "queue:<name>", "topic:<name>" or "bucket:<name>", got "dlq"',
        ),
        (
            'on_failure = "function:b"',
            'mappings[0].on_failure: expected "queue:<name>", "topic:<name>" or "bucket:<name>", got "function:b"',
        ),
        (
            "filters = " + json.dumps(['{"eventName": ["INSERT"]}'] * 6),
            "mappings[0].filters: expected a list of up to 5 filter patterns (tables, or JSON "
            "object strings), got 6 patterns",
        ),
        ("filters = ['{not json']", 'mappings[0].filters[0]: expected a JSON object, got "{not json"'),
        (
            'filters = [{ eventName = "INSERT" }]',
            'mappings[0].filters[0].eventName: expected a list of match values (e.g. ["INSERT"]), got "INSERT"',
        ),
    ],
)
def test_mapping_parameters_are_checked_against_aws_ranges(project: Path, setting: str, expected: str) -> None:
    message = problems(project, BASE + MAPPING + setting + "\n")
    assert f"stack.toml: {expected}" in message


def test_starting_position_is_required_and_dynamodb_only(project: Path) -> None:
    message = problems(project, BASE + MAPPING.replace('"TRIM_HORIZON"', '"AT_TIMESTAMP"'))
    assert 'mappings[0].starting_position: expected one of "TRIM_HORIZON", "LATEST", got "AT_TIMESTAMP"' in message
    message = problems(project, BASE + MAPPING.replace('starting_position = "TRIM_HORIZON"', ""))
    assert 'mappings[0].starting_position: required, expected one of "TRIM_HORIZON", "LATEST"' in message


@pytest.mark.parametrize(
    "setting",
    [
        "maximum_record_age_in_seconds = -1",
        "maximum_record_age_in_seconds = 60",
        "maximum_retry_attempts = -1",
        "maximum_retry_attempts = 0",
        "tumbling_window_in_seconds = 0",
        "batch_size = 1",
        "parallelization_factor = 1",
        'on_failure = "bucket:audit"',
        'on_failure = "topic:alerts"',
        "filters = " + json.dumps(['{"a": ["b"]}'] * 5),
    ],
)
def test_boundary_values_are_accepted(project: Path, setting: str) -> None:
    assert parse(project, BASE + MAPPING + setting + "\n").mappings


# --- references --------------------------------------------------------------------------------


def test_dangling_mapping_function(project: Path) -> None:
    message = problems(project, BASE + MAPPING.replace('function = "a"', 'function = "x"'))
    assert 'stack.toml: mappings[0].function: no function named "x" (defined: a, b)' in message


def test_dangling_mapping_source_and_source_without_stream(project: Path) -> None:
    message = problems(project, BASE + MAPPING.replace('source = "Orders"', 'source = "Nope"'))
    assert 'mappings[0].source: no table named "Nope" (defined: Orders, Products)' in message
    message = problems(project, BASE + MAPPING.replace('source = "Orders"', 'source = "Products"'))
    assert 'mappings[0].source: table "Products" has no stream (set tables.Products.stream_view_type)' in message


def test_dangling_on_failure_destination(project: Path) -> None:
    message = problems(project, BASE + MAPPING + 'on_failure = "queue:orders-dlq"\n')
    assert 'stack.toml: mappings[0].on_failure: no queue named "orders-dlq" (defined: dlq)' in message
    message = problems(project, BASE + MAPPING + 'on_failure = "bucket:nope"\n')
    assert 'mappings[0].on_failure: no bucket named "nope" (defined: audit)' in message


def test_dangling_dead_letter_queue_and_cycle(project: Path) -> None:
    message = problems(project, '[queues.q]\ndead_letter_queue = "gone"\nmax_receive_count = 1\n')
    assert 'stack.toml: queues.q.dead_letter_queue: no queue named "gone" (defined: q)' in message
    message = problems(
        project,
        """
        [queues.a]
        dead_letter_queue = "b"
        max_receive_count = 1
        [queues.b]
        dead_letter_queue = "a"
        max_receive_count = 1
    """,
    )
    assert "queues.a.dead_letter_queue: redrive cycle a -> b -> a" in message


def test_dangling_subscription_queue(project: Path) -> None:
    message = problems(project, '[queues.q]\n[topics.t]\n[[topics.t.subscriptions]]\nqueue = "w"\n')
    assert 'stack.toml: topics.t.subscriptions[0].queue: no queue named "w" (defined: q)' in message


def test_two_mappings_of_one_function_and_stream(project: Path) -> None:
    message = problems(project, BASE + MAPPING + MAPPING)
    assert 'mappings[1]: same function "a" and source "Orders" as mappings[0]' in message


def test_every_problem_is_reported_at_once(project: Path) -> None:
    with pytest.raises(StackError) as info:
        parse(project, BASE + MAPPING.replace('function = "a"', 'function = "x"') + "batch_size = 0\nbogus = 1\n")
    lines = info.value.problems
    assert len(lines) == 3
    assert all(line.startswith("stack.toml: ") for line in lines)


def test_invalid_toml_is_a_stack_error(project: Path) -> None:
    message = problems(project, "[tables.Orders\n")
    assert message.startswith("stack.toml: invalid TOML: ")


def test_load_stack_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mystack.toml"
    path.write_text("[queues.q]\nvisibility_timeout = -5\n")
    with pytest.raises(
        StackError, match=r"^mystack.toml: queues.q.visibility_timeout: expected an integer 0-43200, got -5$"
    ):
        load_stack(path)


@pytest.mark.parametrize("runtime", PYTHON_RUNTIMES)
def test_every_runtime_the_control_plane_takes_loads(project: Path, runtime: str) -> None:
    stack = parse(project, BASE.replace('handler = "a.handler"', f'handler = "a.handler"\nruntime = "{runtime}"'))
    assert stack.functions["a"].runtime == runtime


def test_a_filter_the_control_plane_would_refuse_is_refused_at_load(project: Path) -> None:
    """A numeric operator on a string field passes the list check, not AWS's pattern check."""
    text = BASE + MAPPING + 'filters = [\'{"dynamodb": {"NewImage": {"status": {"S": [{"numeric": ["<", "x"]}]}}}}\']\n'
    assert "mappings[0].filters[0]: Invalid filter pattern definition." in problems(project, text)
