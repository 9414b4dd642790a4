"""Where the harness runs: one :class:`Backend` interface, three implementations.

- ``embedded`` (default): streamlab's own endpoint in this process; no Docker, no account.
- ``container``: the same endpoint from its image (docker/embedded.Dockerfile), through Testcontainers.
- ``localstack``: LocalStack in a container through Testcontainers (needs Docker).
- ``aws``: real AWS through the default boto3 credential chain; ``start()`` returns None.

``backend_from_name(os.environ.get("STREAMLAB_BACKEND", "embedded"))`` is what the pytest
plugin does. Every backend is a context manager: ``with backend_from_name("embedded") as url:``.
"""

from __future__ import annotations

import os
from typing import Any

from streamlab.backends.base import BACKEND_NAMES, Backend, BackendUnavailable, docker_available

BACKEND_ENV = "STREAMLAB_BACKEND"
DEFAULT_BACKEND = "embedded"

__all__ = [
    "BACKEND_ENV",
    "BACKEND_NAMES",
    "DEFAULT_BACKEND",
    "Backend",
    "BackendUnavailable",
    "backend_from_name",
    "backend_name_from_env",
    "docker_available",
]


def backend_name_from_env(environ: Any = None) -> str:
    """``STREAMLAB_BACKEND`` normalised (blank -> embedded); raises ValueError for an unknown name."""
    environ = os.environ if environ is None else environ
    return _check((environ.get(BACKEND_ENV) or "").strip().lower() or DEFAULT_BACKEND)


def backend_from_name(name: str | None = None, **options: Any) -> Backend:
    """A not-yet-started backend by name; ``None`` reads ``STREAMLAB_BACKEND``. ``options`` go to its constructor."""
    name = backend_name_from_env() if name is None else _check(name.strip().lower())
    if name == "embedded":
        from streamlab.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(**options)
    if name == "container":
        from streamlab.backends.container import EmbeddedContainerBackend

        return EmbeddedContainerBackend(**options)
    if name == "localstack":
        from streamlab.backends.localstack import LocalStackBackend

        return LocalStackBackend(**options)
    from streamlab.backends.aws import AwsBackend

    return AwsBackend(**options)


def _check(name: str) -> str:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown streamlab backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}")
    return name
