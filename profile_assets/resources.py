"""Resources, chosen by environment in one place (`PROFILE_ASSETS_ENV`).

| environment | warehouse | connectors |
|---|---|---|
| `local` (default) | DuckDB under `$PROFILE_ASSETS_HOME` | environment variables only |
| `sandbox` | DuckDB, as for `local` | environment variables, else the running sandbox |
| `snowflake` | Snowflake (`SNOWFLAKE_*`) | environment variables only |

Only `sandbox` falls back to the simulator (and scores identity against its ground truth):
any other environment with a missing variable fails with an error naming it.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from profile_assets import settings
from profile_assets.identity.ground_truth import GroundTruth
from profile_assets.sources.resources import source_resources
from profile_assets.warehouse import warehouse_resource


def resources_for(environment: str) -> dict[str, ConfigurableResource]:
    """Every resource the definitions need, for `local`, `sandbox` or `snowflake`."""
    if environment == "sandbox":
        return {
            "warehouse": warehouse_resource(environment),
            "ground_truth": GroundTruth(records_path=str(settings.sandbox_truth_records_path())),
            **source_resources(defaults_file=str(settings.sandbox_state_path())),
        }
    return {
        "warehouse": warehouse_resource(environment),
        "ground_truth": GroundTruth(),
        **source_resources(),
    }
