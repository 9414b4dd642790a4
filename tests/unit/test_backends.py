"""Backends: the factory, STREAMLAB_BACKEND handling, Docker detection, and the configuration of
the LocalStack and embedded-image containers.

Nothing here starts a container: containers are built with a pinned Docker API version, which
lets docker-py skip asking an engine, and only their configuration is inspected.
"""

from __future__ import annotations

import io

import pytest

from streamlab.backends import (
    BACKEND_NAMES,
    Backend,
    BackendUnavailable,
    backend_from_name,
    backend_name_from_env,
    docker_available,
)
from streamlab.backends.aws import AwsBackend
from streamlab.backends.container import EmbeddedContainerBackend, embedded_container_config
from streamlab.backends.container import build_container as build_embedded_container
from streamlab.backends.embedded import EmbeddedBackend
from streamlab.backends.localstack import (
    DEFAULT_IMAGE,
    DEFAULT_SERVICES,
    DOCKER_SOCKET,
    LocalStackBackend,
    build_container,
    localstack_config,
)


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("embedded", EmbeddedBackend),
        ("container", EmbeddedContainerBackend),
        ("localstack", LocalStackBackend),
        ("aws", AwsBackend),
        (" LocalStack ", LocalStackBackend),
    ],
)
def test_factory_builds_each_backend_without_starting_it(name: str, cls: type) -> None:
    backend = backend_from_name(name)
    assert isinstance(backend, cls)
    assert isinstance(backend, Backend)
    assert backend.name == name.strip().lower()
    assert backend.url is None


def test_factory_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown streamlab backend 'docker'.*embedded, container, localstack, aws"):
        backend_from_name("docker")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "embedded"), ("", "embedded"), ("  ", "embedded"), ("aws", "aws"), ("LOCALSTACK", "localstack")],
)
def test_backend_name_from_env(value: str | None, expected: str) -> None:
    environ = {} if value is None else {"STREAMLAB_BACKEND": value}
    assert backend_name_from_env(environ) == expected


def test_backend_name_from_env_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="'moto'"):
        backend_name_from_env({"STREAMLAB_BACKEND": "moto"})


def test_factory_without_a_name_reads_streamlab_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMLAB_BACKEND", "aws")
    assert isinstance(backend_from_name(), AwsBackend)
    monkeypatch.delenv("STREAMLAB_BACKEND")
    assert isinstance(backend_from_name(), EmbeddedBackend)
    assert BACKEND_NAMES == ("embedded", "container", "localstack", "aws")


def test_docker_is_unavailable_here_and_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # A socket path that cannot exist: the same answer whether or not this machine has Docker.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    ok, reason = docker_available(timeout=0.5)
    assert ok is False
    assert reason
    assert "Docker" in reason


def test_embedded_backend_is_a_context_manager() -> None:
    backend = EmbeddedBackend()
    with backend as url:
        assert url is not None
        assert url.startswith("http://127.0.0.1:")
        assert backend.url == url
    assert backend.url is None
    backend.stop()  # twice is fine


def test_aws_backend_without_credentials_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    backend = AwsBackend()
    assert backend.region == "eu-west-1"
    with pytest.raises(BackendUnavailable, match="no AWS credentials"):
        backend.start()


def test_aws_backend_with_credentials_has_no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with AwsBackend() as url:
        assert url is None


def test_localstack_config_defaults() -> None:
    config = localstack_config(environ={})
    assert config.image == DEFAULT_IMAGE == "localstack/localstack:4.14.0"
    assert config.services == DEFAULT_SERVICES
    assert {"dynamodb", "dynamodbstreams", "lambda", "logs"} <= set(config.env["SERVICES"].split(","))
    assert config.env["LAMBDA_DOCKER_NETWORK"] == config.network
    assert config.network.startswith("streamlab-")
    assert int(config.env["LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT"]) >= 60
    assert config.env["DOCKER_HOST"] == f"unix://{DOCKER_SOCKET}"
    assert "LOCALSTACK_AUTH_TOKEN" not in config.env
    assert config.volumes == {DOCKER_SOCKET: (DOCKER_SOCKET, "rw")}
    assert config.region == "us-east-1"


def test_localstack_config_overrides_from_the_environment() -> None:
    config = localstack_config(
        environ={
            "STREAMLAB_LOCALSTACK_IMAGE": "localstack/localstack-pro:4.15",
            "LOCALSTACK_AUTH_TOKEN": "ls-token",
            "AWS_REGION": "eu-central-1",
        },
        services=("dynamodb", "lambda"),
        extra_env={"DEBUG": "1"},
    )
    assert config.image == "localstack/localstack-pro:4.15"
    assert config.env["LOCALSTACK_AUTH_TOKEN"] == "ls-token"
    assert config.env["SERVICES"] == "dynamodb,lambda"
    assert config.env["AWS_DEFAULT_REGION"] == config.region == "eu-central-1"
    assert config.env["DEBUG"] == "1"
    assert localstack_config(image="mine:1", environ={"STREAMLAB_LOCALSTACK_IMAGE": "x"}).image == "mine:1"


