"""Raw extracts -> staging frames: drift first, normalization, UTC, quarantine with reasons."""

import json

import pandas as pd
import pytest

from profile_assets.contracts.drift import SchemaDriftError
from profile_assets.staging.activity import stage_carts, stage_tickets, stage_web_activity
from profile_assets.staging.contacts import stage_contacts
from profile_assets.staging.extract import schema_version
from profile_assets.staging.orders import ORDER_SOURCES, stage_orders
from profile_assets.staging.tables import CONTACTS, ORDERS, TICKETS
from profile_assets_tests.staging_support import raw_frame, staging_world, world_raw_tables

NOW = pd.Timestamp("2026-10-01T00:00:00Z")
UTC = "datetime64[us, UTC]"


def _raw(name: str, rows: list[dict]) -> pd.DataFrame:
    return raw_frame(name, pd.DataFrame(rows), extracted_at=NOW)


def _ticket(**overrides) -> dict:
    row = {
        "id": 1,
        "requester_id": 10,
        "subject": "Where is my order?",
        "status": "open",
        "priority": "normal",
        "created_at": pd.Timestamp("2026-09-01T10:00:00Z"),
        "updated_at": pd.Timestamp("2026-09-02T10:00:00Z"),
        "satisfaction_score": "good",
        "satisfaction_comment": None,
    }
    return {**row, **overrides}


def _customer(**overrides) -> dict:
    row = {
        "id": 1001,
        "email": " Ann.Lee@Example.COM ",
        "first_name": "ANN",
        "last_name": "O'NEILL",
        "phone": "(212) 555-0100",
        "address_line1": "1  Main   St",
        "address_line2": None,
        "city": "New York",
        "postcode": "2134",
        "state": "NY",
        "country": "USA",
        "date_of_birth": "1980-05-17",
        "created_at": pd.Timestamp("2025-01-01T12:00:00Z"),
        "updated_at": pd.Timestamp("2026-01-01T12:00:00Z"),
    }
    return {**row, **overrides}


# --------------------------------------------------------------------------- drift first
def test_renamed_required_column_fails_with_source_field_and_version():
    raw = _raw("support_tickets", [_ticket()]).rename(columns={"requester_id": "requester"})
    with pytest.raises(SchemaDriftError) as error:
        stage_tickets(raw, now=NOW)
    message = str(error.value)
    assert "support_tickets.requester_id" in message
    assert "requester" in message  # the likely new name
    assert "support mapping v1" in message


def test_retyped_column_fails_before_anything_is_staged():
    raw = _raw("support_tickets", [_ticket(created_at="last tuesday")] * 5)
    with pytest.raises(SchemaDriftError) as error:
        stage_tickets(raw, now=NOW)
    problem = error.value.problems[0]
    assert (problem.field, problem.kind, problem.expected) == ("created_at", "retyped", "datetime")


def test_one_drifted_source_stops_the_whole_contacts_table():
    good = _raw("storefront_customers", [_customer()])
    drifted = _raw("support_users", [{"id": 1, "active": True}])  # no updated_at, no name
    with pytest.raises(SchemaDriftError, match="support_users"):
        stage_contacts({"storefront_customers": good, "support_users": drifted}, now=NOW)


def test_additive_columns_are_kept_and_reported_not_fatal():
    raw = _raw("support_tickets", [_ticket()]).assign(sla_breached=True)
    staged = stage_tickets(raw, now=NOW)
    assert len(staged.frame) == 1
    assert staged.metadata()["added_columns"] == {"support_tickets": ["sla_breached"]}


# --------------------------------------------------------------------------- contacts
def test_storefront_customer_is_normalized_into_the_contract():
    staged = stage_contacts(
        {"storefront_customers": _raw("storefront_customers", [_customer()])}, now=NOW
    )
    row = staged.frame.iloc[0]
    assert list(staged.frame.columns) == list(CONTACTS.columns)
    assert (row.source, row.source_record_id) == ("storefront_customers", "1001")
    assert (row.first_name, row.last_name, row.full_name) == ("Ann", "O'Neill", "Ann O'Neill")
    assert (row.email, row.email_valid) == ("Ann.Lee@example.com", True)
    assert row.email_key == "ann.lee@example.com"
    assert (row.phone, row.phone_valid) == ("+12125550100", True)
    assert (row.country, row.postcode, row.address_line1) == ("US", "02134", "1 Main St")
    assert str(row.date_of_birth) == "1980-05-17"
    assert row.storefront_customer_id == "1001"  # the shop account is its own link key
    assert row.schema_version == schema_version()


