"""Which endpoint a command talks to: the local one unless real AWS is asked for by name.

A user with AWS credentials in their environment must not change an account by forgetting a flag,
so ``streamlab deploy``, ``redrive`` and ``logs`` resolve their target the way ``samlocal`` and
``awslocal`` do: ``--endpoint-url``, else ``AWS_ENDPOINT_URL``, else the local endpoint
(``http://127.0.0.1:4566``); AWS itself only with ``--aws``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from streamlab.errors import StreamlabError

#: Where ``streamlab up`` listens by default (LocalStack's edge port).
LOCAL_ENDPOINT = "http://127.0.0.1:4566"


class EndpointError(StreamlabError, ValueError):
    """An endpoint URL that cannot be used, or contradictory target options."""


def checked_endpoint_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; otherwise a clear :class:`EndpointError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = f" (did you mean http://{url}?)" if "://" not in url else ""
        raise EndpointError(f"endpoint URL {url!r} is not an http:// or https:// URL with a host{hint}")
    try:
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise EndpointError(f"endpoint URL {url!r} has an invalid port") from None
    return url.rstrip("/")


def target_endpoint(explicit: str | None, use_aws: bool, environ: Mapping[str, str] | None = None) -> str | None:
    """The endpoint URL a command sends to; ``None`` means AWS's own endpoints (only with ``use_aws``)."""
    environ = os.environ if environ is None else environ
    if use_aws:
        if explicit:
            raise EndpointError("--aws sends to AWS's own endpoints; drop --endpoint-url, or --aws")
        return None
    return checked_endpoint_url(explicit or environ.get("AWS_ENDPOINT_URL") or LOCAL_ENDPOINT)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """``--endpoint-url URL | --aws``, with help texts that say what the default is."""
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--endpoint-url", help=f"endpoint to use (default: AWS_ENDPOINT_URL, else the local {LOCAL_ENDPOINT})"
    )
    target.add_argument(
        "--aws", action="store_true", help="use real AWS (the default credential chain); never the default"
    )
