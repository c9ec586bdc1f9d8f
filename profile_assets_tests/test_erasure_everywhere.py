"""Erasure over a sandbox where the person is in every source (CRM contacts and deals, help
desk users and tickets, storefront customers, orders, carts and web analytics, partner files
and the quarantine): afterwards no table and no byte under the home holds their values, and
neither a full REST reconciliation, an incremental run, a CDC change nor a new partner file
brings anything back."""

from __future__ import annotations

import copy
import os
import shutil
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from dagster import materialize

from profile_assets.contracts.personal_data import registry
from profile_assets.enrichment.assets import ENRICHMENT_ASSETS
from profile_assets.identity.assets import IDENTITY_ASSETS
from profile_assets.identity.ground_truth import GroundTruth
from profile_assets.profiles.assets import PROFILE_ASSETS
from profile_assets.profiles.erasure import NOT_FOUND, erase_person, warehouse_tables
from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.apis.server import SandboxConfig, start_sandbox_apis
from profile_assets.sandbox.changes import ChangeSet
from profile_assets.sandbox.file_drops import write_file_drops
from profile_assets.sandbox.world import generate_world
from profile_assets.sources.cdc.assets import storefront_cdc
from profile_assets.sources.files.assets import FILE_DROP_ASSETS
from profile_assets.sources.resources import StorefrontResource, source_resources
from profile_assets.sources.rest import connect, ga4
from profile_assets.sources.rest.assets import REST_STREAM_ASSETS, full_refresh_config
from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.checks import RAW_CHECKS
from profile_assets.warehouse import DuckDBWarehouse
from profile_assets_tests.erasure_support import byte_hits, occurrences
from profile_assets_tests.storefront_support import start_loaded_storefront

PEOPLE, SEED = 600, 7
PERSON_TABLES = {
    "crm_contacts": ("email", "phone", "firstname", "lastname", "address", "date_of_birth"),
    "support_users": ("email", "phone", "name"),
    "storefront_customers": (
        "email", "phone", "first_name", "last_name", "address_line1", "date_of_birth"
    ),
    "file_contacts": ("E-mail", "Phone", "First Name", "Last Name", "Birth Date", "Street"),
}  # fmt: skip
LATER = pd.Timedelta(hours=1)


# --------------------------------------------------------------------------- the world
def _person(world) -> int:
    """A person with records in every person source, with deals, tickets, orders, carts, web
    days and partner orders."""
    truth = world.truth_records
    t = world.tables
    linked = {
        "crm_contacts": {str(i) for ids in t["crm_deals"]["contact_ids"] if ids is not None
                         for i in ids},
        "support_users": set(t["support_tickets"]["requester_id"].dropna().astype(int).astype(str)),
        "storefront_customers": set(t["storefront_orders"]["customer_id"].astype(str))
        & set(t["storefront_carts"]["customer_id"].dropna().astype(int).astype(str))
        & set(t["web_user_days"]["user_id"].dropna().astype(str)),
        "file_contacts": set(t["file_orders"]["contact_ref"].dropna().astype(str)),
    }  # fmt: skip
    for person, rows in truth[truth["person_id"].notna()].groupby("person_id"):
        ids = rows.groupby("source", observed=True)["source_id"].apply(lambda s: set(s.astype(str)))
        if all(ids.get(source, set()) & linked[source] for source in linked):
            return int(person)
    raise AssertionError("no person is in every source")


def _rows(world, person: int) -> dict[str, pd.DataFrame]:
    truth = world.truth_records
    mine = truth[truth["person_id"] == person]
    out = {}
    for source in PERSON_TABLES:
        ids = set(mine.loc[mine["source"] == source, "source_id"].astype(str))
        key = "contact_ref" if source == "file_contacts" else "id"
        frame = world.tables[source]
        out[source] = frame[frame[key].astype(str).isin(ids)]
    return out


