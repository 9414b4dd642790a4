"""docker-compose.yml, the embedded image, the LocalStack init hook and the CI workflow.

No Docker engine is needed: the compose file is validated by a real compose implementation
(`docker-compose config` parses, interpolates and schema-checks without an engine; Debian 12
ships docker-compose 1.29, apt package `docker-compose`), and its structure is asserted on the
parsed YAML.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
HOOK = ROOT / "setup" / "localstack-init" / "ready.d" / "deploy-stack.sh"
DOCKERFILE = ROOT / "docker" / "embedded.Dockerfile"
WORKFLOW = ROOT / ".github" / "workflows" / "tests.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_binary() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _compose_config(*extra: str, env: dict[str, str] | None = None) -> dict:
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no docker-compose binary (Debian: apt-get install --no-install-recommends docker-compose)")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALSTACK_", "STREAMLAB_"))}
    environment.update(env or {})
    result = subprocess.run(
        [*binary, "-f", str(COMPOSE), *extra, "config"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"compose config failed:\n{result.stdout}\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def test_compose_config_parses_default_profile():
    config = _compose_config()
    # compose v1's `config` lists profiled services too; v2 leaves `embedded` out here.
    assert {"localstack", "redis"} <= set(config["services"])
    assert config["services"]["localstack"]["image"] == "localstack/localstack:4.14.0"


def test_compose_config_parses_embedded_profile():
    config = _compose_config("--profile", "embedded")
    assert {"localstack", "redis", "embedded"} <= set(config["services"])
    assert config["services"]["embedded"]["build"]["args"]["BASE_IMAGE"] == "python:3.11-slim"


def test_compose_config_interpolates_overrides():
    config = _compose_config(
        env={
            "LOCALSTACK_IMAGE": "localstack/localstack:2026.03",
            "LOCALSTACK_AUTH_TOKEN": "tok-123",
        }
    )
    localstack = config["services"]["localstack"]
    assert localstack["image"] == "localstack/localstack:2026.03"
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "tok-123"


def test_every_host_port_is_bound_to_loopback(compose):
    published = [(name, port) for name, service in compose["services"].items() for port in service.get("ports", [])]
    assert published, "expected published ports"
    for name, port in published:
        assert isinstance(port, str), f"{name}: {port!r}"
        assert port.startswith("127.0.0.1:"), f"{name}: {port!r} is not bound to 127.0.0.1"


def test_localstack_image_pinned_and_overridable(compose):
    assert compose["services"]["localstack"]["image"] == "${LOCALSTACK_IMAGE:-localstack/localstack:4.14.0}"


def test_localstack_token_passed_through(compose):
    environment = compose["services"]["localstack"]["environment"]
    assert environment["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_localstack_has_docker_socket_and_init_hook(compose):
    volumes = compose["services"]["localstack"]["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in volumes
    assert "./setup/localstack-init/ready.d:/etc/localstack/init/ready.d:ro" in volumes
    assert ".:/opt/streamlab:ro" in volumes  # what the hook installs and deploys
    assert (
        compose["services"]["localstack"]["environment"]["LAMBDA_DOCKER_NETWORK"]
        == compose["networks"]["streamlab"]["name"]
    )


def test_init_hook_is_an_executable_script_that_deploys():
    mode = HOOK.stat().st_mode
    assert mode & stat.S_IXUSR, "LocalStack runs only executable init scripts"
    text = HOOK.read_text()
    assert text.startswith("#!")
    assert 'streamlab" deploy --endpoint-url' in text or "streamlab deploy --endpoint-url" in text
    bash = shutil.which("bash") or "/bin/bash"
    assert subprocess.run([bash, "-n", str(HOOK)]).returncode == 0


def test_every_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("test"), f"{name}'s healthcheck has no test"


def test_services_wait_for_redis_health(compose):
    for name in ("localstack", "embedded"):
        assert compose["services"][name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_embedded_profile_runs_the_embedded_endpoint(compose):
    embedded = compose["services"]["embedded"]
    assert embedded["profiles"] == ["embedded"]
    assert embedded["build"]["dockerfile"] == "docker/embedded.Dockerfile"
    assert "/_streamlab/health" in " ".join(embedded["healthcheck"]["test"])
    assert "profiles" not in compose["services"]["localstack"]
    dockerfile = DOCKERFILE.read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile
    assert "EXPOSE 4566" in dockerfile
    assert '"--host", "0.0.0.0", "--port", "4566"' in dockerfile
    assert "/_streamlab/health" in dockerfile
    assert (ROOT / ".dockerignore").is_file()
    entrypoint = (ROOT / "docker" / "embedded-entrypoint.sh").read_text()
    assert "exec streamlab up" in entrypoint


def test_workflow_has_embedded_container_and_localstack_jobs():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    assert set(jobs) >= {"embedded", "container", "localstack"}

    container = jobs["container"]
    assert container["env"] == {"STREAMLAB_BACKEND": "container", "STREAMLAB_CONTAINER_NETWORK": "host"}
    runs = "\n".join(step.get("run", "") for step in container["steps"])
    assert "docker build -f docker/embedded.Dockerfile -t streamlab-embedded:local ." in runs
    assert "pytest -q -rs tests/integration src/streamlab/conformance/suite" in runs
    assert "redis-server" in runs

    embedded = jobs["embedded"]
    assert embedded["runs-on"] == "ubuntu-latest"
    runs = "\n".join(step.get("run", "") for step in embedded["steps"])
    uses = [step.get("uses", "") for step in embedded["steps"]]
    assert any(u.startswith("actions/setup-python") for u in uses)
    # setup-python's last version is the default one (the others only add interpreters to PATH).
    versions = [str(s.get("with", {}).get("python-version", "")).split() for s in embedded["steps"]]
    assert any(listed and listed[-1] == "3.11" for listed in versions)
    assert "redis-server" in runs
    assert "chromium" in runs
    assert "make test" in runs

    localstack = jobs["localstack"]
    runs = "\n".join(step.get("run", "") for step in localstack["steps"])
    assert "docker compose up -d --wait" in runs
    assert "localstack redis" in runs
    assert "streamlab conformance --backend localstack" in runs
    assert "--json conformance-localstack.json" in runs
    assert any(
        step.get("uses", "").startswith("actions/upload-artifact")
        and step["with"]["path"] == "conformance-localstack.json"
        for step in localstack["steps"]
    )


def test_the_local_base_script_is_valid_shell_and_says_how_to_use_it():
    script = ROOT / "docker" / "build-local-base.sh"
    assert os.access(script, os.X_OK)
    checked = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = script.read_text()
    assert "debootstrap" in text
    assert "docker import" in text
    assert "--build-arg BASE_IMAGE=streamlab-base:bookworm" in text
