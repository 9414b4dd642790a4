"""Layers through boto3: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
ListLayerVersions, DeleteLayerVersion, and a function importing from its layers the way
Lambda mounts them (``python/`` and ``python/lib/pythonX.Y/site-packages`` on the path, later
layers over earlier ones, ``bin/`` on PATH).

Shapes and messages follow LocalStack's AWS-validated snapshots of test_lambda_api.py
(TestLambdaLayer; validated 2025-11-25 and 2026-01-12) and packaging-layers.html.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.lambda_support import ACCOUNT, error_of, zip_source

USES_LAYERS = """
import os, shutil, sys
import from_python_dir, from_site_packages
def handler(event, context):
    return {
        "python_dir": from_python_dir.VALUE,
        "site_packages": from_site_packages.VALUE,
        "tool_on_path": shutil.which("layer-tool") is not None,
        "python": "%d.%d" % sys.version_info[:2],
    }
"""


@pytest.fixture
def make_layer(
    lambda_client: Any, streamlab_unique_name: Callable[[str], str]
) -> Iterator[Callable[..., dict[str, Any]]]:
    published: list[tuple[str, int]] = []

    def make(files: dict[str, str], name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        layer_name = name or streamlab_unique_name("layer")
        executable = tuple(path for path in files if path.startswith("bin/"))
        layer = lambda_client.publish_layer_version(
            LayerName=layer_name, Content={"ZipFile": zip_source(files, executable=executable)}, **kwargs
        )
        published.append((layer_name, layer["Version"]))
        return dict(layer)

    yield make
    for layer_name, version in published:
        lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=version)


def site_packages(python_minor: str, module: str) -> str:
    return f"python/lib/python{python_minor}/site-packages/{module}.py"


def test_layer_version_lifecycle(
    lambda_client: Any, make_layer: Callable[..., dict[str, Any]], streamlab_region: str
) -> None:
    first = make_layer(
        {"python/x.py": "VALUE = 1\n"},
        Description="first",
        LicenseInfo="MIT",
        CompatibleRuntimes=["python3.12", "python3.13"],
        CompatibleArchitectures=["x86_64"],
    )
    name = first["LayerArn"].rsplit(":", 1)[1]
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["LayerArn"] == f"arn:aws:lambda:{streamlab_region}:{ACCOUNT}:layer:{name}"
    assert (first["LayerVersionArn"], first["Version"]) == (f"{first['LayerArn']}:1", 1)
    assert (first["Description"], first["LicenseInfo"]) == ("first", "MIT")
    assert first["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert first["Content"]["CodeSize"] > 0
    assert first["Content"]["CodeSha256"]
    with urllib.request.urlopen(first["Content"]["Location"], timeout=5) as download:
        assert download.read()[:2] == b"PK"

    second = make_layer({"python/x.py": "VALUE = 2\n"}, name=name, CompatibleRuntimes=["python3.11"])
    assert second["Version"] == 2
    got = lambda_client.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["LayerVersionArn"] == first["LayerVersionArn"]
    by_arn = lambda_client.get_layer_version_by_arn(Arn=second["LayerVersionArn"])
    assert by_arn["Version"] == 2

    versions = lambda_client.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert "Content" not in versions[0]
    matching = lambda_client.list_layer_versions(LayerName=name, CompatibleRuntime="python3.13")["LayerVersions"]
    assert [v["Version"] for v in matching] == [1]
    layers = {layer["LayerName"]: layer for layer in lambda_client.list_layers()["Layers"]}
    assert layers[name]["LatestMatchingVersion"]["Version"] == 2
    assert layers[name]["LayerArn"] == first["LayerArn"]
    by_runtime = {
        layer["LayerName"]: layer for layer in lambda_client.list_layers(CompatibleRuntime="python3.12")["Layers"]
    }
    assert by_runtime[name]["LatestMatchingVersion"]["Version"] == 1

    lambda_client.delete_layer_version(LayerName=name, VersionNumber=2)
    lambda_client.delete_layer_version(LayerName=name, VersionNumber=2)  # idempotent, as on AWS
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as excinfo:
        lambda_client.get_layer_version(LayerName=name, VersionNumber=2)
    assert error_of(excinfo)[2] == "The resource you requested does not exist."
    assert [v["Version"] for v in lambda_client.list_layer_versions(LayerName=name)["LayerVersions"]] == [1]

    # LayerName may also be the layer's ARN (the API model's pattern allows both), as CloudFormation sends it.
    arn = first["LayerArn"]
    assert lambda_client.get_layer_version(LayerName=arn, VersionNumber=1)["Version"] == 1
    assert [v["Version"] for v in lambda_client.list_layer_versions(LayerName=arn)["LayerVersions"]] == [1]
    lambda_client.delete_layer_version(LayerName=arn, VersionNumber=1)
    assert lambda_client.list_layer_versions(LayerName=name)["LayerVersions"] == []


def test_a_function_imports_from_its_layers_in_order(
    lambda_client: Any, make_function: Callable[..., str], make_layer: Callable[..., dict[str, Any]]
) -> None:
    minor = "3.12"
    base = make_layer(
        {
            "python/from_python_dir.py": "VALUE = 'base'\n",
            site_packages(minor, "from_site_packages"): "VALUE = 'site-packages'\n",
            "bin/layer-tool": "#!/bin/sh\necho tool\n",
        }
    )
    override = make_layer({"python/from_python_dir.py": "VALUE = 'override'\n"})
    name = make_function(
        USES_LAYERS, runtime=f"python{minor}", Layers=[base["LayerVersionArn"], override["LayerVersionArn"]]
    )
    config = lambda_client.get_function_configuration(FunctionName=name)
    assert [layer["Arn"] for layer in config["Layers"]] == [base["LayerVersionArn"], override["LayerVersionArn"]]
    assert config["Layers"][0]["CodeSize"] == base["Content"]["CodeSize"]
    answer = json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())
    assert answer["python_dir"] == "override"  # the later layer's file wins, as in /opt
    assert answer["site_packages"] == "site-packages"
    assert answer["tool_on_path"] is True

    # Reordered, the base layer's copy wins; the change retires the old environments.
    lambda_client.update_function_configuration(
        FunctionName=name, Layers=[override["LayerVersionArn"], base["LayerVersionArn"]]
    )
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())["python_dir"] == "base"


def test_a_deleted_layer_version_still_serves_the_functions_that_use_it(
    lambda_client: Any, make_function: Callable[..., str], streamlab_unique_name: Callable[[str], str]
) -> None:
    layer_name = streamlab_unique_name("gone")
    layer = lambda_client.publish_layer_version(
        LayerName=layer_name,
        Content={
            "ZipFile": zip_source(
                {"python/from_python_dir.py": "VALUE = 'kept'\n", "python/from_site_packages.py": "VALUE = 1\n"}
            )
        },
    )
    name = make_function(USES_LAYERS, Layers=[layer["LayerVersionArn"]])
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())["python_dir"] == "kept"
    # Version numbers go on counting after a deletion (snapshot test_layer_lifecycle).
    again = lambda_client.publish_layer_version(LayerName=layer_name, Content={"ZipFile": zip_source({"x.txt": "x"})})
    assert again["Version"] == 2
    lambda_client.delete_layer_version(LayerName=layer_name, VersionNumber=2)


def test_function_layer_errors(
    lambda_client: Any,
    make_function: Callable[..., str],
    make_layer: Callable[..., dict[str, Any]],
    streamlab_region: str,
) -> None:
    one = make_layer({"a.txt": "1"})
    name = one["LayerArn"].rsplit(":", 1)[1]
    two = make_layer({"a.txt": "2"}, name=name)
    function = make_function()
    cases = [
        (
            [one["LayerVersionArn"], two["LayerVersionArn"]],
            "InvalidParameterValueException",
            "Two different versions of the same layer are not allowed to be referenced in the same function. "
            f"{one['LayerVersionArn']} and {two['LayerVersionArn']} are versions of the same layer.",
        ),
        (
            [f"{one['LayerArn']}:9"],
            "InvalidParameterValueException",
            f"Layer version {one['LayerArn']}:9 does not exist.",
        ),
        ([one["LayerVersionArn"]] * 6, "InvalidParameterValueException", "Cannot reference more than 5 layers."),
        (
            [
                one["LayerVersionArn"].replace(
                    streamlab_region, "eu-west-3" if streamlab_region != "eu-west-3" else "us-west-2"
                )
            ],
            "InvalidParameterValueException",
            "Layers are not in the same region as the function. "
            f"Layers are expected to be in region {streamlab_region}.",
        ),
    ]
    for layers, code, message in cases:
        with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
            lambda_client.update_function_configuration(FunctionName=function, Layers=layers)
        assert error_of(excinfo)[0::2] == (code, message)
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.update_function_configuration(FunctionName=function, Layers=[one["LayerArn"]])
    assert error_of(excinfo)[0] == "ValidationException"
    assert "Layers" not in lambda_client.get_function_configuration(FunctionName=function)


def test_layer_request_errors(lambda_client: Any, streamlab_unique_name: Callable[[str], str]) -> None:
    name = streamlab_unique_name("bad-layer")
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.publish_layer_version(
            LayerName=name, Content={"ZipFile": zip_source({"a": "b"})}, CompatibleRuntimes=["invalidruntime"]
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value '[invalidruntime]' at 'compatibleRuntimes'")
    with pytest.raises(lambda_client.exceptions.ClientError) as excinfo:
        lambda_client.list_layers(CompatibleArchitecture="archdoesnotexist")
    assert error_of(excinfo)[2] == (
        "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy "
        "constraint: Member must satisfy enum value set: [x86_64, arm64]"
    )
    for version in (0, -1):
        with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
            lambda_client.get_layer_version(LayerName=name, VersionNumber=version)
        assert error_of(excinfo)[2] == "Layer Version Cannot be less than 1"
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as excinfo:
        lambda_client.publish_layer_version(LayerName=name, Content={"ZipFile": b"not a zip"})
    assert "Could not unzip uploaded file" in error_of(excinfo)[2]
    assert lambda_client.list_layer_versions(LayerName=name)["LayerVersions"] == []
