"""Per-request costs of moto's server mode that the gateway does not need to pay.

Profiled with ``benchmarks/gateway.py``: moto answers each request by listing the public
functions of the response class with ``inspect.getmembers`` (~0.6 ms per request). The
answer depends only on the class, so it is remembered. Behaviour is unchanged.
"""

from __future__ import annotations

import functools

import moto.core.responses as moto_responses

_applied = False


def apply() -> None:
    """Install the speed-ups once per process."""
    global _applied
    if _applied:
        return
    _applied = True
    moto_responses.method_names_from_class = functools.lru_cache(maxsize=None)(  # type: ignore[assignment]
        moto_responses.method_names_from_class
    )
