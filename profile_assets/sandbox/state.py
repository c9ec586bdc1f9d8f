"""Addresses and credentials of a running sandbox, keyed by the connectors' env var names.

`profile-assets sandbox up` writes them; resources fall back to them when the real
environment variable is unset, so the same code reaches the sandbox or the vendor.
"""

from __future__ import annotations

import json
from pathlib import Path

from profile_assets import settings


def read_state(path: Path | None = None) -> dict:
    path = path or settings.sandbox_state_path()
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def sandbox_setting(name: str) -> str | None:
    """The sandbox's value for connector setting `name` (e.g. HUBSPOT_BASE_URL), if any."""
    value = read_state().get("env", {}).get(name)
    return None if value is None else str(value)
