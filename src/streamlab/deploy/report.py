"""What a deploy did: one :class:`Change` per resource, and the run's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from streamlab.errors import StreamlabError

Action = Literal["created", "updated", "unchanged"]


class DeployError(StreamlabError, RuntimeError):
    """A resource could not be brought to its declared state (the message names it and why)."""


@dataclass(frozen=True)
class Change:
    """The outcome for one resource; ``details`` says what was updated (``code``, ``ttl``, ...)."""

    kind: str
    name: str
    action: Action
    details: tuple[str, ...] = ()
    physical_name: str | None = None

    def line(self) -> str:
        """``updated function audit_trail (code)``; the physical name follows in brackets when it differs."""
        text = f"{self.action} {self.kind} {self.name}"
        if self.physical_name and self.physical_name != self.name:
            text += f" [{self.physical_name}]"
        if self.details:
            text += f" ({', '.join(self.details)})"
        return text


@dataclass
class DeployResult:
    """Every resource's :class:`Change`, in the order they were applied."""

    changes: list[Change] = field(default_factory=list)
    backend: str = ""
    endpoint_url: str | None = None

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def changed(self) -> bool:
        """True when anything was created or updated."""
        return bool(self.created or self.updated)

    @property
    def summary(self) -> str:
        """``2 created, 1 updated, 5 unchanged``, or ``no changes`` when nothing was created or updated."""
        if not self.changed:
            return "no changes"
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"

    def get(self, kind: str, name: str) -> Change | None:
        """The change recorded for a resource, by kind and logical name."""
        return next((c for c in self.changes if c.kind == kind and c.name == name), None)