def test_store_local_times_become_utc_across_dst():
    # CDC stores store-local wall times; 01:30 on the fall-back night is read as the first
    # (daylight) one, and winter/summer offsets differ by an hour.
    raw = _raw("storefront_customers", [_customer()])
    raw["updated_at"] = pd.to_datetime(
        pd.Series(["2025-11-02 01:30:00"])
    )  # naive New York time, as the storefront stores it
    raw["created_at"] = pd.to_datetime(pd.Series(["2025-01-15 09:00:00"]))
    row = stage_contacts({"storefront_customers": raw}, now=NOW).frame.iloc[0]
    assert row.updated_at == pd.Timestamp("2025-11-02T05:30:00Z")
    assert row.created_at == pd.Timestamp("2025-01-15T14:00:00Z")


def test_support_full_names_are_split_with_particles():
    users = _raw(
        "support_users",
        [
            {
                "id": 7,
                "name": "ludwig van beethoven",
                "email": "lvb@gmail.com",
                "phone": None,
                "external_id": "1001",
                "role": "end-user",
                "active": False,
                "created_at": pd.Timestamp("2025-01-01T00:00:00Z"),
                "updated_at": pd.Timestamp("2025-02-01T00:00:00Z"),
            }
        ],
    )
    row = stage_contacts({"support_users": users}, now=NOW).frame.iloc[0]
    assert (row.first_name, row.last_name) == ("Ludwig", "van Beethoven")
    assert row.full_name == "Ludwig van Beethoven"
    assert row.storefront_customer_id == "1001"  # Zendesk external_id links the shop account
    assert bool(row.is_deleted)  # inactive = deleted in Zendesk


def test_phones_without_country_code_use_the_source_region():
    contact = {
        "contact_ref": "PC-1",
        "First Name": "Jane",
        "Last Name": "Doe",
        "E-mail": "jane@example.co.uk",
        "Phone": "020 7123 4567",
        "Birth Date": "20/01/1997",
        "Street": "1 High St",
        "Town": "London",
        "Post Code": "sw1a1aa",
        "Country": None,
        "updated": pd.Timestamp("2026-01-01T00:00:00Z"),
    }
    row = stage_contacts({"file_contacts": _raw("file_contacts", [contact])}, now=NOW).frame.iloc[0]
    assert (row.phone, row.phone_valid) == ("+442071234567", True)  # files default to GB
    assert str(row.date_of_birth) == "1997-01-20"  # day first outside the US


def test_invalid_email_and_phone_are_kept_raw_and_flagged():
    raw = _raw(
        "storefront_customers",
        [_customer(email="bob@@x.com", phone="12", date_of_birth="2031-01-01")],
    )
    staged = stage_contacts({"storefront_customers": raw}, now=NOW)
    row = staged.frame.iloc[0]
    assert (row.email, row.email_valid) == ("bob@@x.com", False)
    assert pd.isna(row.email_key)  # no match key from an address that cannot receive mail
    assert (row.phone, row.phone_valid) == ("12", False)
    assert pd.isna(row.date_of_birth)  # an impossible birth date is dropped, the person kept
    assert staged.rejections == []


def test_tombstones_are_staged_as_deleted():
    raw = _raw("storefront_customers", [_customer()]).assign(_op="delete")
    row = stage_contacts({"storefront_customers": raw}, now=NOW).frame.iloc[0]
    assert bool(row.is_deleted)


def test_person_without_modification_time_is_quarantined_with_reason():
    raw = _raw("storefront_customers", [_customer(), _customer(id=1002, updated_at=pd.NaT)])
    staged = stage_contacts({"storefront_customers": raw}, now=NOW)
    assert staged.frame["source_record_id"].tolist() == ["1001"]
    [rejection] = staged.rejections
    assert rejection.source == "storefront_customers"
    assert rejection.reason == "staging: updated_at missing"
    assert rejection.payload["_source_id"] == "1002"


