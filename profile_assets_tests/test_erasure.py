"""Erasure: a person's email, name and phone are gone from every table, the suppression
record holds no address, and the next extract does not bring the profile back."""

import fakesnow
import pandas as pd
import pytest
from dagster import materialize
from dagster_snowflake import SnowflakeResource

from profile_assets.contracts.personal_data import registry
from profile_assets.privacy.suppression import (
    RecordColumn,
    Suppressions,
    email_suppression_hash,
    filter_suppressed,
    hash_keys,
    suppressed_mask,
    suppressed_payload,
)
from profile_assets.profiles.erasure import erase, erase_person, erase_person_job
from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.contacts import PERSON_SOURCES
from profile_assets.staging.tables import CONTACTS
from profile_assets.warehouse import DuckDBWarehouse, SnowflakeWarehouse
from profile_assets_tests.erasure_support import occurrences
from profile_assets_tests.golden_support import query, run_pipeline, staged_warehouse
from profile_assets_tests.staging_support import raw_tables, staging_world


def test_filter_suppressed_drops_every_spelling_of_a_suppressed_address():
    contacts = pd.DataFrame(
        {
            "source": "crm_contacts",
            "source_record_id": ["1", "2", "3"],
            "email": ["Jane.Doe+news@gmail.com", "jane@example.org", "JDOE@GMAIL.COM"],
            "email_key": ["janedoe@gmail.com", "jane@example.org", None],
        }
    )
    suppressions = pd.DataFrame(
        {"suppression_hash": [email_suppression_hash("janedoe@gmail.com", salt="s")]}
    )
    kept = filter_suppressed(contacts, suppressions, salt="s")
    assert kept["email"].tolist() == ["jane@example.org", "JDOE@GMAIL.COM"]
    assert filter_suppressed(contacts, suppressions, salt="other").equals(contacts)


def test_filter_suppressed_drops_suppressed_source_records_without_an_address():
    contacts = pd.DataFrame(
        {
            "source": ["support_users", "support_users"],
            "source_record_id": ["7", "8"],
            "email": [None, None],
            "email_key": [None, None],
        }
    )
    hashed = hash_keys(pd.Series(["record:support_users:7"]), salt="s")
    kept = filter_suppressed(contacts, pd.DataFrame({"suppression_hash": hashed}), salt="s")
    assert kept["source_record_id"].tolist() == ["8"]


def test_a_suppressed_mailbox_is_found_under_any_tag_case_or_gmail_dots():
    suppressions = Suppressions(frozenset(), "s").with_keys(["x@miller.net", "janedoe@gmail.com"])
    frame = pd.DataFrame(
        {"email": ["X+news@Miller.net", "x@miller.net", "Jane.Doe+a@googlemail.com", "y@miller.net",
                   None, "not an address"]}
    )  # fmt: skip
    mask = suppressed_mask(frame, suppressions, email_columns=("email",))
    assert mask.tolist() == [True, True, True, False, False, False]


def test_suppressed_mask_follows_record_ids_lists_and_per_row_sources():
    suppressions = Suppressions(frozenset(), "s").with_keys(
        ["record:crm_contacts:7", "record:storefront_orders:12"]
    )
    deals = pd.DataFrame({"contact_ids": ['["3", "7"]', '["8"]', None]})
    lists = (RecordColumn("contact_ids", "crm_contacts", many=True),)
    assert suppressed_mask(deals, suppressions, record_columns=lists).tolist() == [
        True, False, False
    ]  # fmt: skip
    orders = pd.DataFrame({"source": ["storefront_orders", "crm_deals"], "order_id": [12.0, 12]})
    per_row = (RecordColumn("order_id", source_column="source"),)
    assert suppressed_mask(orders, suppressions, record_columns=per_row).tolist() == [True, False]


def test_a_quarantined_payload_naming_a_suppressed_address_is_recognised():
    suppressions = Suppressions(frozenset(), "s").with_keys(["x@miller.net"])
    nested = {"properties": {"email": "X+1@miller.net", "phone": "1"}, "id": "5"}
    assert suppressed_payload(nested, "crm_contacts", suppressions)
    assert suppressed_payload("PC-1;x@miller.net;bad date", "file_contacts", suppressions)
    assert not suppressed_payload({"email": "y@miller.net"}, "crm_contacts", suppressions)


def test_every_registered_link_names_a_known_kind_and_parents_are_registered():
    reg = registry()
    assert reg.parents() <= set(reg.tables)
    for entry in reg.tables.values():
        assert entry.links or entry.sweep_only or entry.no_personal_data, entry.table
    assert reg.entry("ml.anything_new").links[0].column == "profile_id"
    assert reg.entry("raw.not_registered") is None


def test_suppression_hash_is_salted_and_never_the_address():
    digest = email_suppression_hash("Someone@Example.com", salt="a")
    assert "someone" not in digest and len(digest) == 64
    assert digest == email_suppression_hash("someone@example.com", salt="a")
    assert digest != email_suppression_hash("someone@example.com", salt="b")