def test_each_config_gets_its_own_network() -> None:
    assert localstack_config(environ={}).network != localstack_config(environ={}).network


def test_localstack_container_is_configured_without_starting_it() -> None:
    config = localstack_config(environ={"LOCALSTACK_AUTH_TOKEN": "ls-token"}, network="streamlab-test")
    container = build_container(config, docker_client_kw={"version": "1.44"})  # no engine needed
    assert container.image.endswith("localstack/localstack:4.14.0")
    for key, value in config.env.items():
        assert container.env[key] == value
    assert container.env["LAMBDA_DOCKER_NETWORK"] == "streamlab-test"
    assert container.env["LOCALSTACK_AUTH_TOKEN"] == "ls-token"
    assert container.volumes[DOCKER_SOCKET] == {"bind": DOCKER_SOCKET, "mode": "rw"}
    assert container._kwargs["network"] == "streamlab-test"
    assert 4566 in container.ports or "4566" in container.ports
    assert container._container is None  # never started


def test_localstack_backend_start_without_docker_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    backend = LocalStackBackend(config=localstack_config(environ={}), log_stream=io.StringIO())
    with pytest.raises(BackendUnavailable, match="needs Docker"):
        backend.start()
    backend.stop()  # nothing to release
    assert backend.url is None


# -- the embedded endpoint's image -------------------------------------------------------------


def test_embedded_container_defaults_to_a_bridge_port_published_on_loopback_only() -> None:
    config = embedded_container_config(environ={"AWS_DEFAULT_REGION": "eu-west-1", "HOME": "/root"})
    assert config.image == "streamlab-embedded:local"
    assert config.network_mode == "bridge"
    assert config.command == ("--no-deploy", "--host", "0.0.0.0", "--port", "4566")
    assert config.env == {
        "AWS_DEFAULT_REGION": "eu-west-1",  # only the region is forwarded
        "STREAMLAB_HEALTH_URL": "http://127.0.0.1:4566/_streamlab/health",
    }
    container = build_embedded_container(config, docker_client_kw={"version": "1.41"})
    assert container.ports == {"4566/tcp": ("127.0.0.1",)}  # never 0.0.0.0 on the host
    assert container._command == list(config.command)
    assert "network_mode" not in container._kwargs
    assert container._container is None


def test_embedded_container_on_the_host_network_listens_on_a_free_loopback_port() -> None:
    config = embedded_container_config(
        environ={"STREAMLAB_CONTAINER_NETWORK": "HOST", "STREAMLAB_EMBEDDED_IMAGE": "registry.local/streamlab:1"},
        esm_cadence="aws",
    )
    assert config.image == "registry.local/streamlab:1"
    assert config.network_mode == "host"
    assert 0 < config.port < 65536
    assert config.command[:4] == ("--no-deploy", "--host", "127.0.0.1", "--port")
    assert config.command[4] == str(config.port)
    assert config.command[5:] == ("--esm-cadence", "aws")
    assert config.env["STREAMLAB_HEALTH_URL"] == f"http://127.0.0.1:{config.port}/_streamlab/health"
    container = build_embedded_container(config, docker_client_kw={"version": "1.41"})
    assert container._kwargs == {"network_mode": "host"}
    assert container.ports == {}  # nothing to publish: the port is the host's own


def test_embedded_container_rejects_an_unknown_network_mode() -> None:
    with pytest.raises(ValueError, match=r"STREAMLAB_CONTAINER_NETWORK='overlay'.*bridge, host"):
        embedded_container_config(environ={"STREAMLAB_CONTAINER_NETWORK": "overlay"})


def test_embedded_container_backend_without_docker_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    backend = EmbeddedContainerBackend(config=embedded_container_config(environ={}), log_stream=io.StringIO())
    with pytest.raises(BackendUnavailable, match="container backend needs Docker"):
        backend.start()
    backend.stop()
    assert backend.url is None


class _ContainerThatCannotStartItsReaper:
    """What Testcontainers raises when Ryuk's image cannot be pulled (an engine with no registry)."""

    def start(self, **options: object) -> None:
        raise RuntimeError(
            "500 Server Error for http+docker://localhost/v1.41/images/create?tag=0.8.1"
            '&fromImage=testcontainers%2Fryuk: Internal Server Error ("no such host")'
        )


def test_a_reaper_that_cannot_start_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from testcontainers.core.config import testcontainers_config

    from streamlab.backends._docker import start_container

    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", False)
    with pytest.raises(
        BackendUnavailable,
        match=r"the container backend: Testcontainers' reaper testcontainers/ryuk:.*"
        r"TESTCONTAINERS_RYUK_DISABLED=true",
    ):
        start_container(_ContainerThatCannotStartItsReaper(), "the container backend")
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)  # then it is some other failure
    with pytest.raises(RuntimeError, match="500 Server Error"):
        start_container(_ContainerThatCannotStartItsReaper(), "the container backend")