# --------------------------------------------------------------------------- orders
def _deal(**overrides) -> dict:
    row = {
        "id": "5001",
        "dealname": "Kitchen refit",
        "amount": 76.5,
        "deal_currency_code": "usd",
        "dealstage": "closedwon",
        "pipeline": "default",
        "closedate": pd.Timestamp("2026-03-01T12:00:00Z"),
        "createdate": pd.Timestamp("2026-02-01T12:00:00Z"),
        "hs_lastmodifieddate": pd.Timestamp("2026-03-02T12:00:00Z"),
        "contact_ids": ["51", "52"],
        "archived": False,
        "archived_at": pd.NaT,
    }
    return {**row, **overrides}


def test_only_won_deals_are_orders_of_their_first_contact():
    raw = _raw("crm_deals", [_deal(), _deal(id="5002", dealstage="closedlost")])
    assert raw["contact_ids"].iloc[0] == json.dumps(["51", "52"])  # as the REST loader stores it
    staged = stage_orders({"crm_deals": raw}, now=NOW)
    assert list(staged.frame.columns) == list(ORDERS.columns)
    row = staged.frame.iloc[0]
    assert len(staged.frame) == 1 and staged.skipped == {"crm_deals": 1}
    assert (row.order_id, row.customer_source, row.customer_record_id) == (
        "5001",
        "crm_contacts",
        "51",
    )
    assert (row.amount, row.currency, row.status) == (76.5, "USD", "closedwon")


def test_broken_orders_are_quarantined_with_every_reason():
    raw = _raw(
        "crm_deals",
        [
            _deal(id="1", amount="12,50"),
            _deal(id="2", amount="-5.0", closedate=pd.Timestamp("2030-01-01T00:00:00Z")),
            _deal(id="3", contact_ids=[], deal_currency_code="dollars"),
            # enough good rows that a few broken amounts are row problems, not a retyped column
            *(_deal(id=str(i)) for i in range(4, 14)),
        ],
    )
    staged = stage_orders({"crm_deals": raw}, now=NOW)
    assert staged.frame["order_id"].tolist() == [str(i) for i in range(4, 14)]
    reasons = {r.payload["_source_id"]: r.reason for r in staged.rejections}
    assert reasons["1"] == "staging: amount is not a number: 12,50"
    assert "order_ts in the future" in reasons["2"] and "amount is negative: -5.0" in reasons["2"]
    assert "no customer id" in reasons["3"] and "not an ISO 4217 code: DOLLARS" in reasons["3"]


def test_every_raw_row_is_staged_rejected_or_skipped():
    raws = world_raw_tables()
    staged = stage_orders({name: raws[name] for name in ORDER_SOURCES}, now=NOW)
    accounted = len(staged.frame) + len(staged.rejections) + sum(staged.skipped.values())
    assert accounted == staged.read == sum(len(raws[name]) for name in ORDER_SOURCES)


def test_world_broken_orders_are_exactly_the_quarantined_ones():
    world, raws = staging_world(), world_raw_tables()
    staged = stage_orders({name: raws[name] for name in ORDER_SOURCES}, now=world.as_of)
    rejected = {(r.source, str(r.payload["_source_id"])) for r in staged.rejections}
    truth = world.truth_records
    broken = truth[truth["broken_reason"].notna() & truth["source"].isin(ORDER_SOURCES)]
    won_or_other = {(s, i) for s, i in zip(broken["source"], broken["source_id"], strict=True)}
    skipped_deals = set(raws["crm_deals"].loc[raws["crm_deals"]["dealstage"] != "closedwon", "id"])
    expected = {(s, i) for s, i in won_or_other if not (s == "crm_deals" and i in skipped_deals)}
    assert rejected == expected


def test_storefront_order_times_round_trip_to_world_utc():
    world, raws = staging_world(), world_raw_tables()
    staged = stage_orders({"storefront_orders": raws["storefront_orders"]}, now=world.as_of)
    truth = world.tables["storefront_orders"].assign(order_id=lambda d: d["id"].astype(str))
    joined = staged.frame.merge(truth, on="order_id", suffixes=("", "_world"))
    assert len(joined) == len(staged.frame) > 0
    assert (joined["order_ts"] == joined["order_ts_world"]).all()


