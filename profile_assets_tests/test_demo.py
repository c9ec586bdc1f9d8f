"""`make demo`'s command, end to end: sandbox -> raw -> staging -> identity -> golden profiles
-> serving snapshot -> a rendered email."""

import os
import subprocess
import sys

import duckdb


def test_demo_builds_golden_profiles_from_every_source_and_stops_the_sandbox(tmp_path):
    env = {**os.environ, "PROFILE_ASSETS_HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "profile_assets.cli", "demo", "--people", "400"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "profiles.golden_profiles" in run.stderr
    assert "pairwise precision" in run.stderr  # scored against the sandbox's ground truth
    assert "(from serving/profile_snapshot)" in run.stderr  # ends with a rendered email
    assert not (tmp_path / "sandbox" / "state.json").exists()  # stopped what it started

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    sources = {r[0] for r in con.execute("SELECT DISTINCT source FROM staging.contacts").fetchall()}
    assert sources == {"crm_contacts", "support_users", "storefront_customers", "file_contacts"}
    contacts = con.execute("SELECT count(*) FROM staging.contacts").fetchall()[0][0]
    profiles = con.execute("SELECT count(*) FROM profiles.golden_profiles").fetchall()[0][0]
    assert 0 < profiles < contacts  # records of one person across sources were merged
    mapped = con.execute(
        "SELECT count(*) FROM identity.identity_map m JOIN profiles.golden_profiles g "
        "USING (profile_id)"
    ).fetchall()[0][0]
    assert mapped == con.execute("SELECT count(*) FROM identity.identity_map").fetchall()[0][0]
