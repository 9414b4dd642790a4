"""What the two container backends share: needing an engine, waiting on HTTP, showing logs."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, TextIO

from streamlab.backends.base import BackendUnavailable, docker_available, short_error
from streamlab.errors import WaitTimeout

LOG = logging.getLogger(__name__)


def require_docker(what: str) -> None:
    """Raise :class:`BackendUnavailable` naming ``what`` when no Docker engine answers."""
    ok, reason = docker_available()
    if not ok:
        raise BackendUnavailable(f"{what} needs Docker: {reason}")


def start_container(container: Any, title: str, **start_options: Any) -> None:
    """``container.start()``; a reaper that cannot start becomes :class:`BackendUnavailable` saying what to do.

    Testcontainers first starts Ryuk, its reaper, from an image on Docker Hub; on an engine with
    no registry that fails with a pull error that names neither Ryuk nor the way out.
    """
    from testcontainers.core.config import testcontainers_config as config

    try:
        container.start(**start_options)
    except Exception as exc:
        reaper = config.ryuk_image
        name = reaper.split(":", 1)[0]
        if not config.ryuk_disabled and (name in str(exc) or urllib.parse.quote(name, safe="") in str(exc)):
            raise BackendUnavailable(
                f"{title}: Testcontainers' reaper {reaper} could not start ({short_error(exc)}); "
                "make the image available to the engine, or set TESTCONTAINERS_RYUK_DISABLED=true"
            ) from exc
        raise


def wait_http(url: str, ready: Callable[[bytes], bool], timeout: float, what: str) -> None:
    """GET ``url`` until ``ready(body)`` is true for a 200 answer; TimeoutError with the last outcome."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                body = response.read()
            if ready(body):
                return
            last = body[:500].decode(errors="replace")
        except (OSError, ValueError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(0.25)
    raise WaitTimeout(f"{what} at {url} not ready within {timeout:.0f} s (last: {last})")


def dump_container_logs(container: Any, title: str, stream: TextIO, tail: int = 500) -> None:
    """Write the last ``tail`` lines of a Testcontainers container's logs to ``stream``."""
    try:
        wrapped = container.get_wrapped_container() if container is not None else None
        if wrapped is None:
            return
        logs = wrapped.logs(tail=tail).decode(errors="replace")
    except Exception as exc:  # the container may never have been created
        LOG.debug("no logs for %s: %s", title, exc)
        return
    print(f"----- {title} container logs -----\n{logs}\n-----", file=stream)


def stop_container(container: Any, title: str) -> None:
    """Remove a Testcontainers container, logging (not raising) what goes wrong."""
    if container is None:
        return
    try:
        container.stop()
    except Exception as exc:
        LOG.warning("stopping %s: %s", title, exc)