def _needles(world, person: int) -> set[str]:
    """The person's addresses, phones, names, dates of birth and street addresses as the
    sources write them, keeping only values no other row of any table holds, even inside a
    longer value (a namesake's name, or "Hannahville", legitimately stays)."""
    values = set()
    for source, frame in _rows(world, person).items():
        for column in PERSON_TABLES[source]:
            values |= {str(v).strip() for v in frame[column].dropna() if len(str(v).strip()) >= 5}
    truth = world.truth_records
    others = []
    for source, frame in world.tables.items():
        theirs = truth[(truth["source"] == source) & (truth["person_id"] != person)]
        if source in PERSON_TABLES:
            key = "contact_ref" if source == "file_contacts" else "id"
            frame = frame[frame[key].astype(str).isin(set(theirs["source_id"].astype(str)))]
        others.append(frame.astype(str).to_csv(index=False).lower())
    text = "\n".join(others)
    return {v for v in values if v.lower() not in text}


def _bad_partner_row(row: pd.Series) -> pd.DataFrame:
    """The person's partner row with a timestamp nobody can read: quarantined if not erased."""
    bad = row.to_frame().T.copy()
    bad["updated"] = "the 31st of Smarch"
    return bad


def _settled(path: Path) -> None:
    """Delivered a while ago: the loader leaves files that may still be changing."""
    past = time.time() - 60
    os.utime(path, (past, past))


def _deliver(home: Path, frame: pd.DataFrame, name: str, kind: str = "contacts") -> None:
    target = home / "drop" / kind
    target.mkdir(parents=True, exist_ok=True)
    frame.to_csv(target / name, index=False)
    _settled(target / name)


# --------------------------------------------------------------------------- the platform
@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """Sandbox APIs, a storefront Postgres and partner files for one world; every source
    loaded, staged, resolved and profiled into a DuckDB warehouse under a home of its own."""
    home = tmp_path_factory.mktemp("home")
    world = generate_world(PEOPLE, seed=SEED)
    person = _person(world)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROFILE_ASSETS_HOME", str(home))
        storefront = start_loaded_storefront(tmp_path_factory.mktemp("storefront"), world)
        apis = start_sandbox_apis(copy.deepcopy(world), config=SandboxConfig(rate_limits={}))
        try:
            outbox = tmp_path_factory.mktemp("outbox")
            for path in write_file_drops(world, outbox):
                kind = "contacts" if path.name.startswith("file_contacts") else "orders"
                (home / "drop" / kind).mkdir(parents=True, exist_ok=True)
                shutil.move(path, home / "drop" / kind / path.name)
                _settled(home / "drop" / kind / path.name)
            own = _rows(world, person)["file_contacts"]
            _deliver(home, _bad_partner_row(own.iloc[0]), "file_contacts_900.csv")
            resources = {
                **source_resources(apis.env()),
                "storefront": StorefrontResource(dsn=storefront.dsn, slot_name="erasure"),
                "warehouse": DuckDBWarehouse(path=str(home / "warehouse.duckdb")),
                "ground_truth": GroundTruth(),
            }
            state = {
                "home": home,
                "world": world,
                "person": person,
                "resources": resources,
                "apis": apis,
                "storefront": storefront,
            }
            _load_sources(state)
            _build(state)
            yield state
        finally:
            apis.stop()
            storefront.stop()


def _load_sources(state, *, run_config: dict | None = None):
    res = state["resources"]
    assets = [*REST_STREAM_ASSETS, storefront_cdc, *FILE_DROP_ASSETS, *RAW_CHECKS]
    result = materialize(assets, resources=res, run_config=run_config or {})
    assert result.success
    client, property_id = connect.ga4(res["ga4"], _fast())
    days = state["world"].tables["web_user_days"]["date"]
    with res["warehouse"].connection() as conn:
        tally, _ = ga4.load_days(
            conn, client, property_id, days.min(), days.max(), run_id="web", page_size=500
        )
    return result, tally


