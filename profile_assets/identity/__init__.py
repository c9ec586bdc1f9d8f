"""Identity resolution: person records from many systems -> one stable profile id per person."""

from profile_assets.identity.engine import resolve_records
from profile_assets.identity.incremental import resolve_incremental
from profile_assets.identity.metrics import blocking_recall, pairwise_metrics
from profile_assets.identity.overrides import Overrides, load_overrides
from profile_assets.identity.results import ResolutionResult, ResolutionState
from profile_assets.identity.settings import ResolutionSettings

__all__ = [
    "Overrides",
    "ResolutionResult",
    "ResolutionState",
    "ResolutionSettings",
    "blocking_recall",
    "load_overrides",
    "pairwise_metrics",
    "resolve_incremental",
    "resolve_records",
]
