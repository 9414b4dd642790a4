"""One error root: every exception class streamlab defines derives from StreamlabError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import streamlab
from streamlab.errors import StreamlabError, WaitTimeout


def streamlab_exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for module_info in pkgutil.walk_packages(streamlab.__path__, "streamlab."):
        if ".conformance.suite." in module_info.name:
            continue  # the scenarios, not the library
        if module_info.name.startswith("streamlab.measure.assets."):
            continue  # files shipped for other tools (the locustfile imports locust, which patches gevent in)
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_streamlab_exception_derives_from_the_root() -> None:
    classes = streamlab_exception_classes()
    assert len(classes) >= 15  # StackDeployError, PackagingError, ... and Lambda's error codes
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, StreamlabError)]
    assert strays == []


def test_errors_keep_the_builtin_base_callers_catch() -> None:
    from streamlab.templates.artifacts import TemplateFileError
    from streamlab.templates.stacks import StackDeployError

    assert issubclass(StackDeployError, RuntimeError)
    assert issubclass(TemplateFileError, ValueError)
    assert issubclass(WaitTimeout, TimeoutError)
