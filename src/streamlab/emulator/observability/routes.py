"""streamlab's observability paths on the endpoint (the gateway hands ``/_streamlab/...`` here).

- ``GET /_streamlab/`` the dashboard; ``/_streamlab/dashboard.js`` its script;
  ``/_streamlab/static/plotly.min.js`` the charting library, served from the ``plotly`` package;
- ``GET /_streamlab/status`` mappings, functions, streams, recent logs and journeys (JSON);
- ``GET /_streamlab/trace?table=T&key=K[&region=R]`` one item's record journeys (JSON).

A route answers ``(status, content type, body)``; None means "not mine", and the gateway answers
404 JSON. Query values are only compared with what the journal holds: none becomes a path.
"""

from __future__ import annotations

import json
import urllib.parse
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.aws_rules import is_region_name
from streamlab.emulator.observability.status import AgeGauge, status_document

if TYPE_CHECKING:
    from streamlab.emulator.awslambda.service import LambdaService
    from streamlab.emulator.observability import Observability
    from streamlab.emulator.streams import StreamStore

Answer = tuple[int, str, bytes]
PREFIX = "/_streamlab/"
STATUS_PATH = "/_streamlab/status"
TRACE_PATH = "/_streamlab/trace"
PLOTLY_PATH = "/_streamlab/static/plotly.min.js"
JSON = "application/json"
_HERE = Path(__file__).parent / "dashboard"
MAX_KEY_CHARS = 2048


@cache
def _asset(name: str) -> bytes:
    return (_HERE / name).read_bytes()


@cache
def plotly_js() -> bytes | None:
    """plotly.js as the ``plotly`` package ships it (package_data/plotly.min.js)."""
    try:
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _json(status: int, document: dict[str, Any]) -> Answer:
    return status, JSON, json.dumps(document, default=str).encode()


def _error(status: int, code: str, message: str) -> Answer:
    return _json(status, {"error": code, "message": message})


class ObservabilityRoutes:
    def __init__(
        self,
        observability: Observability,
        lambda_service: LambdaService,
        streams: StreamStore | None,
        current_age: AgeGauge | None = None,
    ):
        self._current_age = current_age
        self._observability = observability
        self._lambda = lambda_service
        self._streams = streams

    def __call__(self, method: str, path: str, query: str) -> Answer | None:
        route = {
            PREFIX: self._dashboard,
            PREFIX + "dashboard.js": self._script,
            PLOTLY_PATH: self._plotly,
            STATUS_PATH: self._status,
            TRACE_PATH: self._trace,
        }.get(path)
        if route is None:
            return None
        if method not in ("GET", "HEAD"):
            return _error(405, "MethodNotAllowed", f"{path} answers GET only")
        return route(urllib.parse.parse_qs(query, keep_blank_values=True))

    def _dashboard(self, _query: dict[str, list[str]]) -> Answer:
        return 200, "text/html; charset=utf-8", _asset("index.html")

    def _script(self, _query: dict[str, list[str]]) -> Answer:
        return 200, "text/javascript; charset=utf-8", _asset("dashboard.js")

    def _plotly(self, _query: dict[str, list[str]]) -> Answer:
        script = plotly_js()
        if script is None:
            return _error(503, "ServiceUnavailable", "the plotly package is not installed: pip install plotly")
        return 200, "text/javascript; charset=utf-8", script

    def _status(self, _query: dict[str, list[str]]) -> Answer:
        document = status_document(self._lambda, self._streams, self._observability.board, self._current_age)
        document["recentJourneys"] = self._observability.journeys.recent(10)
        document["journeyCapacity"] = self._observability.journeys.max_records
        return _json(200, document)

    def _trace(self, query: dict[str, list[str]]) -> Answer:
        table = (query.get("table") or [""])[0]
        key = (query.get("key") or [""])[0]
        region = (query.get("region") or [""])[0] or None
        if not table or not key:
            return _error(400, "ValidationException", "trace needs table= and key=")
        if len(key) > MAX_KEY_CHARS or len(table) > 255:
            return _error(400, "ValidationException", "table or key too long")
        if region is not None and not is_region_name(region):
            return _error(400, "ValidationException", f"{region!r} is not a region name")
        try:
            journeys = self._observability.journeys.trace(table, key, region)
        except ValueError as error:
            return _error(400, "ValidationException", f"key: {error}")
        return _json(
            200,
            {
                "table": table,
                "key": key,
                "journeys": journeys,
                "journeyCapacity": self._observability.journeys.max_records,
            },
        )
