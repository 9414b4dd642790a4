"""Typed reads from a parsed TOML document that collect problems instead of raising.

The stack loader wants every mistake in ``stack.toml`` reported at once, each naming the
dotted key and what was expected, before anything is deployed. :class:`Section` reads
one TOML table, records which keys it was asked for and, on :meth:`Section.finish`,
reports every key nobody asked for as unknown (with the keys that are allowed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_MISSING = object()


def key_path(parent: str, key: str | int) -> str:
    """``tables.Orders`` + ``ttl_attribute`` -> ``tables.Orders.ttl_attribute``; quotes keys TOML would."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    part = key if _BARE_KEY.match(key) else json.dumps(key)
    return f"{parent}.{part}" if parent else part


def show(value: Any) -> str:
    """A value as TOML-ish text for messages: ``"abc"``, ``true``, ``12``, ``[1, 2]``."""
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):  # pragma: no cover - tomllib only produces JSON-like values
        return repr(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Section:
    """One TOML table under ``path``; reads append problems to the shared ``problems`` list."""

    def __init__(self, data: dict[str, Any], path: str, problems: list[str]) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self._allowed: list[str] = []

    # -- plumbing -----------------------------------------------------------------------
    def key(self, key: str | int) -> str:
        return key_path(self.path, key)

    def problem(self, key: str | int | None, message: str) -> None:
        where = self.key(key) if key is not None else self.path
        self.problems.append(f"{where}: {message}" if where else message)

    def _raw(self, key: str, required: bool, expect: str) -> Any:
        if key not in self._allowed:
            self._allowed.append(key)
        if key not in self.data:
            if required:
                self.problem(key, f"required, expected {expect}")
            return _MISSING
        return self.data[key]

    def read(
        self, key: str, expect: str, check: Callable[[Any], bool], default: Any = None, required: bool = False
    ) -> Any:
        """The value of ``key`` if ``check`` accepts it; otherwise records ``expected <expect>, got <value>``."""
        value = self._raw(key, required, expect)
        if value is _MISSING:
            return default
        if not check(value):
            self.problem(key, f"expected {expect}, got {show(value)}")
            return default
        return value

    # -- typed reads --------------------------------------------------------------------
    def integer(
        self,
        key: str,
        low: int | None = None,
        high: int | None = None,
        default: int | None = None,
        required: bool = False,
        also: Sequence[int] = (),
    ) -> int | None:
        """An integer in ``low..high`` (inclusive), or one of the special values in ``also`` (e.g. -1)."""
        if low is not None and high is not None:
            expect = f"an integer {low}-{high}" if low >= 0 else f"an integer {low} to {high}"
        elif low is not None:
            expect = f"an integer >= {low}"
        else:
            expect = "an integer"
        if also:
            expect = " or ".join(str(v) for v in also) + " or " + expect

        def check(v: Any) -> bool:
            if not is_int(v):
                return False
            if v in also:
                return True
            return (low is None or v >= low) and (high is None or v <= high)

        value: int | None = self.read(key, expect, check, default, required)
        return value

    def boolean(self, key: str, default: bool | None = None, required: bool = False) -> bool | None:
        value: bool | None = self.read(key, "true or false", lambda v: isinstance(v, bool), default, required)
        return value

    def string(
        self,
        key: str,
        default: str | None = None,
        required: bool = False,
        choices: Sequence[str] = (),
        pattern: str | None = None,
        expect: str | None = None,
    ) -> str | None:
        """A string, optionally one of ``choices`` or matching ``pattern`` (described by ``expect``)."""
        if expect is None:
            expect = ("one of " + ", ".join(f'"{c}"' for c in choices)) if choices else "a string"
        regex = re.compile(pattern) if pattern else None

        def check(v: Any) -> bool:
            if not isinstance(v, str):
                return False
            if choices and v not in choices:
                return False
            return regex is None or regex.fullmatch(v) is not None

        value: str | None = self.read(key, expect, check, default, required)
        return value

    def string_list(
        self,
        key: str,
        expect: str = "a list of strings",
        item_check: Callable[[str], bool] | None = None,
        default: Sequence[str] = (),
    ) -> tuple[str, ...]:
        def check(v: Any) -> bool:
            return isinstance(v, list) and all(isinstance(i, str) and (item_check is None or item_check(i)) for i in v)

        return tuple(self.read(key, expect, check, list(default)))

    def table(self, key: str, required: bool = False, expect: str = "a table") -> Section | None:
        value = self.read(key, expect, lambda v: isinstance(v, dict), None, required)
        return None if value is None else Section(value, self.key(key), self.problems)

    def raw(self, key: str) -> Any:
        """The untyped value (or None), marking the key as allowed; the caller checks it."""
        value = self._raw(key, False, "")
        return None if value is _MISSING else value

    def finish(self) -> None:
        """Report every key that no read asked for."""
        for key in self.data:
            if key not in self._allowed:
                allowed = ", ".join(self._allowed) or "none"
                self.problems.append(f"unknown key {self.key(key)} (expected one of: {allowed})")
