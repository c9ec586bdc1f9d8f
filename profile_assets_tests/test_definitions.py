"""The one `Definitions` loads, documents every asset, and picks resources by environment."""

import importlib

import pytest
from dagster import AssetKey, AssetSpec

from profile_assets import definitions, instance
from profile_assets.resources import resources_for
from profile_assets.sources.resources import MissingSettingError
from profile_assets.warehouse import DuckDBWarehouse, SnowflakeWarehouse

LAYERS = {"sources", "staging", "enrichment", "identity", "profiles", "ml", "serving"}


def test_definitions_load_and_every_job_resolves():
    jobs = {job.name for job in definitions.defs.resolve_all_job_defs()}
    assert {"refresh_profiles", "web_analytics_backfill"} <= jobs


def test_every_asset_is_grouped_by_layer_documented_and_owned():
    graph = definitions.defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in LAYERS, key
        assert node.description and len(node.description) > 20, key
        assert node.kinds, key


def test_platform_team_owns_only_what_no_one_else_claims():
    claimed, unclaimed = AssetSpec("scored", owners=["team:ml"]), AssetSpec("raw_thing")
    owned = definitions._owned([claimed, unclaimed])
    assert [spec.owners for spec in owned] == [["team:ml"], definitions.DEFAULT_OWNERS]


def test_asset_keys_name_their_warehouse_schema():
    schemas = {"raw", "staging", "enrichment", "identity", "profiles", "ml", "serving"}
    keys = definitions.defs.resolve_asset_graph().get_all_asset_keys()
    assert {key.path[0] for key in keys} <= schemas
    assert AssetKey(["raw", "crm_contacts"]) in keys


def test_local_environment_uses_a_duckdb_file_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    warehouse = resources_for("local")["warehouse"]
    assert isinstance(warehouse, DuckDBWarehouse)
    assert warehouse.path == str(tmp_path / "warehouse.duckdb")


def test_snowflake_environment_reads_credentials_from_env_vars(monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_ENV", "snowflake")
    try:
        module = importlib.reload(definitions)
        warehouse = module.defs.resources["warehouse"]
        assert isinstance(warehouse, SnowflakeWarehouse)
        # EnvVar-backed: the value is resolved at run time, never baked into the definitions.
        assert "SNOWFLAKE_PASSWORD" in repr(warehouse.snowflake.password)
    finally:
        monkeypatch.delenv("PROFILE_ASSETS_ENV")
        importlib.reload(definitions)


def test_unknown_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_ENV", "bigquery")
    with pytest.raises(ValueError, match="PROFILE_ASSETS_ENV"):
        importlib.reload(definitions)
    monkeypatch.delenv("PROFILE_ASSETS_ENV")
    importlib.reload(definitions)


def test_dagster_home_turns_telemetry_off_and_queues_one_run_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    text = (instance.prepare_dagster_home() / "dagster.yaml").read_text()
    assert "enabled: false" in text and "max_concurrent_runs: 1" in text


def test_production_environments_never_fall_back_to_a_sandbox(tmp_path, monkeypatch):
    """Even with a sandbox running in the same home, `local` and `snowflake` read only the
    environment: a missing connector variable is an error that names it."""
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(tmp_path))
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "state.json").write_text(
        '{"env": {"HUBSPOT_BASE_URL": "http://127.0.0.1:9"}}'
    )
    assert resources_for("sandbox")["hubspot"].setting("base_url") == "http://127.0.0.1:9"
    for environment in ("local", "snowflake"):
        hubspot = resources_for(environment)["hubspot"]
        with pytest.raises(MissingSettingError, match="HUBSPOT_BASE_URL is not set"):
            hubspot.setting("base_url")
    assert resources_for("local")["ground_truth"].records() is None
