"""Files a ``pip install`` of streamlab needs outside a checkout: the probe handler that
``streamlab bench`` deploys and the Locust file. In the repository they are symlinks to
``handlers/probe.py`` and ``loadtests/locustfile.py`` (one source); the wheel holds copies."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
PROBE_HANDLER = ASSETS / "probe.py"
LOCUSTFILE = ASSETS / "locustfile.py"
