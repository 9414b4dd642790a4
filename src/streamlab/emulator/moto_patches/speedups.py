"""Per-request costs of moto's server mode that the gateway does not need to pay.

Profiled with ``benchmarks/gateway.py`` and, under a steady write load, ``benchmarks/e2e.py`` with
``py-spy --gil``. Behaviour is unchanged: each patch remembers an answer that cannot change.
"""

from __future__ import annotations

import functools
from typing import Any

import moto.core.responses as moto_responses
from moto.core.base_backend import BackendDict

from streamlab.emulator.moto_patches.patching import Patcher


def cache_response_method_names(patcher: Patcher) -> None:
    """moto lists the public functions of a response class with ``inspect.getmembers`` on every
    request (~0.6 ms); the answer depends only on the class, so it is remembered."""
    cached = functools.cache(getattr(moto_responses, "method_names_from_class"))  # noqa: B009  # not exported by moto
    patcher.replace(moto_responses, "method_names_from_class", cached)


def look_up_existing_backends_without_the_lock(patcher: Patcher) -> None:
    """``backends[account_id]`` without the global lock and the registry scan once it exists.

    moto's ``BackendDict.__getitem__`` takes a process-wide lock and checks ``self not in
    BackendDict._instances`` (a list of every service's BackendDict, compared with a Python
    ``__eq__``) on *every* lookup; each request does at least one: ~7% of the endpoint's CPU under
    a steady write load. Once an account's backend exists, creating and registering it has already
    happened, so the lookup is a plain dict read; the first lookup still goes through moto's code.
    """
    original = BackendDict.__getitem__

    def __getitem__(self: BackendDict[Any], account_id: str) -> Any:
        try:
            return dict.__getitem__(self, account_id)
        except KeyError:
            return original(self, account_id)

    patcher.replace(BackendDict, "__getitem__", __getitem__)
