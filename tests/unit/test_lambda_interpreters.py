"""Which interpreter a runtime's functions run on: the search order, what is refused and why.

The PATH, pyenv and uv cases run real interpreters (this one, reached through the layout each
tool uses); the order and refusal cases use a probe that answers from a table.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlab.emulator.awslambda.interpreters import (
    Interpreter,
    InterpreterConfigError,
    InterpreterDirectory,
    InterpreterSearch,
    installed_uv,
    parse_named_interpreters,
)
from streamlab.emulator.awslambda.runtime_packages import (
    EXTRA_RUNTIME_PACKAGES,
    RUNTIME_PACKAGES,
    RuntimeRequirements,
    compiled_distributions,
)

HERE = Interpreter(path=sys.executable, version=".".join(str(part) for part in sys.version_info[:3]))
HERE_RUNTIME = f"python{HERE.minor}"
REAL_PYTHON = os.path.realpath(sys.executable)


def test_parse_named_interpreters() -> None:
    assert parse_named_interpreters("python3.12=/a/python3.12, python3.13=/b") == {
        "python3.12": "/a/python3.12",
        "python3.13": "/b",
    }
    assert parse_named_interpreters(["python3.12=/a"]) == {"python3.12": "/a"}
    assert parse_named_interpreters(None) == {}
    with pytest.raises(InterpreterConfigError, match="expected RUNTIME=PATH"):
        parse_named_interpreters("python3.12")
    with pytest.raises(InterpreterConfigError, match=r"unknown runtime 'nodejs20\.x'"):
        parse_named_interpreters("nodejs20.x=/usr/bin/node")


def table_probe(answers: dict[str, str]) -> Callable[[str], Interpreter | None]:
    def probe(path: str) -> Interpreter | None:
        version = answers.get(path)
        return None if version is None else Interpreter(path=path, version=version)

    return probe


def test_a_named_interpreter_comes_first_and_a_wrong_one_is_refused_plainly(tmp_path: Path) -> None:
    probe = table_probe({"/named/py": "3.12.4", "/wrong/py": "3.13.1"})
    found = InterpreterDirectory(
        InterpreterSearch(named={"python3.12": "/named/py"}, sources=()), endpoint=HERE, probe=probe
    ).for_runtime("python3.12")
    assert (found.interpreter.path, found.interpreter.source, found.problem) == ("/named/py", "named", None)

    refused = InterpreterDirectory(
        InterpreterSearch(named={"python3.12": "/wrong/py"}, sources=()), endpoint=HERE, probe=probe
    ).for_runtime("python3.12")
    assert refused.interpreter == HERE
    assert refused.problem is not None
    assert "the interpreter named for python3.12 (/wrong/py): is Python 3.13.1, not 3.12" in refused.problem
    assert f"run on Python {HERE.version} ({HERE.path}) instead" in refused.problem
    assert "STREAMLAB_LAMBDA_PYTHONS=python3.12=/path/to/python3.12" in refused.problem


def test_the_endpoints_interpreter_serves_its_own_runtime() -> None:
    found = InterpreterDirectory(InterpreterSearch(sources=("endpoint",)), endpoint=HERE).for_runtime(HERE_RUNTIME)
    assert found.interpreter.path == HERE.path
    assert found.problem is None


def test_path_search_runs_the_candidate_and_skips_one_that_does_not_run(tmp_path: Path) -> None:
    good, broken = tmp_path / "good", tmp_path / "broken"
    good.mkdir()
    broken.mkdir()
    (good / f"python{HERE.minor}").symlink_to(REAL_PYTHON)
    fake = broken / f"python{HERE.minor}"
    fake.write_text("#!/bin/sh\necho 'pyenv: not active' >&2\nexit 127\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)

    skipped = InterpreterDirectory(InterpreterSearch(sources=("PATH",), path=str(broken)), endpoint=HERE)
    answer = skipped.for_runtime(HERE_RUNTIME)
    assert answer.problem is not None
    assert f"{fake}: does not run" in answer.problem

    search = InterpreterSearch(sources=("PATH",), path=os.pathsep.join([str(broken), str(good)]))
    found = InterpreterDirectory(search, endpoint=HERE).for_runtime(HERE_RUNTIME)
    assert found.problem is None
    assert (found.interpreter.source, found.interpreter.version) == ("PATH", HERE.version)


def test_pyenv_versions_are_searched_newest_patch_first(tmp_path: Path) -> None:
    for release in (f"{HERE.minor}.0", f"{HERE.minor}.99"):
        binary = tmp_path / "versions" / release / "bin" / f"python{HERE.minor}"
        binary.parent.mkdir(parents=True)
        binary.symlink_to(REAL_PYTHON)
    (tmp_path / "versions" / "3.99.1" / "bin").mkdir(parents=True)  # another minor: never a candidate
    found = InterpreterDirectory(InterpreterSearch(sources=("pyenv",), pyenv_root=tmp_path), endpoint=HERE).for_runtime(
        HERE_RUNTIME
    )
    assert found.problem is None
    assert found.interpreter.source == "pyenv"
    assert found.interpreter.path == str(tmp_path / "versions" / f"{HERE.minor}.99" / "bin" / f"python{HERE.minor}")


def test_uv_managed_pythons_are_found_without_downloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uv = installed_uv()
    if uv is None:
        pytest.skip("uv is not installed")
    # uv recognises a managed installation by its directory name under UV_PYTHON_INSTALL_DIR.
    managed = tmp_path / f"cpython-{HERE.version}-linux-x86_64-gnu" / "bin"
    managed.mkdir(parents=True)
    (managed / f"python{HERE.minor}").symlink_to(REAL_PYTHON)
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path))
    found = InterpreterDirectory(InterpreterSearch(sources=("uv",), uv_binary=uv), endpoint=HERE).for_runtime(
        HERE_RUNTIME
    )
    assert found.problem is None
    assert found.interpreter.source == "uv"
    assert found.interpreter.path.startswith(str(tmp_path))

    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "empty"))
    missing = InterpreterDirectory(InterpreterSearch(sources=("uv",), uv_binary=uv), endpoint=HERE).for_runtime(
        "python3.14"
    )
    assert missing.problem is not None
    assert "no Python 3.14 interpreter found for python3.14 (searched uv)" in missing.problem


def test_later_sources_are_not_asked_once_an_interpreter_is_found(tmp_path: Path) -> None:
    # The search runs on every endpoint's start: a uv subprocess per runtime it already has is waste.
    asked = tmp_path / "uv-was-asked"
    uv = tmp_path / "uv"
    uv.write_text(f"#!/bin/sh\ntouch {asked}\nexit 1\n")
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    directory = InterpreterDirectory(InterpreterSearch(sources=("endpoint", "uv"), uv_binary=str(uv)), endpoint=HERE)
    assert directory.describe([HERE_RUNTIME])[HERE_RUNTIME]["source"] == "endpoint"
    assert not asked.exists()
    assert directory.describe(["python3.99"])["python3.99"]["matches"] is False
    assert asked.exists()  # with nothing found before it, uv is asked


def test_an_interpreter_too_old_for_the_runtime_packages_is_refused() -> None:
    requirements = RuntimeRequirements(RUNTIME_PACKAGES + EXTRA_RUNTIME_PACKAGES)
    assert requirements.problem(HERE.version) is None
    problem = requirements.problem("3.9.18")
    assert problem is not None
    assert "boto3 needs Python >=3.10" in problem

    probe = table_probe({"/old/python3.9": "3.9.18"})
    directory = InterpreterDirectory(
        InterpreterSearch(named={"python3.10": "/old/python3.9"}, sources=()),
        endpoint=HERE,
        requires_python=requirements.problem,
        probe=probe,
    )
    assert "is Python 3.9.18, not 3.10" in str(directory.for_runtime("python3.10").problem)


def test_the_compiled_runtime_distributions_are_the_ones_with_extension_modules() -> None:
    compiled = compiled_distributions(RUNTIME_PACKAGES + EXTRA_RUNTIME_PACKAGES)
    names = [requirement.split("==")[0] for requirement in compiled]
    assert "awslambdaric" in names  # runtime_client: awslambdaric cannot poll /next without it
    assert "boto3" not in names


def test_preparing_an_interpreter_that_fails_moves_on_and_says_why() -> None:
    probe = table_probe({"/a/python3.12": "3.12.1", "/b/python3.12": "3.12.2"})

    def prepare(interpreter: Interpreter) -> Path | None:
        if interpreter.path == "/a/python3.12":
            raise RuntimeError("uv could not install awslambdaric==4.2.2 for it (no network)")
        return Path("/overlay")

    search = InterpreterSearch(named={"python3.12": "/a/python3.12"}, sources=())
    failed = InterpreterDirectory(search, endpoint=HERE, prepare=prepare, probe=probe).for_runtime("python3.12")
    assert "uv could not install awslambdaric==4.2.2 for it (no network)" in str(failed.problem)
    # The health answer previews without installing anything.
    preview = InterpreterDirectory(search, endpoint=HERE, prepare=prepare, probe=probe).describe(["python3.12"])
    assert preview["python3.12"]["python"] == "3.12.1"
