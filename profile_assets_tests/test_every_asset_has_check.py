"""Every asset the platform defines is guarded by at least one asset check."""

from dagster import AssetKey

from profile_assets.definitions import defs
from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.checks import RAW_CHECKS, RAW_TABLES, STAGING_CHECKS


def _checked_keys(checks) -> set[AssetKey]:
    return {key.asset_key for check in checks for key in check.check_keys}


def test_every_asset_in_definitions_has_a_check():
    graph = defs.resolve_asset_graph()
    checked = {key.asset_key for key in graph.asset_check_keys}
    unchecked = sorted(k.to_user_string() for k in graph.get_all_asset_keys() - checked)
    assert unchecked == [], f"assets without an asset check: {unchecked}"


def test_every_staging_asset_has_a_blocking_contract_and_a_value_check():
    for asset in STAGING_ASSETS:
        names = {
            (key.name, spec.blocking)
            for check in STAGING_CHECKS
            for key, spec in zip(check.check_keys, check.check_specs, strict=True)
            if key.asset_key == asset.key
        }
        assert names == {("table_contract", True), ("pandera_values", False)}, asset.key


def test_every_raw_table_staging_reads_has_a_blocking_contract():
    assert _checked_keys(RAW_CHECKS) == {AssetKey(["raw", t]) for t in RAW_TABLES}
    assert all(spec.blocking for check in RAW_CHECKS for spec in check.check_specs)
    staging_inputs = {dep for asset in STAGING_ASSETS for dep in asset.dependency_keys}
    assert staging_inputs <= _checked_keys(RAW_CHECKS)