def _fast():
    from profile_assets.sources.rest.client import RetrySettings

    return RetrySettings(max_attempts=5, backoff_factor=0.02, min_backoff=0.02, max_delay=1.0)


def _build(state):
    """Staging -> enrichment -> identity -> golden profiles, and stand-ins for ML and serving."""
    world_clock = {"as_of": state["world"].as_of.isoformat()}
    result = materialize(
        [*STAGING_ASSETS, *ENRICHMENT_ASSETS, *IDENTITY_ASSETS, *PROFILE_ASSETS],
        resources=state["resources"],
        run_config={"ops": {"profiles__golden_profiles": {"config": world_clock}}},
    )
    assert result.success
    with state["resources"]["warehouse"].connection() as conn:
        for table, columns in (
            ("ml.profile_features", "profile_id, orders_count"),
            ("serving.profile_lookup", "profile_id, email, full_name, phone"),
        ):
            conn.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT {columns} FROM profiles.golden_profiles"
            )
    return result


def _metadata(result, node: str) -> dict:
    events = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in events[0].metadata.items()}


@pytest.fixture(scope="module")
def erased(platform):
    """The person erased by a spelling of their CRM address they never used."""
    state = platform
    warehouse = state["resources"]["warehouse"]
    needles = _needles(state["world"], state["person"])
    before = occurrences(warehouse, needles)
    crm = _rows(state["world"], state["person"])["crm_contacts"]["email"].dropna().iloc[0]
    local, _, domain = crm.partition("@")
    variant = f"{local.upper()}+gdpr@{domain.upper()}"
    report = erase_person(variant, warehouse=warehouse)
    return state, needles, before, report


# --------------------------------------------------------------------------- the tests
def test_every_warehouse_table_is_registered(platform):
    """The registry is the contract: a table nobody registered fails here."""
    with platform["resources"]["warehouse"].connection() as conn:
        tables = warehouse_tables(conn)
        reg = registry()
        assert len(tables) > 25
        assert [t for t in tables if reg.entry(t) is None] == []
        # A table of a profile schema is erased by its profile id: it must have one.
        wildcard = [t for t in tables if t not in reg.tables]
        for table in wildcard:
            column = reg.profile_schemas[table.split(".")[0]]
            assert column in conn.columns(table), f"{table} has no {column}: register it"
    unused = set(reg.tables) - set(tables)
    assert not unused - {"ops.audit_log", "ops.suppressions"}, f"registered, never built: {unused}"


def test_erasure_finds_the_person_by_a_tagged_upper_case_spelling(erased):
    state, needles, before, report = erased
    assert report.found and len(report.profile_ids) >= 1
    assert {t for t, _, _ in before} >= {"raw.crm_contacts", "raw.file_contacts",
                                         "ops.rejected_records"}  # fmt: skip
    deleted = report.rows_deleted
    for table in (
        "raw.crm_contacts", "raw.crm_deals", "raw.support_users", "raw.support_tickets",
        "raw.storefront_customers", "raw.storefront_orders", "raw.storefront_order_items",
        "raw.storefront_carts", "raw.storefront_cart_items", "raw.web_user_days",
        "raw.file_contacts", "raw.file_orders", "staging.contacts", "staging.orders",
        "staging.tickets", "staging.web_activity", "ops.rejected_records",
        "identity.identity_map", "profiles.golden_profiles", "ml.profile_features",
        "serving.profile_lookup",
    ):  # fmt: skip
        assert deleted.get(table, 0) > 0, table
    summary = report.summary()
    assert "raw.storefront_order_items" in summary and "compacted" in summary
    assert report.compacted


def test_no_table_and_no_byte_in_the_home_keeps_the_person(erased):
    state, needles, _, report = erased
    warehouse = state["resources"]["warehouse"]
    assert occurrences(warehouse, needles) == []
    hits = byte_hits(state["home"], needles)
    assert hits == [], hits
    assert report.archives_rewritten > 0


