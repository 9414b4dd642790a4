"""Function zips: same content gives the same bytes, any change gives a new hash, builds are cached."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from streamlab.packaging import (
    FIXED_DATE_TIME,
    PackagingError,
    Platform,
    build_function_zip,
    install_dependencies,
    lambda_platform,
    local_platform,
    platform_for_runtime,
    runtime_description,
)

LOCAL = local_platform()


@pytest.fixture
def handlers(tmp_path: Path) -> Path:
    root = tmp_path / "handlers"
    root.mkdir()
    (root / "probe.py").write_text("def handler(event, context):\n    return {}\n")
    (root / "other.py").write_text("X = 1\n")
    package = root / "shared"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "util.py").write_text("def f():\n    return 1\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"junk")
    return root


def make_wheel(directory: Path, name: str = "tinydep", version: str = "1.0", requires: tuple[str, ...] = ()) -> Path:
    """A minimal pure-Python wheel (``requires``: its Requires-Dist lines), so installs need no network."""
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: streamlab-test\nRoot-Is-Purelib: "
        b"true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def test_same_content_gives_identical_bytes_and_hash(handlers: Path, tmp_path: Path) -> None:
    first = build_function_zip(handlers, ["probe", "shared"], [], LOCAL, tmp_path / "cache1")
    # Different file timestamps and a different cache must not change a byte.
    for path in handlers.rglob("*.py"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = build_function_zip(handlers, ["probe", "shared"], [], LOCAL, tmp_path / "cache2")
    assert not first.cached
    assert not second.cached
    assert first.read_bytes() == second.read_bytes()
    assert first.content_hash == second.content_hash
    assert first.code_sha256 == second.code_sha256
    assert first.path.name == f"{first.content_hash}.zip"
    assert first.path.parent == tmp_path / "cache1" / "build"


def test_code_sha256_is_what_lambda_reports(handlers: Path, tmp_path: Path) -> None:
    built = build_function_zip(handlers, ["probe"], [], LOCAL, tmp_path / "cache")
    expected = base64.b64encode(hashlib.sha256(built.path.read_bytes()).digest()).decode()
    assert built.code_sha256 == expected
    assert built.size == built.path.stat().st_size


def test_zip_layout_is_fixed_and_sorted(handlers: Path, tmp_path: Path) -> None:
    built = build_function_zip(handlers, ["shared", "probe"], [], LOCAL, tmp_path / "cache")
    with zipfile.ZipFile(built.path) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == ["probe.py", "shared/__init__.py", "shared/util.py"]  # sorted; no caches, no other.py
        assert {i.date_time for i in infos} == {FIXED_DATE_TIME}
        assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}
        assert archive.read("probe.py") == (handlers / "probe.py").read_bytes()


def test_changed_code_gives_a_new_hash(handlers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = build_function_zip(handlers, ["probe", "shared"], [], LOCAL, cache)
    (handlers / "shared" / "util.py").write_text("def f():\n    return 2\n")
    after = build_function_zip(handlers, ["probe", "shared"], [], LOCAL, cache)
    assert after.content_hash != before.content_hash
    assert after.code_sha256 != before.code_sha256
    assert not after.cached
    assert before.path.exists()
    assert after.path.exists()


def test_included_modules_requirements_and_platform_are_part_of_the_hash(handlers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    base = build_function_zip(handlers, ["probe"], [], LOCAL, cache).content_hash
    assert build_function_zip(handlers, ["probe", "other"], [], LOCAL, cache).content_hash != base
    wheel = make_wheel(tmp_path)
    with_requirement = build_function_zip(handlers, ["probe"], [str(wheel)], LOCAL, cache)
    assert with_requirement.content_hash != base
    assert build_function_zip(handlers, ["probe"], [], lambda_platform("3.12"), cache).content_hash != base
    assert (
        build_function_zip(handlers, ["probe"], [], lambda_platform("3.13"), cache).content_hash
        != build_function_zip(handlers, ["probe"], [], lambda_platform("3.12"), cache).content_hash
    )


def test_a_built_zip_is_reused_from_the_cache(handlers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_function_zip(handlers, ["probe"], [], LOCAL, cache)
    stamp = first.path.stat().st_mtime_ns
    second = build_function_zip(handlers, ["probe"], [], LOCAL, cache)
    assert second.cached
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == stamp
    assert len(list((cache / "build").iterdir())) == 1


def test_dependencies_are_installed_into_the_zip(handlers: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    built = build_function_zip(handlers, ["probe"], [str(wheel)], LOCAL, tmp_path / "cache")
    with zipfile.ZipFile(built.path) as archive:
        names = archive.namelist()
    assert "tinydep/__init__.py" in names
    assert "tinydep-1.0.dist-info/METADATA" in names
    assert "probe.py" in names
    assert not any(n.startswith("bin/") or n.endswith(".pyc") or ".streamlab" in n for n in names)


def test_dependency_installs_are_cached_by_requirements_and_platform(handlers: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wheel = make_wheel(tmp_path)
    first = build_function_zip(handlers, ["probe"], [str(wheel)], LOCAL, cache)
    # pip cannot run again now: the wheel is gone. A changed handler with the same
    # requirements must still build, from the cached dependency tree.
    wheel.unlink()
    (handlers / "probe.py").write_text("def handler(event, context):\n    return {'v': 2}\n")
    second = build_function_zip(handlers, ["probe"], [str(wheel)], LOCAL, cache)
    assert second.content_hash != first.content_hash
    with zipfile.ZipFile(second.path) as archive:
        assert archive.read("tinydep/__init__.py") == b"VALUE = 42\n"
    assert len(list((cache / "deps").iterdir())) == 1


def test_lambda_platform_installs_manylinux_wheels_for_the_runtime_with_uv(tmp_path: Path) -> None:
    platform = lambda_platform("3.12")
    command = platform.installer_command(tmp_path / "out")
    assert Path(command[0]).name == "uv"
    assert command[1:3] == ["pip", "install"]
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[command.index("--python-platform") + 1] == "x86_64-manylinux_2_28"
    assert command[command.index("--only-binary") + 1] == ":all:"
    assert lambda_platform("3.11").python_platform == "x86_64-manylinux_2_17"  # Amazon Linux 2
    assert LOCAL.is_local
    assert LOCAL.installer_command(tmp_path)[1:4] == ["-m", "pip", "install"]
    # A pure-Python wheel is accepted for Lambda's platform too (and needs no network here).
    tree = install_dependencies([str(make_wheel(tmp_path))], platform, tmp_path / "deps")
    assert (tree / "tinydep" / "__init__.py").is_file()


@pytest.mark.parametrize(("python", "expected"), [("3.11.2", True), ("3.11.7", False)])
def test_markers_are_evaluated_for_the_interpreter_that_runs_the_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python: str, expected: bool
) -> None:
    # As redis 8.1 needs async-timeout only below 3.11.3: pip would decide by the interpreter it runs on.
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links)
    marker = make_wheel(links, "markerdep", requires=('tinydep; python_full_version < "3.11.3"',))
    monkeypatch.setenv("UV_FIND_LINKS", str(links))
    monkeypatch.setenv("UV_NO_INDEX", "1")
    tree = install_dependencies(
        [f"markerdep @ {marker.as_uri()}"], Platform(python, "x86_64-manylinux_2_36"), tmp_path / "deps"
    )
    assert (tree / "markerdep").is_dir()
    assert (tree / "tinydep").is_dir() is expected


def test_an_endpoint_runtime_selects_the_platform() -> None:
    here = runtime_description()
    assert here["python"] == LOCAL.python_version
    assert platform_for_runtime(None) == LOCAL
    assert platform_for_runtime(here) == LOCAL  # the same interpreter: plain pip
    assert platform_for_runtime({"python": "3.11.2", "platform": "x86_64-manylinux_2_36"}) == Platform(
        "3.11.2", "x86_64-manylinux_2_36"
    )
    assert platform_for_runtime({"python": "3.13.1", "platform": None}) == LOCAL  # nothing better to target


def test_each_lambda_runtime_gets_the_platform_of_the_interpreter_it_runs_on() -> None:
    """An endpoint that runs python3.12 functions on Python 3.12.1 gets their dependencies built
    for 3.12.1; a runtime served by the endpoint's own interpreter keeps plain pip."""
    here = runtime_description()
    endpoint = {
        **here,
        "runtimes": {
            "python3.12": {"python": "3.12.1", "matches": True},
            "python3.14": {"python": here["python"], "matches": False},
        },
    }
    assert platform_for_runtime(endpoint, "python3.12") == Platform("3.12.1", here["platform"])
    assert platform_for_runtime(endpoint, "python3.14") == LOCAL
    assert platform_for_runtime(endpoint, "python3.13") == LOCAL  # not listed: the endpoint's own


