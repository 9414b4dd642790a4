"""Invoke through boto3: invocation types, environments, and failures as AWS shows them."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from streamlab.aws_rules import PYTHON_RUNTIMES
from streamlab.testing import eventually
from tests.integration.lambda_support import ECHO, payload_of

COUNTER = """
import os
invocations = 0

def handler(event, context):
    global invocations
    invocations += 1
    return {"invocations": invocations, "pid": os.getpid(), "mode": os.environ.get("MODE")}
"""

SLEEPER = """
import os, time
invocations = 0

def handler(event, context):
    global invocations
    invocations += 1
    time.sleep(event.get("sleep", 0))
    return {"invocations": invocations, "pid": os.getpid()}
"""


def test_request_response_returns_the_handler_result(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps({"id": 7, "items": ["a", "b"]}))
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert payload_of(response) == {"id": 7, "items": ["a", "b"]}
    assert payload_of(lambda_client.invoke(FunctionName=name)) == {}  # an empty payload arrives as {}


def test_warm_environment_is_reused(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(COUNTER)
    results = [payload_of(lambda_client.invoke(FunctionName=name)) for _ in range(3)]
    assert [r["invocations"] for r in results] == [1, 2, 3]
    assert len({r["pid"] for r in results}) == 1


def test_configuration_update_retires_environments(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(COUNTER, Environment={"Variables": {"MODE": "blue"}})
    first = payload_of(lambda_client.invoke(FunctionName=name))
    assert first["mode"] == "blue"
    lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": {"MODE": "green"}})
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    second = payload_of(lambda_client.invoke(FunctionName=name))
    assert second == {"invocations": 1, "pid": second["pid"], "mode": "green"}
    assert second["pid"] != first["pid"]


def test_update_retires_a_busy_environment_after_its_invocation(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SLEEPER, Timeout=5)
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(payload_of(lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": 1.0}')))
    )
    worker.start()
    time.sleep(0.4)
    lambda_client.update_function_configuration(FunctionName=name, Description="v2")
    worker.join()
    assert results[0]["invocations"] == 1  # the running invocation finished normally
    after = payload_of(lambda_client.invoke(FunctionName=name))
    assert after["invocations"] == 1
    assert after["pid"] != results[0]["pid"]


def test_event_invocation_runs_asynchronously_and_reaches_the_endpoint(
    lambda_client: Any,
    streamlab_client: Callable[..., Any],
    make_function: Callable[..., str],
    streamlab_unique_name: Callable[[str], str],
) -> None:
    """Handler code written for AWS runs unchanged: boto3 inside finds the endpoint through AWS_ENDPOINT_URL."""
    s3 = streamlab_client("s3")
    bucket = streamlab_unique_name("event")
    s3.create_bucket(Bucket=bucket)
    name = make_function(
        """
        import boto3, json
        s3 = boto3.client("s3")

        def handler(event, context):
            s3.put_object(Bucket=event["bucket"], Key="done", Body=json.dumps(event).encode())
        """
    )
    response = lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket}))
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""

    def written() -> Any:
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key="done")["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    assert eventually(written, timeout=10) == {"bucket": bucket}


def test_dry_run_checks_the_function_without_running_it(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(COUNTER)
    assert lambda_client.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert payload_of(lambda_client.invoke(FunctionName=name))["invocations"] == 1
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName=name + "-missing", InvocationType="DryRun")


def test_handler_exception_is_an_unhandled_function_error(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(
        """
        def handler(event, context):
            raise ValueError("order 42 is not valid")
        """
    )
    response = lambda_client.invoke(FunctionName=name)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "order 42 is not valid"
    assert isinstance(error["stackTrace"], list)
    assert 'raise ValueError("order 42 is not valid")' in "".join(error["stackTrace"])


def test_timeout_kills_the_environment_and_the_next_invoke_starts_fresh(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SLEEPER, Timeout=1)
    warm = payload_of(lambda_client.invoke(FunctionName=name))
    started = time.monotonic()
    response = lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": 5}')
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 3
    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    fresh = payload_of(lambda_client.invoke(FunctionName=name))
    assert fresh["invocations"] == 1
    assert fresh["pid"] != warm["pid"]


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": ECHO},
            "missing_module.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing_module'",
        ),
        (
            {"app.py": "import not_installed_anywhere\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "No module named 'not_installed_anywhere'",
        ),
        (
            {"app.py": ECHO},
            "app.no_such_function",
            "Runtime.HandlerNotFound",
            "Handler 'no_such_function' missing on module 'app'",
        ),
        ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"),
    ],
    ids=["missing-module", "missing-dependency", "missing-handler", "syntax-error"],
)
def test_init_errors(
    lambda_client: Any,
    make_function: Callable[..., str],
    files: dict[str, str],
    handler: str,
    error_type: str,
    message: str,
) -> None:
    name = make_function(files, handler=handler)
    for _ in range(2):  # every invoke retries the init, and fails the same way
        response = lambda_client.invoke(FunctionName=name)
        assert response["FunctionError"] == "Unhandled"
        error = payload_of(response)
        assert error["errorType"] == error_type
        assert message in error["errorMessage"]


def test_process_exit_mid_invoke_is_runtime_exit_error(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(
        """
        import os
        def handler(event, context):
            if event.get("exit"):
                os._exit(3)
            return os.getpid()
        """
    )
    pid = payload_of(lambda_client.invoke(FunctionName=name))
    response = lambda_client.invoke(FunctionName=name, Payload=b'{"exit": true}')
    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert payload_of(lambda_client.invoke(FunctionName=name)) != pid


def test_crash_by_signal_is_runtime_exit_error(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(
        """
        import os, signal
        def handler(event, context):
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    error = payload_of(lambda_client.invoke(FunctionName=name))
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: signal: killed")


