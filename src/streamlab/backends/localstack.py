"""LocalStack in a container, through Testcontainers (``pip install 'streamlab[containers]'``).

:func:`localstack_config` builds the whole container configuration as plain data (image, env,
volumes, network) without touching Docker, so it can be inspected and tested anywhere;
:class:`LocalStackBackend` turns it into a ``testcontainers`` ``LocalStackContainer`` on
``start()``, waits for ``/_localstack/health`` to report every requested service, and dumps
the container's logs when anything fails.

Lambda under LocalStack runs each function in a sibling container, started through the host's
Docker socket (mounted at /var/run/docker.sock). Those containers must reach LocalStack, so
the backend puts LocalStack on its own user-defined network and tells LocalStack to start
function containers there (``LAMBDA_DOCKER_NETWORK``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamlab.aws_rules import resolve_region
from streamlab.backends._docker import (
    dump_container_logs,
    require_docker,
    start_container,
    stop_container,
    wait_http,
)
from streamlab.backends.base import Backend

LOG = logging.getLogger(__name__)

DEFAULT_IMAGE = "localstack/localstack:4.14.0"  # the last tag that starts without an auth token
IMAGE_ENV = "STREAMLAB_LOCALSTACK_IMAGE"
AUTH_TOKEN_ENV = "LOCALSTACK_AUTH_TOKEN"
EDGE_PORT = 4566
DOCKER_SOCKET = "/var/run/docker.sock"
# What the harness, the demo stack and the conformance suite call.
DEFAULT_SERVICES = ("dynamodb", "dynamodbstreams", "lambda", "logs", "iam", "sts", "s3", "sqs", "sns")
READY_STATES = ("available", "running")


@dataclass(frozen=True)
class LocalStackConfig:
    """Everything the container is started with; built by :func:`localstack_config`."""

    image: str
    services: tuple[str, ...]
    region: str
    network: str
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # host -> (container path, mode)
    edge_port: int = EDGE_PORT


def localstack_config(
    image: str | None = None,
    services: Sequence[str] = DEFAULT_SERVICES,
    region: str | None = None,
    network: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LocalStackConfig:
    """The container configuration; ``environ`` (default ``os.environ``) supplies the overrides."""
    environ = os.environ if environ is None else environ
    image = image or environ.get(IMAGE_ENV) or DEFAULT_IMAGE
    region = resolve_region(region, environ=environ)
    network = network or f"streamlab-{uuid.uuid4().hex[:12]}"
    env: dict[str, str] = {
        "SERVICES": ",".join(services),
        "AWS_DEFAULT_REGION": region,
        # Function containers are started on this network, where LocalStack is reachable.
        "LAMBDA_DOCKER_NETWORK": network,
        # Cold starts pull images on fresh CI runners: AWS's 20 s default is too short there.
        "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT": "120",
        # Keep warm environments between invocations like AWS does (faster ESM batches).
        "LAMBDA_KEEPALIVE_MS": "600000",
        "DOCKER_HOST": f"unix://{DOCKER_SOCKET}",
        "EAGER_SERVICE_LOADING": "1",
    }
    token = environ.get(AUTH_TOKEN_ENV)
    if token:
        env[AUTH_TOKEN_ENV] = token
    if environ.get("STREAMLAB_LOCALSTACK_DEBUG"):
        env["DEBUG"] = "1"
    env.update(extra_env or {})
    volumes = {DOCKER_SOCKET: (DOCKER_SOCKET, "rw")}
    return LocalStackConfig(
        image=image, services=tuple(services), region=region, network=network, env=env, volumes=volumes
    )


def build_container(config: LocalStackConfig, docker_client_kw: dict[str, Any] | None = None) -> Any:
    """A configured, not started, ``LocalStackContainer`` (needs Docker unless ``docker_client_kw``
    pins an API ``version``, which is how the unit tests build one without an engine)."""
    try:  # testcontainers 4.x: the module lives under community; testcontainers.localstack is a deprecated alias
        from testcontainers.community.localstack import LocalStackContainer
    except ImportError:  # pragma: no cover - older 4.x releases
        from testcontainers.localstack import LocalStackContainer

    container = LocalStackContainer(
        image=config.image, edge_port=config.edge_port, region_name=config.region, docker_client_kw=docker_client_kw
    )
    for key, value in config.env.items():
        container.with_env(key, value)
    for host, (path, mode) in config.volumes.items():
        container.with_volume_mapping(host, path, mode)
    # Joined by name: the network is created (and removed) by the backend around the container.
    container.with_kwargs(network=config.network)
    return container


def wait_ready(url: str, services: Sequence[str], timeout: float = 120.0) -> None:
    """Until every service in ``services`` is ``available`` or ``running``; raises TimeoutError."""

    def ready(body: bytes) -> bool:
        states = json.loads(body.decode()).get("services", {})
        return all(states.get(s) in READY_STATES for s in services)

    wait_http(f"{url}/_localstack/health", ready, timeout, "LocalStack")


class LocalStackBackend(Backend):
    """LocalStack through Testcontainers; ``start()`` returns its edge URL (``http://127.0.0.1:<port>``)."""

    name = "localstack"

    def __init__(
        self, config: LocalStackConfig | None = None, startup_timeout: float = 180.0, log_stream: Any = None
    ) -> None:
        self.config = config or localstack_config()
        self.startup_timeout = startup_timeout
        self.log_stream = log_stream or sys.stderr
        self.container: Any = None
        self._network: Any = None
        self.url: str | None = None

    def start(self) -> str:
        if self.url:
            return self.url
        require_docker("the LocalStack backend")
        import docker

        client = docker.from_env()
        # Labelled like Testcontainers' own resources, so its reaper (Ryuk) removes the network
        # too if this process dies before stop().
        from testcontainers.core.labels import LABEL_SESSION_ID, LABEL_TESTCONTAINERS, SESSION_ID

        self._network = client.networks.create(
            self.config.network, driver="bridge", labels={LABEL_TESTCONTAINERS: "true", LABEL_SESSION_ID: SESSION_ID}
        )
        try:
            self.container = build_container(self.config)
            start_container(self.container, "the LocalStack backend", timeout=self.startup_timeout)
            url = self.container.get_url()
            wait_ready(url, self.config.services, timeout=self.startup_timeout)
        except BaseException:
            self.dump_logs()
            self.stop()
            raise
        self.url = url
        return str(url)

    def dump_logs(self) -> None:
        """Write the container's logs to ``log_stream`` (why LocalStack did not come up)."""
        dump_container_logs(self.container, f"LocalStack ({self.config.image})", self.log_stream)

    def stop(self) -> None:
        container, self.container = self.container, None
        network, self._network = self._network, None
        self.url = None
        stop_container(container, "LocalStack")
        if network is not None:
            try:
                network.remove()
            except Exception as exc:
                LOG.warning("removing network %s: %s", self.config.network, exc)
