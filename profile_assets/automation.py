"""How the platform runs on its own, in one place: jobs, schedules and sensors.

Everything that decides *when* assets materialize lives here, so a reader can see the whole
operating rhythm at once: GA4 days load each morning, the REST sources are reconciled in full
weekly, the storefront's change stream and partner file drops are watched by sensors, and
`refresh_profiles` rebuilds everything downstream of the sources.
"""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from profile_assets.profiles.erasure import erase_person_job
from profile_assets.sources.cdc.assets import storefront_cdc_sensor
from profile_assets.sources.files.assets import file_drop_sensor
from profile_assets.sources.rest.assets import (
    REST_STREAM_ASSETS,
    full_refresh_config,
    web_user_days,
)

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
rest_full_reconciliation = define_asset_job(
    "rest_full_reconciliation",
    selection=REST_STREAM_ASSETS,
    description="Re-read every REST source in full and tombstone the ids it no longer returns "
    "(deletes that no feed reports, e.g. HubSpot GDPR deletions).",
    config=full_refresh_config(),
)

# --- schedules ------------------------------------------------------------------------------
# Yesterday's GA4 day is final by morning (property time).
web_analytics_daily = build_schedule_from_partitioned_job(
    web_analytics_backfill, hour_of_day=6, default_status=DefaultScheduleStatus.RUNNING
)
rest_full_reconciliation_weekly = ScheduleDefinition(
    job=rest_full_reconciliation,
    cron_schedule="0 3 * * 0",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Weekly full reconciliation of the REST sources (Sunday 03:00 UTC).",
)

JOBS = [refresh_profiles, web_analytics_backfill, rest_full_reconciliation, erase_person_job]
SCHEDULES = [web_analytics_daily, rest_full_reconciliation_weekly]
SENSORS = [storefront_cdc_sensor, file_drop_sensor]
