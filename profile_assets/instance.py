"""The Dagster instance under $PROFILE_ASSETS_HOME/dagster.

DuckDB allows one writer process, so runs are queued one at a time and each run executes
in-process (see `definitions.py`); telemetry is off.
"""

from __future__ import annotations

from pathlib import Path

from profile_assets import settings

DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
"""


def prepare_dagster_home() -> Path:
    """Create the Dagster home with our `dagster.yaml`, returning its path."""
    home = settings.home() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return home
