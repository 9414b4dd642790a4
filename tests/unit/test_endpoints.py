"""Which endpoint deploy, redrive and logs talk to: the local one unless --aws names AWS."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from streamlab import cli
from streamlab.endpoints import LOCAL_ENDPOINT, EndpointError, checked_endpoint_url, target_endpoint


def test_no_url_anywhere_means_the_local_endpoint_not_aws() -> None:
    assert target_endpoint(None, use_aws=False, environ={}) == LOCAL_ENDPOINT == "http://127.0.0.1:4566"


def test_the_flag_wins_over_the_environment() -> None:
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4999"}
    assert target_endpoint(None, False, environ) == "http://127.0.0.1:4999"
    assert target_endpoint("http://127.0.0.1:5000/", False, environ) == "http://127.0.0.1:5000"


def test_aws_only_when_asked_for_and_never_with_a_url() -> None:
    assert target_endpoint(None, use_aws=True, environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}) is None
    with pytest.raises(EndpointError, match="drop --endpoint-url"):
        target_endpoint("http://127.0.0.1:4566", use_aws=True, environ={})


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("127.0.0.1:4566", "did you mean http://127.0.0.1:4566?"),
        ("localhost", "did you mean http://localhost?"),
        ("ftp://127.0.0.1:4566", "not an http:// or https:// URL"),
        ("http://", "with a host"),
        ("http://127.0.0.1:99999", "invalid port"),
    ],
)
def test_a_url_that_cannot_work_is_a_clear_error(url: str, hint: str) -> None:
    with pytest.raises(EndpointError, match=hint.replace("?", r"\?").replace(".", r"\.")):
        checked_endpoint_url(url)


def test_aws_clears_the_endpoint_variables_boto3_would_follow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:4567")
    assert cli._target(argparse.Namespace(endpoint_url=None, aws=True)) is None
    assert "AWS_ENDPOINT_URL" not in cli.os.environ
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in cli.os.environ


@pytest.mark.parametrize("command", ["deploy", "redrive --queue q", "logs probe"])
def test_a_scheme_less_url_is_an_error_not_a_traceback(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamlab.cli", *command.split(), "--endpoint-url", "127.0.0.1:4566"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "did you mean http://127.0.0.1:4566?" in result.stderr
    assert "Traceback" not in result.stderr
