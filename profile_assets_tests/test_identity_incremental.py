"""Identity resolution under change: a stable model, and incremental runs equal to a rebuild."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from profile_assets.identity import ResolutionState, resolve_incremental, resolve_records
from profile_assets.identity.features import record_keys
from profile_assets.identity.fellegi_sunter import hashed_pairs
from profile_assets_tests.identity_fixtures import world_person_records


@pytest.fixture(scope="session")
def world_before_and_after():
    """Person records of a 3k-people world, then of the same world after 20 people acted,
    plus copies of a few records under new ids (they join existing profiles) and minus a
    few records of multi-record profiles (their profiles may split)."""
    from profile_assets.sandbox.changes import generate_changes
    from profile_assets.sandbox.world import generate_world

    world = generate_world(3000, seed=5)
    before = world_person_records(world.tables)
    generate_changes(world, 20, seed=2)
    after = world_person_records(world.tables)
    copies = after.iloc[[10, 500, 2000]].assign(record_id=lambda f: "copy-" + f["record_id"])
    removed = after["email"].duplicated(keep=False) & after["email"].notna()
    removed_rows = after.index[removed][[0, 7, 40]]
    return before, pd.concat([after.drop(removed_rows), copies], ignore_index=True)


@pytest.fixture(scope="session")
def first_run(world_before_and_after):
    return resolve_records(world_before_and_after[0])


def _memberships(identity_map: pd.DataFrame) -> set[tuple[str, ...]]:
    keys = record_keys(identity_map["source"], identity_map["source_record_id"])
    return set(pd.Series(keys).groupby(identity_map["profile_id"].to_numpy()).agg(
        lambda members: tuple(sorted(members))
    ))  # fmt: skip


def _edited(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Records present in both with any field changed."""
    key = ["source", "record_id"]
    joined = before.merge(after, on=key, suffixes=("_b", "_a"))
    fields = [c for c in before.columns if c not in key]
    differ = np.zeros(len(joined), dtype=bool)
    for c in fields:
        b, a = joined[f"{c}_b"].astype(object), joined[f"{c}_a"].astype(object)
        differ |= ~((b == a) | (b.isna() & a.isna())).to_numpy()
    return joined.loc[differ, key]


def test_u_sample_of_existing_records_survives_additions():
    keys = np.array([f"crm\x1f{i}" for i in range(3000)], dtype=object)
    more = np.concatenate([keys, np.array(["crm\x1fnew-1", "shop\x1fnew-2"], dtype=object)])
    left, right = hashed_pairs(keys, 60_000)
    left2, right2 = hashed_pairs(more, 60_000)
    old = set(zip(keys[left], keys[right], strict=True))
    new = set(zip(more[left2], more[right2], strict=True))
    assert 30_000 <= len(old) <= 60_000
    assert old <= new  # nothing re-drawn: only pairs with a newcomer were added
    assert all("new-" in a or "new-" in b for a, b in new - old)


def test_unrelated_additions_change_no_existing_profile(world_before_and_after, first_run):
    before = world_before_and_after[0]
    strangers = pd.DataFrame(
        [{"source": "file_contacts", "record_id": f"stranger-{i}", "first_name": f"Xaviera{i}",
          "last_name": "Quennell", "email": f"xq{i}@nowhere.test"} for i in range(2)]
    )  # fmt: skip
    again = resolve_records(pd.concat([before, strangers], ignore_index=True))
    existing = again.identity_map[~again.identity_map["source_record_id"].str.startswith("str")]
    assert _memberships(existing) == _memberships(first_run.identity_map)


def test_incremental_run_equals_full_rebuild_and_rescores_only_touched_records(
    world_before_and_after, first_run
):
    before, after = world_before_and_after
    edited = _edited(before, after)
    new = after.merge(before[["source", "record_id"]], how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    assert len(edited) > 0 and len(new) > 0
    incremental = resolve_incremental(after, edited, first_run.identity_map, first_run.state)
    full = resolve_records(after, previous_map=first_run.identity_map)
    assert _memberships(incremental.identity_map) == _memberships(full.identity_map)
    assert incremental.identity_map["profile_id"].equals(full.identity_map["profile_id"])
    assert incremental.stats["re_resolved_records"] < 0.05 * len(after)
    assert incremental.stats["scored_pairs"] < 0.05 * full.stats["scored_pairs"]
    assert len(incremental.re_resolved) == incremental.stats["re_resolved_records"]
    redone = set(
        zip(
            incremental.re_resolved["source"],
            incremental.re_resolved["source_record_id"],
            strict=True,
        )
    )
    for frame in (edited, new):
        assert set(zip(frame["source"], frame["record_id"], strict=True)) <= redone


def test_resolution_state_round_trips_through_json(first_run):
    state = ResolutionState.from_json(first_run.state.to_json())
    assert state.model.as_dict() == first_run.state.model.as_dict()
    assert state.name_chance_share == first_run.state.name_chance_share


def test_incremental_run_after_a_removal_alone_drops_only_that_record(
    world_before_and_after, first_run
):
    before = world_before_and_after[0]
    sizes = first_run.identity_map["profile_id"].value_counts()
    singles = first_run.identity_map[first_run.identity_map["profile_id"].map(sizes) == 1]
    gone = tuple(singles[["source", "source_record_id"]].iloc[0])
    remaining = before[(before["source"] + before["record_id"]) != "".join(gone)]
    empty_edit = pd.DataFrame(columns=["source", "record_id"])
    result = resolve_incremental(remaining, empty_edit, first_run.identity_map, first_run.state)
    assert result.stats["re_resolved_records"] == 0
    previous = first_run.identity_map
    expected = previous[(previous["source"] + previous["source_record_id"]) != "".join(gone)]
    assert len(expected) == len(remaining) == len(previous) - 1
    assert result.identity_map["profile_id"].tolist() == expected["profile_id"].tolist()
