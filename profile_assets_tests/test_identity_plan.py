"""`plan`: which run identity_resolution makes, decided from what changed (no warehouse)."""

import pytest

from profile_assets.identity.assets import plan

NOTHING = {"added": set(), "changed": set(), "removed": set()}
EDITED = {**NOTHING, "changed": {("crm", "c1")}}


@pytest.mark.parametrize(
    ("changes", "previous", "overrides_same", "stored", "rebuild", "mode"),
    [
        (NOTHING, True, True, True, False, "unchanged"),
        (NOTHING, True, True, False, False, "unchanged"),
        (NOTHING, True, True, True, True, "full"),
        (NOTHING, True, False, True, False, "full"),
        (NOTHING, False, True, False, False, "full"),
        (EDITED, True, True, True, False, "incremental"),
        (EDITED, True, True, False, False, "full"),
        (EDITED, True, False, True, False, "full"),
        (EDITED, True, True, True, True, "full"),
    ],
)
def test_plan_reuses_the_stored_model_only_when_nothing_else_moved(
    changes, previous, overrides_same, stored, rebuild, mode
):
    decided = plan(
        changes,
        has_previous=previous,
        overrides_same=overrides_same,
        has_stored_model=stored,
        full_rebuild=rebuild,
    )
    assert decided == mode
