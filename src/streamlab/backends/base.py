"""The interface every backend implements, and Docker detection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

from streamlab.errors import StreamlabError

BACKEND_NAMES = ("embedded", "container", "localstack", "aws")


class BackendUnavailable(StreamlabError, RuntimeError):
    """The backend cannot run here (no Docker, no credentials); the message says why."""


class Backend(ABC):
    """A place the harness can talk to through boto3.

    ``start()`` returns the endpoint URL to aim boto3 at, or None for real AWS (the default
    boto3 endpoint resolution). ``stop()`` releases whatever ``start()`` acquired and is safe to
    call twice. ``with backend as url:`` does both.
    """

    name: str = ""
    url: str | None = None  # set by start(): the endpoint URL, None on AWS

    @abstractmethod
    def start(self) -> str | None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> str | None:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def docker_available(timeout: float = 2.0) -> tuple[bool, str]:
    """``(True, "")`` when a Docker engine answers a ping within ``timeout`` s, else ``(False, reason)``."""
    try:
        import docker
    except ImportError:
        return False, "the docker package is not installed (pip install 'streamlab[containers]')"
    try:
        client = docker.from_env(timeout=timeout)
    except Exception as exc:  # DockerException: no socket, bad DOCKER_HOST, ...
        return False, f"no Docker engine reachable ({short_error(exc)})"
    try:
        client.ping()
    except Exception as exc:
        return False, f"the Docker engine did not answer a ping ({short_error(exc)})"
    finally:
        client.close()
    return True, ""


def short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
