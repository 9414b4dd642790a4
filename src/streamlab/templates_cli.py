"""The template side of ``streamlab up`` and ``streamlab deploy`` (kept apart from cli.py).

``up --template PATH [--parameter-overrides K=V ...] [--stack-name NAME] [--watch]`` deploys the
template into the endpoint it starts, through the endpoint's CloudFormation API, and reports
the stack's state in the health answer; ``deploy --template PATH`` does the same against any
endpoint, or AWS with ``--aws``.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlab.emulator.endpoint import EmbeddedEndpoint
    from streamlab.templates.deployment import Deployment

DEFAULT_TEMPLATE = Path("setup/template.yaml")


def add_template_arguments(parser: argparse.ArgumentParser, default: Path | None) -> None:
    parser.add_argument(
        "--template",
        type=Path,
        default=default,
        help="SAM / CloudFormation template to deploy" + (" (default %(default)s)" if default else ""),
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=None,
        metavar="KEY=VALUE",
        help="template parameters, as sam deploy takes them",
    )
    parser.add_argument(
        "--stack-name", default=None, help="stack name (default: samconfig.toml's, else the template's directory)"
    )
    parser.add_argument("--s3-bucket", default=None, help="bucket for the code zips (default: created per account)")


def add_watch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        action="store_true",
        help="hot reload: swap a function's code when a file under its CodeUri changes",
    )


def deploy(args: argparse.Namespace, endpoint_url: str | None, region: str) -> Deployment:
    """Deploy ``args.template``; TemplateFileError / StackDeployError / ValueError carry the reason."""
    from streamlab.templates.deployment import deploy_template
    from streamlab.templates.stacks import parse_overrides

    return deploy_template(
        args.template,
        stack_name=args.stack_name,
        parameters=parse_overrides(args.parameter_overrides),
        endpoint_url=endpoint_url,
        region=region,
        log=lambda line: print(line, flush=True),
        bucket=args.s3_bucket,
    )


def deploy_into(endpoint: EmbeddedEndpoint, args: argparse.Namespace, region: str) -> Deployment:
    """``up``'s deploy: the endpoint's health says ``deploying`` until the stack is there."""
    from streamlab.templates.deployment import check_stack_name, default_stack_name

    endpoint.stack.expect(check_stack_name(args.stack_name or default_stack_name(args.template.resolve())))
    try:
        deployment = deploy(args, endpoint.url, region)
    except Exception as error:
        endpoint.stack.failed(f"{type(error).__name__}: {error}")
        raise
    endpoint.stack.deployed()
    return deployment


def start_watch(
    deployment: Deployment, endpoint_url: str, region: str, stop: threading.Event
) -> Callable[[], None] | None:
    """Start the hot-reload watcher in a thread; returns a function that joins it."""
    from streamlab.templates.deployment import clients
    from streamlab.templates.hot_reload import HotReloader

    reloader = HotReloader.for_deployment(
        deployment, clients(endpoint_url, region)("lambda"), log=lambda line: print(line, flush=True)
    )
    if not reloader.watched:
        print("--watch: no function of the stack has local code to watch", file=sys.stderr)
        return None
    print(f"watching {', '.join(str(p) for p in reloader.watched)} for changes", flush=True)
    thread = threading.Thread(target=reloader.run, args=(stop,), name="streamlab-hot-reload", daemon=True)
    thread.start()
    return lambda: thread.join(timeout=2)


def cmd_deploy_template(args: argparse.Namespace, endpoint_url: str | None, region: str) -> int:
    from streamlab.templates.artifacts import TemplateFileError
    from streamlab.templates.stacks import StackDeployError

    try:
        deployment = deploy(args, endpoint_url, region)
    except (TemplateFileError, ValueError) as error:
        print(f"streamlab deploy: {error}", file=sys.stderr)
        return 2
    except StackDeployError as error:
        print(f"streamlab deploy: {error}", file=sys.stderr)
        return 1
    stack = deployment.stack
    print(f"stack {stack.name}: {stack.status}" + ("" if stack.changed else " (no changes)"), flush=True)
    for key, value in sorted(stack.outputs.items()):
        print(f"  {key} = {value}")
    return 0