def test_a_failing_pip_install_is_a_packaging_error(handlers: Path, tmp_path: Path) -> None:
    missing = tmp_path / "absent-1.0-py3-none-any.whl"
    with pytest.raises(PackagingError, match="pip could not install"):
        build_function_zip(handlers, ["probe"], [str(missing)], LOCAL, tmp_path / "cache")
    assert not (tmp_path / "cache" / "build").exists() or not any((tmp_path / "cache" / "build").iterdir())
    assert not any((tmp_path / "cache" / "deps").iterdir())


def test_a_missing_module_is_a_packaging_error(handlers: Path, tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"no module nothere\.py or package nothere/"):
        build_function_zip(handlers, ["nothere"], [], LOCAL, tmp_path / "cache")


def _layer_template(build_method: str | None) -> dict:
    layer: dict = {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layer/"}}
    if build_method:
        layer["Metadata"] = {"BuildMethod": build_method}
    return {"Resources": {"Shared": layer}}


@pytest.mark.parametrize(
    ("build_method", "names"),
    [
        # as `sam build` does: a Python BuildMethod builds under python/, with the requirements installed
        ("python3.11", {"python/requirements.txt", "python/shared.py", "python/tinydep/__init__.py"}),
        (None, {"requirements.txt", "shared.py"}),  # no BuildMethod: the directory as it is
    ],
)
def test_a_layer_is_built_as_its_build_method_says(tmp_path: Path, build_method: str | None, names: set) -> None:
    from streamlab.templates.artifacts import build_code, local_code

    layer = tmp_path / "app" / "layer"
    layer.mkdir(parents=True)
    (layer / "shared.py").write_text("X = 1\n")
    (layer / "requirements.txt").write_text(f"{make_wheel(tmp_path)}\n")
    (code,) = local_code(_layer_template(build_method), tmp_path / "app")
    built = build_code(code, LOCAL, tmp_path / "cache")
    with zipfile.ZipFile(built.path) as archive:
        found = {name for name in archive.namelist() if not name.endswith("/") and ".dist-info/" not in name}
    assert found == names


def test_a_layer_build_method_streamlab_cannot_run_is_refused_plainly(tmp_path: Path) -> None:
    from streamlab.templates.artifacts import TemplateFileError, build_code, local_code

    (tmp_path / "layer").mkdir()
    (code,) = local_code(_layer_template("makefile"), tmp_path)
    with pytest.raises(TemplateFileError, match="Shared: BuildMethod 'makefile' is not one streamlab builds"):
        build_code(code, LOCAL, tmp_path / "cache")
