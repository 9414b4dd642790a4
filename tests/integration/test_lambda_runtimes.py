"""The runtime you declare is the runtime you get (issue 13, item 5).

A function runs on an interpreter of its runtime's version when the machine has one (the one the
user names, PATH, pyenv, uv's managed Pythons); when it has none, the function still runs, on the
endpoint's interpreter, and CreateFunction (``RuntimeVersionConfig.Error``) and every INIT_START
line say so. The found and not-found paths run here on endpoints whose search is configured, so
they do not depend on what this machine has installed; the Python 3.12 syntax case runs on the
session endpoint and skips where no 3.12 exists.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamlab.aws_rules import PYTHON_RUNTIMES
from streamlab.emulator.awslambda.interpreters import InterpreterDirectory, InterpreterSearch
from streamlab.emulator.endpoint import EmbeddedEndpoint
from tests.integration.lambda_support import ROLE, local_client, zip_source

THIS_PYTHON = platform.python_version()
THIS_RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"
#: A runtime whose Python is not the endpoint's own.
OTHER_RUNTIME = next(runtime for runtime in reversed(PYTHON_RUNTIMES) if runtime != THIS_RUNTIME)

REPORTS_INTERPRETER = """
import platform, sys
def handler(event, context):
    return {"python": platform.python_version(), "executable": sys.executable}
"""


@pytest.fixture
def start_endpoint(streamlab_in_process: bool) -> Iterator[Callable[..., Callable[[str], Any]]]:
    """``start_endpoint(**EmbeddedEndpoint kwargs)`` -> a boto3 client factory for a fresh endpoint."""
    if not streamlab_in_process:
        pytest.skip("starts its own embedded endpoint with a configured interpreter search")
    started: list[EmbeddedEndpoint] = []

    def start(**kwargs: Any) -> Callable[[str], Any]:
        endpoint = EmbeddedEndpoint(port=0, **kwargs).start()
        started.append(endpoint)

        return lambda service: local_client(endpoint.url, service)

    yield start
    for endpoint in started:
        endpoint.stop()


def create(client: Callable[[str], Any], name: str, runtime: str, source: str = REPORTS_INTERPRETER) -> dict[str, Any]:
    created = client("lambda").create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="app.handler", Code={"ZipFile": zip_source(source)}
    )
    return dict(created)


def invoke(client: Callable[[str], Any], name: str) -> tuple[dict[str, Any], str]:
    answer = client("lambda").invoke(FunctionName=name, LogType="Tail")
    return json.loads(answer["Payload"].read()), base64.b64decode(answer["LogResult"]).decode()


def init_start(log_tail: str) -> str:
    return next(line for line in log_tail.splitlines() if line.startswith("INIT_START"))


def test_a_named_interpreter_runs_its_runtimes_functions(
    start_endpoint: Callable[..., Callable[[str], Any]], tmp_path: Path
) -> None:
    # An interpreter of the endpoint's own version, reached by another path: the handler's
    # sys.executable proves which one ran.
    named = tmp_path / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    named.symlink_to(os.path.realpath(sys.executable))
    client = start_endpoint(lambda_pythons={THIS_RUNTIME: str(named)}, python_search=())
    created = create(client, "named", THIS_RUNTIME)
    assert "Error" not in created["RuntimeVersionConfig"]
    answer, log_tail = invoke(client, "named")
    assert answer == {"python": THIS_PYTHON, "executable": str(named)}
    assert init_start(log_tail).startswith(f"INIT_START Runtime Version: python:{THIS_PYTHON}.streamlab\t")
    assert "Warning" not in init_start(log_tail)


def test_without_an_interpreter_of_its_version_a_function_runs_and_says_so(
    start_endpoint: Callable[..., Callable[[str], Any]],
) -> None:
    client = start_endpoint(lambda_pythons={}, python_search=())
    wanted = OTHER_RUNTIME.removeprefix("python")
    created = create(client, "missing", OTHER_RUNTIME)
    assert created["Runtime"] == OTHER_RUNTIME
    error = created["RuntimeVersionConfig"]["Error"]
    assert error["ErrorCode"] == "InterpreterNotFound"
    assert error["Message"].startswith(f"no Python {wanted} interpreter found for {OTHER_RUNTIME}")
    assert f"its functions run on Python {THIS_PYTHON}" in error["Message"]
    assert created["RuntimeVersionConfig"]["RuntimeVersionArn"].endswith(f"streamlab-python-{THIS_PYTHON}")

    answer, log_tail = invoke(client, "missing")
    assert answer["python"] == THIS_PYTHON
    line = init_start(log_tail)
    assert line.startswith(f"INIT_START Runtime Version: python:{THIS_PYTHON}.streamlab\t")
    assert f"\tWarning: no Python {wanted} interpreter found for {OTHER_RUNTIME}" in line

    # Every cold start says it again, not only the first.
    client("lambda").update_function_configuration(FunctionName="missing", Description="new environment")
    _, second_tail = invoke(client, "missing")
    assert f"Warning: no Python {wanted} interpreter found" in init_start(second_tail)
    # The health answer tells a deploy what the runtime really runs on.
    runtimes = client_health(client)["runtime"]["runtimes"]
    assert runtimes[OTHER_RUNTIME]["python"] == THIS_PYTHON
    assert runtimes[OTHER_RUNTIME]["matches"] is False


def test_a_named_interpreter_of_the_wrong_version_is_refused_plainly(
    start_endpoint: Callable[..., Callable[[str], Any]],
) -> None:
    client = start_endpoint(lambda_pythons={OTHER_RUNTIME: sys.executable}, python_search=())
    message = create(client, "wrong", OTHER_RUNTIME)["RuntimeVersionConfig"]["Error"]["Message"]
    assert (
        f"the interpreter named for {OTHER_RUNTIME} ({sys.executable}): is Python {THIS_PYTHON}, "
        f"not {OTHER_RUNTIME.removeprefix('python')}"
    ) in message


def client_health(client: Callable[[str], Any]) -> dict[str, Any]:
    url = client("lambda").meta.endpoint_url + "/_streamlab/health"
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.loads(response.read()))


def python_312_found() -> bool:
    found = InterpreterDirectory(InterpreterSearch()).describe(["python3.12"])["python3.12"]
    return bool(found["matches"])


#: PEP 695 type aliases and generics are 3.12 syntax: on 3.11 this module does not even import.
PYTHON_312_ONLY = """
import sys
type Pair[T] = tuple[T, T]
def first[T](pair: Pair[T]) -> T:
    return pair[0]
def handler(event, context):
    return {"first": first((1, 2)), "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
"""


def test_python312_syntax_runs_on_python312(lambda_client: Any, make_function: Callable[..., str]) -> None:
    """The case the issue reported: a python3.12 handler using 3.12 syntax failed with
    Runtime.UserCodeSyntaxError while INIT_START claimed python:3.12."""
    if not python_312_found():
        pytest.skip("no Python 3.12 on this machine (PATH, pyenv, uv)")
    name = make_function(PYTHON_312_ONLY, runtime="python3.12")
    answer = lambda_client.invoke(FunctionName=name, LogType="Tail")
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"first": 1, "python": "3.12"}
    assert "INIT_START Runtime Version: python:3.12." in base64.b64decode(answer["LogResult"]).decode()
