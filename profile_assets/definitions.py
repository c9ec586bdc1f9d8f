"""The one `Definitions` of profile_assets: read top to bottom.

assets by layer -> checks -> resources for the environment -> automation (jobs, schedules,
sensors: `automation.py`). Runs execute in-process: DuckDB has one writer, and a subprocess
per step costs seconds.
"""

from dagster import Definitions, in_process_executor, map_asset_specs

from profile_assets import settings
from profile_assets.automation import JOBS, SCHEDULES, SENSORS
from profile_assets.enrichment.assets import ENRICHMENT_ASSETS, ENRICHMENT_CHECKS
from profile_assets.identity.assets import IDENTITY_ASSETS, IDENTITY_CHECKS
from profile_assets.ml.assets import ML_ASSETS, ML_CHECKS
from profile_assets.profiles.assets import PROFILE_ASSETS, PROFILE_CHECKS
from profile_assets.resources import resources_for
from profile_assets.sources.cdc.assets import CDC_ASSETS
from profile_assets.sources.files.assets import FILE_DROP_ASSETS
from profile_assets.sources.rest.assets import REST_ASSETS
from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.checks import RAW_CHECKS, STAGING_CHECKS

DEFAULT_OWNERS = ["team:data-platform"]


def _owned(assets):
    """Project-wide rule, applied once: an asset without owners belongs to the platform team."""
    return map_asset_specs(
        lambda spec: spec if spec.owners else spec.replace_attributes(owners=DEFAULT_OWNERS),
        assets,
    )


# --- assets, by layer (in pipeline order) ---------------------------------------------------
source_assets = [*REST_ASSETS, *CDC_ASSETS, *FILE_DROP_ASSETS]
staging_assets = STAGING_ASSETS
enrichment_assets = ENRICHMENT_ASSETS
identity_assets = IDENTITY_ASSETS
profile_assets = PROFILE_ASSETS
ml_assets = ML_ASSETS

# --- checks: every asset has at least one ---------------------------------------------------
asset_checks = [
    *RAW_CHECKS,
    *STAGING_CHECKS,
    *ENRICHMENT_CHECKS,
    *IDENTITY_CHECKS,
    *PROFILE_CHECKS,
    *ML_CHECKS,
]

defs = Definitions(
    assets=_owned(
        [
            *source_assets,
            *staging_assets,
            *enrichment_assets,
            *identity_assets,
            *profile_assets,
            *ml_assets,
        ]
    ),
    asset_checks=asset_checks,
    resources=resources_for(settings.environment()),
    sensors=SENSORS,
    schedules=SCHEDULES,
    jobs=JOBS,
    executor=in_process_executor,
)
