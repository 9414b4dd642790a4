"""The root of every error streamlab raises on purpose.

``except StreamlabError`` catches them all; each keeps the built-in base its callers rely on
(``DeployError`` is still a ``RuntimeError``, ``StackError`` a ``ValueError``). Errors a
service answers to a client (Lambda's, DynamoDB Streams') derive from it too, so a caller of
the emulator in-process can tell them from a defect.
"""

from __future__ import annotations

__all__ = ["StreamlabError", "WaitTimeout"]


class StreamlabError(Exception):
    """Base of every error streamlab raises on purpose."""


class WaitTimeout(StreamlabError, TimeoutError):
    """Something streamlab waits for (an endpoint, a mapping, a record) did not happen in time."""
