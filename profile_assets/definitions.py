"""The one `Definitions` of profile_assets: read top to bottom.

assets by layer -> checks -> resources for the environment -> sensors -> schedules -> jobs.
"""

from dagster import Definitions

from profile_assets import settings
from profile_assets.resources import resources_for

defs = Definitions(
    assets=[],
    asset_checks=[],
    resources=resources_for(settings.environment()),
    sensors=[],
    schedules=[],
    jobs=[],
)
