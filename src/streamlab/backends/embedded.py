"""The embedded endpoint, in this process: no Docker, no account, starts in about a second."""

from __future__ import annotations

from typing import Any

from streamlab.backends.base import Backend


class EmbeddedBackend(Backend):
    """Starts :class:`~streamlab.emulator.endpoint.EmbeddedEndpoint` on ``host``:``port`` (0 = a free port)."""

    name = "embedded"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.endpoint: Any = None

    def start(self) -> str:
        if self.endpoint is None:
            from streamlab.emulator.endpoint import EmbeddedEndpoint

            self.endpoint = EmbeddedEndpoint(host=self.host, port=self.port).start()
        self.url = str(self.endpoint.url)
        return self.url

    def stop(self) -> None:
        endpoint, self.endpoint = self.endpoint, None
        self.url = None
        if endpoint is not None:
            endpoint.stop()
