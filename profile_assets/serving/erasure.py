"""Erasure that reaches the served snapshot too: a file outside the warehouse, so it is
cleaned here, above both layers, the moment the warehouse erasure commits."""

from __future__ import annotations

from profile_assets.profiles.erasure import ErasureReport, TableOutcome, erase_person
from profile_assets.serving.snapshot import remove_profiles
from profile_assets.warehouse import Warehouse

SNAPSHOT = "serving.snapshot"


def erase_everywhere(email: str, *, warehouse: Warehouse | None = None) -> ErasureReport:
    """`erase_person`, then drop the person's profiles from the live snapshot at once."""
    report = erase_person(email, warehouse=warehouse)
    removed = remove_profiles(report.profile_ids)
    if removed:
        report.tables[SNAPSHOT] = TableOutcome(
            SNAPSHOT, linked=removed, deleted=removed, how="profile id, in the live snapshot file"
        )
    return report
