"""Profile history (SCD2) and the audit log: versions only for changed profiles, closed rows,
and who or what triggered every write."""

import pandas as pd
import pytest

from profile_assets.profiles.audit import run_trigger
from profile_assets.profiles.history import scd2_merge, tracked_columns
from profile_assets.profiles.survivorship import load_rules
from profile_assets_tests.golden_support import (
    execute,
    failed_checks,
    metadata,
    query,
    run_pipeline,
    staged_warehouse,
)

RULES = load_rules()
T0, T1 = pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC")


def _snapshot(**emails: str) -> pd.DataFrame:
    rows = []
    for profile_id, email in emails.items():
        row = dict.fromkeys(tracked_columns(RULES))
        row.update(profile_id=profile_id, email=email, record_count=1, sources="crm_contacts")
        rows.append(row)
    return pd.DataFrame(rows, columns=["profile_id", *tracked_columns(RULES)])


def test_scd2_merge_versions_only_changed_profiles():
    first = scd2_merge(None, _snapshot(P1="a@x.org", P2="b@x.org"), RULES, at=T0, run_id="r1")
    assert set(first.changes["change_type"]) == {"created"}
    assert first.new_rows["version"].tolist() == [1, 1]
    current = first.new_rows
    second = scd2_merge(current, _snapshot(P1="a@x.org", P2="new@x.org", P3="c@x.org"),
                        RULES, at=T1, run_id="r2")  # fmt: skip
    by_profile = second.changes.set_index("profile_id")
    assert by_profile.loc["P2", "change_type"] == "updated"
    assert by_profile.loc["P2", "changed_fields"] == "email"
    assert by_profile.loc["P3", "change_type"] == "created"
    assert "P1" not in by_profile.index
    assert list(second.closed) == ["P2"]
    p2 = second.new_rows.set_index("profile_id").loc["P2"]
    assert (p2["version"], p2["valid_from"], p2["is_current"]) == (2, T1, True)


def test_scd2_merge_closes_vanished_profiles_without_a_successor():
    current = scd2_merge(None, _snapshot(P1="a@x.org"), RULES, at=T0, run_id="r1").new_rows
    gone = scd2_merge(current, _snapshot(), RULES, at=T1, run_id="r2")
    assert list(gone.closed) == ["P1"] and gone.new_rows.empty
    assert gone.changes["change_type"].tolist() == ["deleted"]


def test_run_trigger_reads_dagster_run_tags():
    assert run_trigger({"dagster/schedule_name": "nightly"}) == ("schedule", "nightly")
    assert run_trigger({"dagster/sensor_name": "default_automation_condition_sensor"}) == (
        "sensor",
        "default_automation_condition_sensor",
    )
    assert run_trigger({"user": "ana"}) == ("user", "ana")
    assert run_trigger({}) == ("user", None)


# --------------------------------------------------------------------------- through Dagster
@pytest.fixture(scope="module")
def history_runs(tmp_path_factory):
    """Run 1 by a user; run 2 by a schedule after one email changed; run 3 by a sensor after
    every record of another profile was deleted in its sources."""
    warehouse = staged_warehouse(tmp_path_factory, "history")
    first = run_pipeline(warehouse, checks=True)
    updated = _profile_with_records(warehouse, 1, offset=0)
    execute(
        warehouse,
        "UPDATE staging.contacts SET email = 'moved@example.org', email_key = "
        "'moved@example.org', email_valid = TRUE, updated_at = TIMESTAMPTZ '2030-01-01 00:00+00' "
        "WHERE source = ? AND source_record_id = ?",
        [updated["source"], updated["source_record_id"]],
    )
    second = run_pipeline(warehouse, tags={"dagster/schedule_name": "nightly_profiles"})
    deleted = _profile_with_records(warehouse, 1, offset=5)
    execute(
        warehouse,
        "UPDATE staging.contacts SET is_deleted = TRUE WHERE source = ? AND source_record_id = ?",
        [deleted["source"], deleted["source_record_id"]],
    )
    third = run_pipeline(warehouse, tags={"dagster/sensor_name": "staging_changed"})
    return warehouse, (first, second, third), updated, deleted