def test_the_audit_entry_holds_no_personal_data(erased):
    state, needles, _, report = erased
    with state["resources"]["warehouse"].connection() as conn:
        audit = conn.query_df("SELECT * FROM ops.audit_log WHERE action = 'erased'")
    text = audit.astype(str).to_csv().lower()
    assert not [n for n in needles if n.lower() in text]
    assert report.suppression_hash not in text


def test_nothing_comes_back_from_any_source(erased):
    state, needles, _, _ = erased
    world, person, res = state["world"], state["person"], state["resources"]
    rows = _rows(world, person)
    at = world.as_of + LATER
    # The person acts again in every system: CRM and help desk edits, a new ticket...
    crm = rows["crm_contacts"].assign(lastmodifieddate=at)
    users = rows["support_users"].assign(updated_at=at)
    tickets = world.tables["support_tickets"]
    ticket = tickets[tickets["requester_id"].astype(str).isin(users["id"].astype(str))].head(1)
    ticket = ticket.assign(id=int(tickets["id"].astype(int).max()) + 1, updated_at=at)
    state["apis"].store.apply(
        ChangeSet(
            upserts={"crm_contacts": crm, "support_users": users, "support_tickets": ticket},
            deletes={},
        )
    )
    # ...a new storefront order with an item and an edited customer row (CDC stream)...
    orders, items = world.tables["storefront_orders"], world.tables["storefront_order_items"]
    customer = rows["storefront_customers"].assign(updated_at=at)
    order = orders[orders["customer_id"].astype(str).isin(customer["id"].astype(str))].head(1)
    order = order.assign(id=int(orders["id"].max()) + 1, updated_at=at, order_ts=at)
    item = items.head(1).assign(id=int(items["id"].max()) + 1, order_id=int(order["id"].iloc[0]))
    with closing(state["storefront"].connect()) as pg:
        sf.apply_changes(
            pg,
            ChangeSet(
                upserts={
                    "storefront_customers": customer,
                    "storefront_orders": order,
                    "storefront_order_items": item,
                },
                deletes={},
            ),
        )
    # ...and the partner delivers them again, one good row and one bad.
    own = rows["file_contacts"].copy()
    _deliver(
        state["home"], pd.concat([own, _bad_partner_row(own.iloc[0])]), "file_contacts_901.csv"
    )

    incremental, web = _load_sources(state)
    assert _metadata(incremental, "raw__crm_contacts")["suppressed_on_arrival"] >= 1
    assert _metadata(incremental, "raw__support_tickets")["suppressed_on_arrival"] >= 1
    assert _metadata(incremental, "raw__file_contacts")["suppressed_on_arrival"] >= 2
    assert web.suppressed > 0 and web.balanced
    reconciled, _ = _load_sources(state, run_config=full_refresh_config())
    assert _metadata(reconciled, "raw__crm_contacts")["suppressed_on_arrival"] >= 1
    assert _metadata(reconciled, "raw__crm_deals")["suppressed_on_arrival"] >= 1
    assert _metadata(reconciled, "raw__support_users")["suppressed_on_arrival"] >= 1
    _build(state)

    warehouse = res["warehouse"]
    assert occurrences(warehouse, needles) == []
    assert byte_hits(state["home"], needles) == []
    with warehouse.connection() as conn:
        new_items = conn.query_df(
            "SELECT COUNT(*) AS n FROM raw.storefront_order_items "
            f"WHERE CAST(id AS VARCHAR) = '{int(item['id'].iloc[0])}'"
        )["n"].iloc[0]
    assert new_items == 0, "an item of the person's new order came in"


def test_an_unknown_address_reports_no_profile_and_is_suppressed(erased):
    state, *_ = erased
    report = erase_person("never.seen@example.org", warehouse=state["resources"]["warehouse"])
    assert not report.found and report.summary().startswith(NOT_FOUND)