# --------------------------------------------------------------------------- other tables
def test_web_days_are_summed_per_customer_and_anonymous_visitors_kept():
    def day(user, client, sessions):
        return {
            "date": pd.Timestamp("2026-09-01").date(),
            "user_id": user,
            "client_id": client,
            "sessions": sessions,
            "page_views": 2 * sessions,
            "add_to_carts": 1,
            "purchases": 0,
            "revenue": 0.0,
        }

    raw = _raw("web_user_days", [day("7", "a", 1), day("7", "b", 2), day(None, "c", 5)])
    frame = stage_web_activity(raw, now=NOW).frame
    by_customer = frame.set_index(frame["customer_record_id"].fillna("anon"))
    assert by_customer.loc["7", "sessions"] == 3 and by_customer.loc["7", "page_views"] == 6
    assert by_customer.loc["anon", "sessions"] == 5
    assert str(by_customer.loc["7", "activity_date"]) == "2026-09-01"


def test_tickets_keep_good_and_bad_ratings_only():
    raw = _raw(
        "support_tickets",
        [_ticket(), _ticket(id=2, satisfaction_score="offered", status="deleted")],
    )
    frame = stage_tickets(raw, now=NOW).frame
    assert list(frame.columns) == list(TICKETS.columns)
    assert frame["satisfaction"].tolist()[0] == "good" and pd.isna(frame["satisfaction"][1])
    assert frame["is_deleted"].tolist() == [False, True]
    assert frame["requester_record_id"].tolist() == ["10", "10"]
    assert str(frame["created_at"].dtype) == UTC


def test_carts_count_items_value_and_converted_order():
    carts = _raw(
        "storefront_carts",
        [
            {
                "id": 1,
                "customer_id": 1001,
                "status": "converted",
                "created_at": pd.Timestamp("2026-09-01 10:00"),
                "updated_at": pd.Timestamp("2026-09-01 10:30"),
            }
        ],
    )
    items = _raw(
        "storefront_cart_items",
        [
            {"id": 1, "cart_id": 1, "sku": "A", "quantity": 2, "unit_price": 10.0,
             "added_at": pd.Timestamp("2026-09-01 10:01")},
            {"id": 2, "cart_id": 1, "sku": "B", "quantity": -1, "unit_price": 99.0,
             "added_at": pd.Timestamp("2026-09-01 10:02")},
        ],
    )  # fmt: skip
    orders = _raw(
        "storefront_orders",
        [
            {"id": 77, "customer_id": 1001, "cart_id": 1,
             "order_ts": pd.Timestamp("2026-09-01 10:30"), "amount": 20.0, "currency": "USD",
             "status": "completed", "updated_at": pd.Timestamp("2026-09-01 10:30")},
        ],
    )  # fmt: skip
    staged = stage_carts(carts, items, orders, now=NOW)
    row = staged.frame.iloc[0]
    assert (row["items"], row.cart_value, row.converted_order_id) == (2, 20.0, "77")
    assert row.created_at == pd.Timestamp("2026-09-01T14:00:00Z")  # EDT
    [bad_item] = staged.rejections
    assert bad_item.source == "storefront_cart_items"
    assert bad_item.reason == "staging: quantity is negative: -1.0"


def test_partner_files_with_loader_renamed_headers_still_map():
    """The file loader snake-cases delivered headers ("E-mail" -> e_mail): mapping is loose."""
    world, raws = staging_world(), world_raw_tables()
    raw = raws["file_contacts"]
    renamed = raw.rename(columns=lambda c: c if c.startswith("_") else c.lower().replace(" ", "_"))
    renamed = renamed.rename(columns={"e-mail": "e_mail"})
    by_vendor = stage_contacts({"file_contacts": raw}, now=world.as_of).frame
    by_loader = stage_contacts({"file_contacts": renamed}, now=world.as_of).frame
    pd.testing.assert_frame_equal(by_vendor, by_loader)
    assert by_loader["email"].notna().mean() > 0.5
