"""`profile-assets resolve INPUT --out OUTPUT`: the identity engine on any file, from the shell."""

import pandas as pd
from click.testing import CliRunner

from profile_assets.cli import main

RECORDS = pd.DataFrame(
    {
        "record_id": ["a1", "a2", "b1"],
        "First Name": ["Ann", "Anne", "Robert"],
        "last_name": ["Smith", "Smith", "Jones"],
        "E-mail": ["ann.smith@gmail.com", "annsmith@gmail.com", "bob@example.org"],
        "phone": ["415-555-0134", "(415) 555-0134", None],
    }
)


def test_resolve_writes_every_record_once_with_its_profile(tmp_path):
    source, out = tmp_path / "people.csv", tmp_path / "profiles.parquet"
    RECORDS.to_csv(source, index=False)
    result = CliRunner().invoke(main, ["resolve", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    resolved = pd.read_parquet(out).set_index("record_id")
    assert sorted(resolved.index) == ["a1", "a2", "b1"]
    assert resolved.loc["a1", "profile_id"] == resolved.loc["a2", "profile_id"]
    assert resolved.loc["b1", "profile_id"] != resolved.loc["a1", "profile_id"]
    assert resolved["match_probability"].between(0, 1).all()


def test_resolve_rejects_a_file_without_record_ids_clearly(tmp_path):
    source = tmp_path / "people.csv"
    RECORDS.drop(columns="record_id").to_csv(source, index=False)
    result = CliRunner().invoke(main, ["resolve", str(source), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert "record_id" in result.output