# --------------------------------------------------------------------------- through the warehouse
@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    """A built warehouse with ML and serving tables; one person erased through the CLI function
    and another through the Dagster job."""
    warehouse = staged_warehouse(tmp_path_factory, "erasure")
    run_pipeline(warehouse)
    _other_layers(warehouse)
    person, other = _people(warehouse, 2)
    report = erase_person(person["email"], warehouse=warehouse)
    job_result = erase_person_job.execute_in_process(
        run_config={"ops": {"erase_person_op": {"config": {"email": other["email"]}}}},
        resources={"warehouse": warehouse},
    )
    return warehouse, person, other, report, job_result


def _other_layers(warehouse) -> None:
    """Stand-ins for the ML feature and serving tables other layers build from profiles."""
    with warehouse.connection() as conn:
        conn.execute(
            "CREATE TABLE ml.profile_features AS SELECT profile_id, orders_count, "
            "engagement_score FROM profiles.golden_profiles"
        )
        conn.execute(
            "CREATE TABLE serving.profile_lookup AS SELECT profile_id, email, full_name, phone "
            "FROM profiles.golden_profiles"
        )


def _people(warehouse, count: int) -> list[dict]:
    """Multi-record people with an email and phone whose full name nobody else has (a
    namesake's name legitimately stays)."""
    rows = query(
        warehouse,
        "SELECT g.profile_id, g.email, g.full_name, g.phone FROM profiles.golden_profiles g "
        "WHERE g.record_count >= 2 AND g.email IS NOT NULL AND g.phone IS NOT NULL "
        "AND (SELECT COUNT(DISTINCT m.profile_id) FROM staging.contacts c JOIN "
        "identity.identity_map m USING (source, source_record_id) "
        "WHERE lower(c.full_name) = lower(g.full_name)) = 1 "
        f"ORDER BY g.profile_id LIMIT {count}",
    )
    people = []
    for row in rows.to_dict("records"):
        values = query(
            warehouse,
            "SELECT c.email, c.phone, c.full_name, c.first_name, c.last_name "
            "FROM staging.contacts c JOIN identity.identity_map m "
            f"USING (source, source_record_id) WHERE m.profile_id = '{row['profile_id']}'",
        )
        row["records"] = len(values)
        row["emails"] = set(values["email"].dropna().str.lower())
        row["phones"] = set(values["phone"].dropna())
        row["names"] = set(values["full_name"].dropna().str.lower())
        people.append(row)
    return people


def test_erasure_leaves_no_email_name_or_phone_in_any_table(erased):
    warehouse, person, other, _, job_result = erased
    assert job_result.success
    for who in (person, other):
        needles = who["emails"] | who["phones"] | who["names"]
        assert occurrences(warehouse, needles) == [], who["profile_id"]


def test_erasure_removes_the_profile_everywhere_by_id(erased):
    warehouse, person, *_ = erased
    hits = occurrences(warehouse, {person["profile_id"]})
    assert {table for table, _, _ in hits} == {"ops.audit_log"}, "only the audit keeps the id"


def test_erasure_report_counts_the_person_records_and_keeps_a_suppression(erased):
    warehouse, person, _, report, _ = erased
    assert report.profile_ids == [person["profile_id"]]
    assert len(report.records) >= person["records"]
    assert report.rows_deleted["staging.contacts"] >= person["records"]
    suppressions = query(warehouse, "SELECT * FROM ops.suppressions")
    assert report.suppression_hash in set(suppressions["suppression_hash"])
    assert report.suppressions >= 1
    assert len(suppressions) >= 2


def test_erasure_is_audited_with_its_trigger(erased):
    warehouse, person, other, _, job_result = erased
    audit = query(warehouse, "SELECT * FROM ops.audit_log WHERE action = 'erased'")
    assert set(audit["profile_id"]) == {person["profile_id"], other["profile_id"]}
    assert set(audit["trigger"]) == {"user"}
    assert job_result.run_id in set(audit["run_id"])


def test_suppression_stops_the_next_extract_recreating_the_profile(erased):
    warehouse, person, _, report, _ = erased
    raw = raw_tables(staging_world())
    with warehouse.connection() as conn:  # the sources still hold the person: re-extracted
        for source in PERSON_SOURCES:
            conn.write_df(raw[source], f"raw.{source}", mode="replace")
    contacts = [a for a in STAGING_ASSETS if a.key == CONTACTS.asset_key]
    staged = materialize(contacts, resources={"warehouse": warehouse})
    skipped = staged.asset_materializations_for_node("staging__contacts")[0].metadata
    assert skipped["skipped_rows"].value["erased_person_suppressed"] >= person["records"]
    staging_keys = query(
        warehouse, "SELECT source || ':' || source_record_id AS k FROM staging.contacts"
    )
    assert not set(report.records) & set(staging_keys["k"]), "staging never holds them again"
    run_pipeline(warehouse)
    mapped = query(
        warehouse,
        "SELECT COUNT(*) AS n FROM identity.identity_map m JOIN staging.contacts c "
        "USING (source, source_record_id) WHERE lower(c.email) IN "
        f"({', '.join(repr(e) for e in sorted(person['emails']))})",
    )
    assert mapped["n"].iloc[0] == 0
    keys = query(
        warehouse, "SELECT source || ':' || source_record_id AS k FROM identity.identity_map"
    )
    assert not set(report.records) & set(keys["k"]), "no erased source record is matched again"
    golden = query(warehouse, "SELECT email, full_name, phone FROM profiles.golden_profiles")
    assert not golden["email"].str.lower().isin(person["emails"]).any()
    assert not golden["phone"].isin(person["phones"]).any()


