"""Lookups: any spelling identity treats as one mailbox finds the profile; ids too; who is
never served (suppressed, opted out); scores joined when the ML layer wrote them."""

from dataclasses import replace

import pandas as pd
import pytest

from profile_assets import serving
from profile_assets.privacy.suppression import canonical_email_keys, email_suppression_hash
from profile_assets.serving.lookup import SnapshotReader
from profile_assets.serving.record import alias_of, build_snapshot_frames
from profile_assets.serving.snapshot import publish
from profile_assets_tests.serving_support import built_warehouse, inputs_of, records_by_id


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return inputs_of(built_warehouse(tmp_path_factory))


@pytest.fixture(scope="module")
def served(inputs, tmp_path_factory):
    directory = tmp_path_factory.mktemp("served")
    publish(build_snapshot_frames(inputs), directory)
    return SnapshotReader(directory)


def _gmail_profile(inputs) -> pd.Series:
    golden = inputs.golden
    dotted = golden["email"].fillna("").str.contains(r"^[^@+]*\.[^@+]*@gmail\.com$")
    return golden[dotted].iloc[0]


def test_every_spelling_of_a_gmail_address_finds_the_profile(inputs, served):
    profile = _gmail_profile(inputs)
    local, domain = profile["email"].split("@")
    variants = [
        profile["email"],
        profile["email"].upper(),
        f"  {local.replace('.', '')}@{domain}  ",
        f"{local}+newsletter@googlemail.com",
        f"{local[0]}.{local[1:].replace('.', '')}@GMail.com",
    ]
    for variant in variants:
        found = served.lookup(variant)
        assert found is not None, variant
        assert found["profile_id"] == profile["profile_id"]
        assert found["email"] == profile["email"]


def test_lookup_by_profile_id_and_unknown_keys(inputs, served):
    profile_id = inputs.golden["profile_id"].iloc[3]
    assert served.lookup(profile_id)["profile_id"] == profile_id
    assert served.lookup("nobody@example.invalid") is None
    assert served.lookup("P-does-not-exist") is None


def test_a_secondary_address_of_a_merged_profile_finds_it_too(inputs, served):
    members = inputs.identity_map.merge(inputs.contacts, on=["source", "source_record_id"])
    golden = inputs.golden.set_index("profile_id")
    secondary = members[
        members["email_key"].notna()
        & (members["email_key"] != golden["email_key"].reindex(members["profile_id"]).to_numpy())
    ].iloc[0]
    assert served.lookup(secondary["email"])["profile_id"] == secondary["profile_id"]


def test_alias_keys_agree_with_identitys_key_function(inputs):
    """The snapshot maps stored spellings to staging's `email_key` and the hot path skips the
    key function for them: right only if staging's key is the function's answer and the key
    ignores case and outer whitespace for ASCII text."""
    keyed = inputs.contacts.dropna(subset=["email_key"])
    assert canonical_email_keys(keyed["email"]).tolist() == keyed["email_key"].tolist()
    emails = inputs.contacts["email"].dropna().head(300)
    shouted = emails.map(lambda e: f" {e.upper()}\t")
    usable = shouted.map(lambda e: alias_of(e) is not None)
    assert (
        canonical_email_keys(shouted[usable]).tolist()
        == canonical_email_keys(shouted[usable].map(alias_of)).tolist()
    )


def test_module_lookup_reads_the_serving_dir_of_home(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    publish(build_snapshot_frames(inputs), tmp_path / "serving")
    profile = inputs.golden.iloc[0]
    assert serving.lookup(profile["email"])["profile_id"] == profile["profile_id"]


def test_suppressed_people_are_never_served(inputs):
    profile = _gmail_profile(inputs)
    suppressed = replace(
        inputs, suppressed_hashes=frozenset({email_suppression_hash(profile["email"])})
    )
    frames = build_snapshot_frames(suppressed)
    assert profile["profile_id"] not in set(frames.records["profile_id"])
    assert profile["profile_id"] not in set(frames.keys["profile_id"])
    assert len(frames.records) == len(inputs.golden) - 1


def test_an_opted_out_primary_address_withholds_the_profile_a_secondary_only_its_key(inputs):
    members = inputs.identity_map.merge(inputs.contacts, on=["source", "source_record_id"])
    golden = inputs.golden.set_index("profile_id")
    primary = golden["email_key"].reindex(members["profile_id"]).to_numpy()
    other = members[members["email_key"].notna() & (members["email_key"] != primary)].iloc[0]
    owner = golden.loc[other["profile_id"]]
    opted = replace(inputs, opted_out_hashes=frozenset({email_suppression_hash(other["email"])}))
    keys = build_snapshot_frames(opted).keys.set_index("lookup_key")["profile_id"]
    assert other["email_key"] not in keys.index
    assert keys[owner["email_key"]] == other["profile_id"]  # still served at the primary

    opted = replace(inputs, opted_out_hashes=frozenset({email_suppression_hash(owner["email"])}))
    assert other["profile_id"] not in set(build_snapshot_frames(opted).records["profile_id"])


def test_scores_are_joined_when_the_ml_layer_wrote_them(inputs):
    without = records_by_id(inputs)
    first = next(iter(without.values()))
    assert first["churn_score"] is None and first["model_version"] is None

    profile_id = first["profile_id"]
    scores = pd.DataFrame(
        {
            "profile_id": [profile_id, profile_id],
            "churn_score": [0.1, 0.83],
            "purchase_propensity": [0.5, 0.2],
            "expected_orders": [1.0, 0.4],
            "model_version": ["v1", "v2"],
            "scored_at": pd.to_datetime(["2026-01-01", "2026-02-01"], utc=True),
        }
    )
    scored = records_by_id(replace(inputs, scores=scores))[profile_id]
    assert (scored["churn_score"], scored["model_version"]) == (0.83, "v2")  # the latest
    assert scored["scored_at"].startswith("2026-02-01")


def test_record_carries_activity_and_no_street_address(inputs):
    records = records_by_id(inputs).values()
    carts = [r for r in records if r["open_cart"]]
    assert carts and all(r["open_cart"]["lines"] for r in carts)
    assert any(r["last_order"] for r in records)
    assert all("address_line1" not in r and "email_key" not in r for r in records)
