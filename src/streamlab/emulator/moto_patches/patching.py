"""Replacing attributes of moto's classes so that the replacement can be undone.

moto has no extension points for the behaviour streamlab corrects, so each patch replaces a
method on one of moto's public classes. :class:`Patcher` records what it replaced, in order,
so :meth:`Patcher.undo` restores moto exactly, newest first.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


class Patcher:
    """Records every attribute it sets, so the whole set can be undone."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, attribute: str, value: Any) -> None:
        """``setattr(owner, attribute, value)``, remembering what ``owner`` itself held before."""
        self._saved.append((owner, attribute, vars(owner).get(attribute, _MISSING)))
        setattr(owner, attribute, value)

    def undo(self) -> None:
        while self._saved:
            owner, attribute, previous = self._saved.pop()
            if previous is _MISSING:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, previous)

    def __len__(self) -> int:
        return len(self._saved)