def test_erasing_an_unknown_address_still_suppresses_it(erased):
    warehouse, *_ = erased
    before = query(warehouse, "SELECT COUNT(*) AS n FROM staging.contacts")["n"].iloc[0]
    report = erase_person("nobody.here@example.invalid", warehouse=warehouse)
    assert not report.found and report.profile_ids == []
    assert report.summary().startswith("no profile found, suppression recorded")
    assert query(warehouse, "SELECT COUNT(*) AS n FROM staging.contacts")["n"].iloc[0] == before
    hashes = set(
        query(warehouse, "SELECT suppression_hash FROM ops.suppressions")["suppression_hash"]
    )
    assert report.suppression_hash in hashes


# --------------------------------------------------------------------------- on both dialects
@pytest.fixture(params=["duckdb", "snowflake"])
def small_warehouse(request, tmp_path):
    if request.param == "duckdb":
        yield DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
        return
    with fakesnow.patch():
        yield SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account="test", user="test", password="secret", database="PROFILE_ASSETS"
            )
        )


def test_erasure_follows_record_lists_and_parents_on_every_dialect(small_warehouse, tmp_path):
    """x@miller.net, asked for as X+gdpr@Miller.net: their CRM contact 7, the deal listing
    them, their storefront order 70 and its item, their profile; nobody else's rows."""
    tables = {
        "staging.contacts": pd.DataFrame(
            {"source": ["crm_contacts", "crm_contacts", "storefront_customers"],
             "source_record_id": ["7", "8", "5"],
             "email": ["x@miller.net", "y@miller.net", None],
             "email_key": ["x@miller.net", "y@miller.net", None],
             "phone": ["+15550001", "+15550002", "+15550001"]}
        ),
        "identity.identity_map": pd.DataFrame(
            {"source": ["crm_contacts", "crm_contacts", "storefront_customers"],
             "source_record_id": ["7", "8", "5"], "profile_id": ["p1", "p2", "p1"]}
        ),
        "raw.crm_contacts": pd.DataFrame(
            {"_source_id": ["7", "8"], "email": ["X@miller.net", "y@miller.net"],
             "phone": ["555-0001", "555-0002"]}
        ),
        "raw.crm_deals": pd.DataFrame(
            {"_source_id": ["d1", "d2"], "contact_ids": ['["7", "8"]', '["8"]'],
             "dealname": ["X Person renewal", "Y deal"]}
        ),
        "raw.storefront_orders": pd.DataFrame(
            {"_source_id": ["70", "71"], "id": [70, 71], "customer_id": [5, 6]}
        ),
        "raw.storefront_order_items": pd.DataFrame(
            {"_source_id": ["700", "710"], "id": [700, 710], "order_id": [70, 71]}
        ),
        "ops.rejected_records": pd.DataFrame(
            {"payload": ['{"email": "x@miller.net"}', '{"email": "y@miller.net"}']}
        ),
    }  # fmt: skip
    with small_warehouse.connection() as conn:
        for name, frame in tables.items():
            conn.write_df(frame, name, mode="replace")
        report = erase(conn, "X+gdpr@Miller.net", run_id="r", tags={}, salt="s")
        left = {name: conn.row_count(name) for name in tables}
        deals = conn.query_df("SELECT _source_id FROM raw.crm_deals")["_source_id"].tolist()
        items = conn.query_df("SELECT id FROM raw.storefront_order_items")["id"].tolist()
    assert report.profile_ids == ["p1"]
    assert left == {
        "staging.contacts": 1, "identity.identity_map": 1, "raw.crm_contacts": 1,
        "raw.crm_deals": 1, "raw.storefront_orders": 1, "raw.storefront_order_items": 1,
        "ops.rejected_records": 1,
    }  # fmt: skip
    assert deals == ["d2"] and items == [710]
    assert report.tables["raw.storefront_order_items"].how == "parent:order_id"
    keys = ["x@miller.net", "record:storefront_orders:70", "record:crm_contacts:7"]
    suppressed = Suppressions(frozenset(), "s").with_keys(keys).hashes
    with small_warehouse.connection() as conn:
        stored = set(
            conn.query_df("SELECT suppression_hash FROM ops.suppressions")["suppression_hash"]
        )
    assert suppressed <= stored
