"""The one `Definitions` of profile_assets: read top to bottom.

assets by layer -> checks -> resources for the environment -> sensors -> schedules -> jobs.
Runs execute in-process: DuckDB has one writer, and a subprocess per step costs seconds.
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    build_schedule_from_partitioned_job,
    define_asset_job,
    in_process_executor,
    map_asset_specs,
)

from profile_assets import settings
from profile_assets.identity.assets import IDENTITY_ASSETS, IDENTITY_CHECKS
from profile_assets.profiles.assets import PROFILE_ASSETS, PROFILE_CHECKS
from profile_assets.profiles.erasure import erase_person_job
from profile_assets.resources import resources_for
from profile_assets.serving.assets import SERVING_ASSETS, SERVING_CHECKS
from profile_assets.sources.cdc_assets import CDC_ASSETS, storefront_cdc_sensor
from profile_assets.sources.file_assets import FILE_DROP_ASSETS, file_drop_sensor
from profile_assets.sources.rest_assets import (
    REST_ASSETS,
    REST_JOBS,
    REST_SCHEDULES,
    web_user_days,
)
from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.checks import RAW_CHECKS, STAGING_CHECKS

DEFAULT_OWNERS = ["team:data-platform"]


def _owned(assets):
    """Project-wide rule, applied once: an asset without owners belongs to the platform team."""
    return map_asset_specs(
        lambda spec: spec if spec.owners else spec.replace_attributes(owners=DEFAULT_OWNERS),
        assets,
    )


# --- assets, by layer ---------------------------------------------------------------------
source_assets = [*REST_ASSETS, *CDC_ASSETS, *FILE_DROP_ASSETS]
staging_assets = STAGING_ASSETS
identity_assets = IDENTITY_ASSETS
profile_assets = PROFILE_ASSETS
serving_assets = SERVING_ASSETS

# --- checks: every asset has at least one ---------------------------------------------------
asset_checks = [*RAW_CHECKS, *STAGING_CHECKS, *IDENTITY_CHECKS, *PROFILE_CHECKS, *SERVING_CHECKS]

# --- jobs -----------------------------------------------------------------------------------
# Everything except the daily-partitioned web analytics, which `web_analytics_backfill` covers.
refresh_profiles = define_asset_job(
    "refresh_profiles",
    selection=AssetSelection.all() - AssetSelection.assets(web_user_days),
    description="Extract every source, then rebuild staging and the layers after it.",
)
web_analytics_backfill = define_asset_job(
    "web_analytics_backfill",
    selection=AssetSelection.assets(web_user_days),
    description="GA4 per-user-per-day metrics for a range of days (one run per range).",
)

# --- schedules ------------------------------------------------------------------------------
# Yesterday's GA4 day is final by morning (property time); reconciliation runs weekly.
web_analytics_daily = build_schedule_from_partitioned_job(
    web_analytics_backfill, hour_of_day=6, default_status=DefaultScheduleStatus.RUNNING
)

defs = Definitions(
    assets=_owned(
        [*source_assets, *staging_assets, *identity_assets, *profile_assets, *serving_assets]
    ),
    asset_checks=asset_checks,
    resources=resources_for(settings.environment()),
    sensors=[storefront_cdc_sensor, file_drop_sensor],
    schedules=[web_analytics_daily, *REST_SCHEDULES],
    jobs=[refresh_profiles, web_analytics_backfill, *REST_JOBS, erase_person_job],
    executor=in_process_executor,
)