def _profile_with_records(warehouse, count: int, offset: int) -> pd.Series:
    return query(
        warehouse,
        "SELECT m.source, m.source_record_id, m.profile_id FROM identity.identity_map m "
        f"WHERE m.profile_id IN (SELECT profile_id FROM identity.identity_map GROUP BY 1 "
        f"HAVING COUNT(*) = {count}) AND m.source = 'crm_contacts' "
        f"ORDER BY m.profile_id LIMIT 1 OFFSET {offset}",
    ).iloc[0]


def _history(warehouse, profile_id: str) -> pd.DataFrame:
    return query(
        warehouse,
        f"SELECT * FROM profiles.profile_history WHERE profile_id = '{profile_id}' "
        "ORDER BY version",
    )


def _audit(warehouse, run) -> pd.DataFrame:
    return query(warehouse, f"SELECT * FROM ops.audit_log WHERE run_id = '{run.run_id}'")


def test_first_run_creates_version_one_of_every_profile(history_runs):
    warehouse, (first, *_), *_ = history_runs
    assert failed_checks(first) == {}
    history = query(
        warehouse, f"SELECT * FROM profiles.profile_history WHERE run_id = '{first.run_id}'"
    )
    assert set(history["version"]) == {1}
    golden = metadata(first, "profiles/golden_profiles")["dagster/row_count"]
    assert len(history) == golden
    audit = _audit(warehouse, first)
    assert len(audit) == golden
    assert set(audit["action"]) == {"created"} and set(audit["trigger"]) == {"user"}


def test_a_changed_profile_gets_a_new_version_and_the_old_one_is_closed(history_runs):
    warehouse, (_, second, _), updated, _ = history_runs
    rows = _history(warehouse, updated["profile_id"])
    assert rows["version"].tolist() == [1, 2]
    old, new = rows.iloc[0], rows.iloc[1]
    assert not old["is_current"] and old["valid_to"] == new["valid_from"]
    assert new["is_current"] and pd.isna(new["valid_to"])
    assert new["email"] == "moved@example.org"
    assert "email" in new["changed_fields"].split(",")
    meta = metadata(second, "profiles/profile_history")
    assert meta["updated"] >= 1 and meta["audit_rows"] == sum(
        meta[k] for k in ("created", "updated", "deleted")
    )


def test_the_audit_log_names_what_changed_its_source_and_the_schedule(history_runs):
    warehouse, (_, second, _), updated, _ = history_runs
    audit = _audit(warehouse, second)
    assert set(audit["trigger"]) == {"schedule"}
    assert set(audit["triggered_by"]) == {"nightly_profiles"}
    row = audit.set_index("profile_id").loc[updated["profile_id"]]
    assert row["action"] == "updated"
    assert "email" in row["changed_fields"].split(",")
    assert row["sources"] == "crm_contacts"


def test_a_vanished_profile_is_closed_and_audited_as_deleted_by_the_sensor(history_runs):
    warehouse, (_, _, third), _, deleted = history_runs
    rows = _history(warehouse, deleted["profile_id"])
    assert len(rows) == 1 and not rows["is_current"].iloc[0]
    assert rows["valid_to"].notna().all()
    audit = _audit(warehouse, third).set_index("profile_id")
    assert audit.loc[deleted["profile_id"], ["action", "trigger", "triggered_by"]].tolist() == [
        "deleted",
        "sensor",
        "staging_changed",
    ]


def test_only_changed_profiles_get_new_versions(history_runs):
    """Besides the edited profile, only profiles an identity merge or split changed (the model
    is re-estimated each run, so a borderline link may flip) have more than one version."""
    warehouse, _, updated, _ = history_runs
    versions = query(
        warehouse,
        "SELECT profile_id FROM profiles.profile_history GROUP BY 1 HAVING COUNT(*) > 1",
    )
    events = query(warehouse, "SELECT profile_id FROM identity.resolution_events")
    assert updated["profile_id"] in set(versions["profile_id"])
    assert set(versions["profile_id"]) <= {updated["profile_id"], *events["profile_id"]}
    current = query(
        warehouse,
        "SELECT profile_id FROM profiles.profile_history WHERE is_current "
        "GROUP BY 1 HAVING COUNT(*) > 1",
    )
    assert current.empty
