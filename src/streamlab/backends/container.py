"""streamlab's embedded endpoint in a container, through Testcontainers (``pip install 'streamlab[containers]'``).

The image is the one ``docker/embedded.Dockerfile`` builds (``docker compose --profile embedded``
runs the same). It suits suites that want the endpoint out of the test process, or on the Python
and Debian of the image rather than the host's, with no LocalStack token and no function
containers: functions run as subprocesses inside the endpoint's container.

Two network modes (``STREAMLAB_CONTAINER_NETWORK``):

- ``bridge`` (default): port 4566 published on a free host port, bound to 127.0.0.1 only.
- ``host``: the container shares the host's network and listens on a free 127.0.0.1 port. For
  engines without a bridge (``dockerd --bridge=none``), and for handlers that must reach services
  on the host's loopback (the demo stack's Redis at 127.0.0.1:6379).

The container starts with ``--no-deploy``: tests deploy what they need through boto3.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamlab.backends._docker import (
    dump_container_logs,
    require_docker,
    start_container,
    stop_container,
    wait_http,
)
from streamlab.backends.base import Backend, BackendUnavailable

LOG = logging.getLogger(__name__)

DEFAULT_IMAGE = "streamlab-embedded:local"
IMAGE_ENV = "STREAMLAB_EMBEDDED_IMAGE"
NETWORK_ENV = "STREAMLAB_CONTAINER_NETWORK"
NETWORK_MODES = ("bridge", "host")
CONTAINER_PORT = 4566
BUILD_HINT = "docker build -f docker/embedded.Dockerfile -t streamlab-embedded:local ."
# Passed through to the container when set: the region the endpoint reports.
FORWARDED_ENV = ("AWS_DEFAULT_REGION", "AWS_REGION")


@dataclass(frozen=True)
class EmbeddedContainerConfig:
    """Everything the container is started with; built by :func:`embedded_container_config`."""

    image: str
    network_mode: str
    port: int  # the port the endpoint listens on inside the container
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the host-network container binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def embedded_container_config(
    image: str | None = None,
    network_mode: str | None = None,
    port: int | None = None,
    esm_cadence: str | None = None,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> EmbeddedContainerConfig:
    """The container configuration; ``environ`` (default ``os.environ``) supplies the overrides."""
    environ = os.environ if environ is None else environ
    image = image or environ.get(IMAGE_ENV) or DEFAULT_IMAGE
    network_mode = (network_mode or environ.get(NETWORK_ENV) or "bridge").strip().lower()
    if network_mode not in NETWORK_MODES:
        raise ValueError(f"{NETWORK_ENV}={network_mode!r}: expected one of {', '.join(NETWORK_MODES)}")
    if network_mode == "host":
        # Shared network namespace: listen on loopback only, on a port nothing else holds.
        port = port or free_loopback_port()
        host = "127.0.0.1"
    else:
        # Inside its own namespace the endpoint must listen on all interfaces to be published.
        port = port or CONTAINER_PORT
        host = "0.0.0.0"
    command = ["--no-deploy", "--host", host, "--port", str(port)]
    if esm_cadence:
        command += ["--esm-cadence", esm_cadence]
    command += list(extra_args)
    env = {key: environ[key] for key in FORWARDED_ENV if environ.get(key)}
    # The image's HEALTHCHECK asks this URL (its default assumes port 4566).
    env["STREAMLAB_HEALTH_URL"] = f"http://127.0.0.1:{port}/_streamlab/health"
    env.update(extra_env or {})
    return EmbeddedContainerConfig(image=image, network_mode=network_mode, port=port, command=tuple(command), env=env)


def build_container(config: EmbeddedContainerConfig, docker_client_kw: dict[str, Any] | None = None) -> Any:
    """A configured, not started, Testcontainers ``DockerContainer`` for ``config``."""
    from testcontainers.core.container import DockerContainer

    container = DockerContainer(config.image, docker_client_kw=docker_client_kw)
    container.with_command(list(config.command))
    for key, value in config.env.items():
        container.with_env(key, value)
    if config.network_mode == "host":
        container.with_kwargs(network_mode="host")
    else:
        # docker-py's (host_ip,) form: a free host port, reachable from this machine only. Testcontainers
        # hands ``ports`` to docker-py as it is, though its annotation lists only port numbers.
        ports: dict[Any, Any] = container.ports
        ports[f"{config.port}/tcp"] = ("127.0.0.1",)
    return container


class EmbeddedContainerBackend(Backend):
    """The embedded endpoint's image through Testcontainers; ``start()`` returns ``http://127.0.0.1:<port>``."""

    name = "container"

    def __init__(
        self, config: EmbeddedContainerConfig | None = None, startup_timeout: float = 60.0, log_stream: Any = None
    ) -> None:
        self.config = config or embedded_container_config()
        self.startup_timeout = startup_timeout
        self.log_stream = log_stream or sys.stderr
        self.container: Any = None
        self.url: str | None = None

    def start(self) -> str:
        if self.url:
            return self.url
        require_docker("the container backend")
        self._require_image()
        self.container = build_container(self.config)
        try:
            start_container(self.container, "the container backend")
            url = f"http://127.0.0.1:{self._host_port()}"
            wait_http(
                f"{url}/_streamlab/health",
                lambda body: True,
                self.startup_timeout,
                f"streamlab endpoint in {self.config.image}",
            )
        except BaseException:
            dump_container_logs(self.container, f"streamlab endpoint ({self.config.image})", self.log_stream)
            self.stop()
            raise
        self.url = url
        return url

    def _require_image(self) -> None:
        """The default image exists only where it was built: say so, instead of a failed pull from
        Docker Hub. Any other image (``STREAMLAB_EMBEDDED_IMAGE``) is the engine's to pull."""
        if self.config.image != DEFAULT_IMAGE:
            return
        import docker
        from docker.errors import ImageNotFound

        client = docker.from_env()
        try:
            client.images.get(self.config.image)
        except ImageNotFound:
            raise BackendUnavailable(
                f"image {self.config.image} is not on this Docker engine (build it: {BUILD_HINT})"
            ) from None
        finally:
            client.close()

    def _host_port(self) -> int:
        if self.config.network_mode == "host":
            return self.config.port
        try:
            return int(self.container.get_exposed_port(self.config.port))
        except ConnectionError as exc:  # Testcontainers: "Port mapping ... is not available"
            raise BackendUnavailable(
                f"the engine published no host port for the container's {self.config.port} ({exc}); an engine "
                f"without a bridge network (dockerd --bridge=none) needs {NETWORK_ENV}=host"
            ) from exc

    def stop(self) -> None:
        container, self.container = self.container, None
        self.url = None
        stop_container(container, f"streamlab endpoint ({self.config.image})")
