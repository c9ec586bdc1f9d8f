"""Enrichment against the sandbox's Clearbit-like API over real HTTP: only new or due emails
are asked, answers are cached with a TTL, 202 is asked again on a later run, the quota is
honoured, and no vendor problem ever fails the pipeline."""

import pandas as pd
import pytest
from dagster import materialize

from profile_assets.enrichment.assets import person_enrichment
from profile_assets.enrichment.cache import CACHE_TABLE
from profile_assets.sandbox.apis.limits import RateLimitPolicy
from profile_assets.sandbox.apis.server import SandboxConfig, start_sandbox_apis
from profile_assets.sources.resources import EnrichmentResource
from profile_assets_tests.golden_support import query, run_pipeline, staged_warehouse
from profile_assets_tests.staging_support import staging_world

STRANGER = "nobody.at.all@example.org"


@pytest.fixture(scope="module")
def vendor():
    config = SandboxConfig(rate_limits={}, enrichment_queued_share=0.2)
    with start_sandbox_apis(staging_world(), config=config) as running:
        yield running


def _resource(vendor, *, key=None, url=None) -> EnrichmentResource:
    return EnrichmentResource(
        base_url=url or vendor.urls["enrichment"],
        api_key=key or vendor.credentials.enrichment_api_key,
    )


def _enrich(warehouse, resource, **config):
    config = {"max_requests": 10_000, **config}
    result = materialize(
        [person_enrichment],
        resources={"warehouse": warehouse, "enrichment": resource},
        run_config={"ops": {"enrichment__person_enrichment": {"config": config}}},
    )
    assert result.success  # whatever the vendor does
    meta = result.asset_materializations_for_node("enrichment__person_enrichment")[0].metadata
    return {key: value.value for key, value in meta.items()}


def _add_stranger(warehouse) -> None:
    """A valid address no vendor knows."""
    row = query(warehouse, "SELECT * FROM staging.contacts LIMIT 1")
    row["source_record_id"], row["email"], row["email_key"] = "stranger-1", STRANGER, STRANGER
    with warehouse.connection() as conn:
        conn.write_df(row, "staging.contacts")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, vendor):
    warehouse = staged_warehouse(tmp_path_factory, "enrichment")
    _add_stranger(warehouse)
    first = _enrich(warehouse, _resource(vendor))
    cache_first = query(warehouse, f"SELECT * FROM {CACHE_TABLE}")
    second = _enrich(warehouse, _resource(vendor))
    cache_second = query(warehouse, f"SELECT * FROM {CACHE_TABLE}")
    return warehouse, first, cache_first, second, cache_second


def test_first_run_asks_every_email_once_and_classifies_every_answer(runs):
    _, first, cache, _, _ = runs
    assert first["asked"] == first["emails"] == len(cache) > 100
    answered = first["enriched"] + first["queued"] + first["unknown"] + first["failed"]
    assert answered == first["asked"] and first["failed"] == 0
    assert first["queued"] > 0 and first["enriched"] > first["queued"]
    assert cache.set_index("email_key").loc[STRANGER, "status"] == "unknown"
    enriched = cache[cache["status"] == "enriched"]
    assert enriched["job_title"].notna().all() and enriched["age_range"].notna().all()
    assert (cache["expires_at"] - cache["asked_at"]).dt.days.eq(30).all()


def test_second_run_asks_only_the_queued_ones_and_keeps_the_rest(runs):
    _, first, cache_first, second, cache_second = runs
    assert second["asked"] == first["queued"]
    assert second["cached"] == first["emails"] - first["queued"]
    assert second["enriched"] == first["queued"]  # the vendor has looked them up by now
    assert (cache_second["status"] == "queued").sum() == 0
    kept = cache_first[cache_first["status"] != "queued"].set_index("email_key")["asked_at"]
    again = cache_second.set_index("email_key")["asked_at"].reindex(kept.index)
    assert (again == kept).all()  # cached answers were not asked again


def test_an_expired_ttl_asks_again(runs, vendor):
    warehouse, first, *_ = runs
    expired = _enrich(warehouse, _resource(vendor), ttl_days=0)
    assert expired["asked"] == first["emails"]
    refreshed = _enrich(warehouse, _resource(vendor))
    assert refreshed["asked"] == 0  # just asked again: fresh for the default 30 days


def test_quota_defers_the_rest_to_the_next_run_without_waiting(tmp_path_factory):
    config = SandboxConfig(
        rate_limits={"enrichment": RateLimitPolicy(40, 60.0)}, enrichment_queued_share=0.0
    )
    with start_sandbox_apis(staging_world(), config=config) as limited:
        warehouse = staged_warehouse(tmp_path_factory, "enrichment_quota")
        meta = _enrich(warehouse, _resource(limited), max_wait_seconds=0.5)
    assert meta["asked"] == 40
    assert meta["deferred_to_next_run"] == meta["emails"] - 40
    assert meta["problem"] == "none"


def test_an_outage_or_a_refused_key_never_fails_the_pipeline(tmp_path_factory, vendor):
    warehouse = staged_warehouse(tmp_path_factory, "enrichment_down")
    refused = _enrich(warehouse, _resource(vendor, key="sk_wrong"))
    assert "refused the key" in refused["problem"] and refused["asked"] == 0
    down = _enrich(warehouse, _resource(vendor, url="http://127.0.0.1:9"), max_requests=5)
    assert down["failed"] == down["asked"] == 5
    cache = query(warehouse, f"SELECT status FROM {CACHE_TABLE}")
    assert set(cache["status"]) == {"failed"}
    healed = _enrich(warehouse, _resource(vendor), max_requests=5)
    assert healed["asked"] == 5 and healed["failed"] == 0  # failed answers are asked again


def test_golden_profiles_carry_enrichment_with_its_provenance_and_first_party_wins(runs):
    warehouse, *_ = runs
    run_pipeline(warehouse)
    golden = query(warehouse, "SELECT * FROM profiles.golden_profiles")
    cache = query(warehouse, f"SELECT * FROM {CACHE_TABLE} WHERE status = 'enriched'")
    enriched = golden[golden["email_key"].isin(cache["email_key"])]
    assert len(enriched) > 0
    assert (enriched["provenance_enrichment_source"] == "enrichment").all()
    assert enriched["job_title"].notna().all()
    others = golden[~golden["email_key"].isin(cache["email_key"])]
    assert others["provenance_enrichment_source"].isna().all()
    assert others["job_title"].isna().all()
    # the vendor's geo is its own field: the first-party address is never overwritten
    contacts = query(warehouse, "SELECT city FROM staging.contacts WHERE city IS NOT NULL")
    assert set(golden["city"].dropna()) <= set(contacts["city"])
    assert not golden.empty and pd.api.types.is_integer_dtype(golden["household_size"])
