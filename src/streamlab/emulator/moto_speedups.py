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
    _fast_backend_lookup()


def _fast_backend_lookup() -> None:
    """``backends[account_id]`` without the global lock and the registry scan once it exists.

    moto's ``BackendDict.__getitem__`` takes a process-wide lock and checks ``self not in
    BackendDict._instances`` (a list of every service's BackendDict, compared with a Python
    ``__eq__``) on *every* lookup; each request does at least one. Profiled under a steady
    write load (benchmarks/e2e.py, py-spy --gil) that was ~7% of the endpoint's CPU. Once an
    account's backend exists, creating and registering it has already happened, so the
    lookup is a plain dict read; the first lookup still goes through moto's code.
    """
    from moto.core.base_backend import BackendDict

    original = BackendDict.__getitem__

    def __getitem__(self: BackendDict, account_id: str):  # type: ignore[no-untyped-def]
        try:
            return dict.__getitem__(self, account_id)
        except KeyError:
            return original(self, account_id)

    BackendDict.__getitem__ = __getitem__  # type: ignore[method-assign]
