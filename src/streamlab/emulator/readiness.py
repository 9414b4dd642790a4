"""Whether the stack ``streamlab up`` was asked to deploy is there yet, for the health answer.

``docker compose up --wait`` and the pytest plugin wait for a healthy endpoint; healthy must
mean usable, so while a stack is expected but not deployed the health route answers 503 with
the stack's state (``deploying``, or ``failed`` and why).
"""

from __future__ import annotations

import threading
from typing import Any

NONE, DEPLOYING, DEPLOYED, FAILED = "none", "deploying", "deployed", "failed"


class StackReadiness:
    """The state of the one stack ``up`` deploys; no stack expected is ready."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._name: str | None = None
        self._state = NONE
        self._reason = ""

    def expect(self, name: str) -> None:
        with self._lock:
            self._name, self._state, self._reason = name, DEPLOYING, ""

    def deployed(self) -> None:
        with self._lock:
            self._state, self._reason = DEPLOYED, ""

    def failed(self, reason: str) -> None:
        with self._lock:
            self._state, self._reason = FAILED, reason[:1000]

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._state in (NONE, DEPLOYED)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            answer: dict[str, Any] = {"name": self._name, "state": self._state, "deployed": self._state == DEPLOYED}
            if self._reason:
                answer["reason"] = self._reason
            return answer