def test_payload_over_6_mb_is_request_too_large(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    payload = json.dumps({"blob": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException) as excinfo:
        lambda_client.invoke(FunctionName=name, Payload=payload)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert (
        excinfo.value.response["Error"]["Message"]
        == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    event = json.dumps({"blob": "x" * (1024 * 1024)}).encode()
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException):
        lambda_client.invoke(FunctionName=name, Payload=event, InvocationType="Event")


def test_unknown_function_and_bad_payload(lambda_client: Any, make_function: Callable[..., str]) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.invoke(FunctionName="streamlab-no-such-function")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    name = make_function(ECHO)
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName=name, Payload=b"{not json")


def test_environment_is_the_one_aws_sets(
    lambda_client: Any, make_function: Callable[..., str], streamlab_endpoint_url: str, streamlab_region: str
) -> None:
    name = make_function(
        """
        import importlib.util, os, sys

        def handler(event, context):
            keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
                    "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ", "AWS_ENDPOINT_URL",
                    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "TEAM"]
            return {
                "env": {key: os.environ.get(key) for key in keys},
                "cwd": os.getcwd(),
                "path0": sys.path[0],
                "boto3": importlib.util.find_spec("boto3") is not None,
                "moto": importlib.util.find_spec("moto") is not None,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "remaining": context.get_remaining_time_in_millis(),
                "client_context": context.client_context and context.client_context.custom,
            }
        """,
        MemorySize=256,
        Timeout=30,
        Environment={"Variables": {"TEAM": "streams"}},
    )
    client_context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    seen = payload_of(lambda_client.invoke(FunctionName=name, ClientContext=client_context))
    env = seen["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].count("/") == 3
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == streamlab_region
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"] == streamlab_endpoint_url
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_SESSION_TOKEN"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["TEAM"] == "streams"
    assert seen["cwd"] == env["LAMBDA_TASK_ROOT"] == seen["path0"]
    assert seen["boto3"] is True
    assert seen["moto"] is False
    assert seen["arn"].endswith(f":function:{name}")
    assert seen["memory"] == "256"  # awslambdaric reports the variable as is, like AWS
    assert 25_000 < seen["remaining"] <= 30_000
    assert seen["client_context"] == {"tenant": "t1"}


@pytest.mark.parametrize("runtime", PYTHON_RUNTIMES)
def test_every_python_runtime_runs_on_the_interpreter_it_reports(
    lambda_client: Any, make_function: Callable[..., str], runtime: str
) -> None:
    """A function runs on its runtime's Python when this machine has one; when it has not, the
    function still runs and RuntimeVersionConfig.Error says so (issue 13, item 5)."""
    source = (
        "import os, platform\n"
        "def handler(event, context):\n"
        "    return [os.environ['AWS_EXECUTION_ENV'], platform.python_version()]\n"
    )
    name = make_function(source, runtime=runtime)
    execution_env, version = payload_of(lambda_client.invoke(FunctionName=name))
    assert execution_env == f"AWS_Lambda_{runtime}"
    runtime_config = lambda_client.get_function_configuration(FunctionName=name)["RuntimeVersionConfig"]
    assert runtime_config["RuntimeVersionArn"].endswith(f":runtime:streamlab-python-{version}")
    wanted = runtime.removeprefix("python")
    if "Error" in runtime_config:
        assert version.rsplit(".", 1)[0] != wanted
        assert f"no Python {wanted} interpreter found" in runtime_config["Error"]["Message"]
    else:
        assert version.rsplit(".", 1)[0] == wanted


def test_reserved_concurrency_zero_throttles(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(ECHO)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as excinfo:
        lambda_client.invoke(FunctionName=name)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert excinfo.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert payload_of(lambda_client.invoke(FunctionName=name, Payload=b"[1]")) == [1]


def test_invocations_over_reserved_concurrency_are_throttled(
    lambda_client: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SLEEPER, Timeout=5)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    payload_of(lambda_client.invoke(FunctionName=name))  # warm, so the long one starts at once
    results: list[Any] = []
    slow = threading.Thread(
        target=lambda: results.append(payload_of(lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": 1.5}')))
    )
    slow.start()
    time.sleep(0.5)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.invoke(FunctionName=name)
    slow.join()
    assert results[0]["invocations"] == 2
    assert payload_of(lambda_client.invoke(FunctionName=name))["invocations"] == 3


def test_two_concurrent_invocations_get_two_environments(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function(SLEEPER, Timeout=5)
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                payload_of(lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": 1.0}'))
            )
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r["pid"] for r in results}) == 2


def test_response_over_6_mb_is_a_function_error(lambda_client: Any, make_function: Callable[..., str]) -> None:
    name = make_function("def handler(event, context):\n    return 'x' * (7 * 1024 * 1024)\n")
    response = lambda_client.invoke(FunctionName=name)
    assert response["FunctionError"] == "Unhandled"
    error = payload_of(response)
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert "exceeded maximum allowed payload size" in error["errorMessage"]
