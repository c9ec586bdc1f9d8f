"""The unified schema in `schemas/`: Pandera schemas built from it, drift detection, and column
name matching for hand-made files."""

import datetime as dt

import pandas as pd
import pandera.pandas as pa
import pytest

from profile_assets.contracts.columns import match_columns, to_unified_columns
from profile_assets.contracts.drift import SchemaDriftError, detect_drift
from profile_assets.contracts.pandera_backend import build_schema
from profile_assets.contracts.schema import load_source, load_unified, source_tables
from profile_assets.sandbox.world import generate_world

CRM = "crm mapping v1, unified schema v1.0"


@pytest.fixture(scope="module")
def world():
    return generate_world(1500, seed=11)


# --------------------------------------------------------------------------- the contract
def test_every_mapped_column_names_a_field_of_its_entity():
    unified = load_unified()
    for table in source_tables():
        spec = load_source(table)
        if spec.entity is None:
            assert not spec.canonical_names, table
            continue
        known = set(unified.entities[spec.entity].fields) | set(unified.record_fields)
        assert set(spec.canonical_names.values()) <= known, table
        assert spec.unified_version == unified.version, table


def test_every_world_table_fits_its_mapping(world):
    assert set(world.tables) <= set(source_tables())
    for name, table in world.tables.items():
        report = detect_drift(name, table)
        assert report.added == [], name
        assert report.missing_optional == [], name


def test_sources_declare_their_phone_region_and_time_zone():
    assert (load_source("file_contacts").default_region, load_source("file_contacts").timezone) == (
        "GB",
        "Europe/London",
    )
    assert load_source("storefront_orders").timezone == "America/New_York"
    assert load_source("web_user_days").timezone == "America/Los_Angeles"


# --------------------------------------------------------------------------- pandera
def person_rows(**overrides) -> pd.DataFrame:
    row = {
        "source": "crm_contacts",
        "source_id": "51",
        "schema_version": "1.0",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "full_name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+442079460958",
        "date_of_birth": dt.date(1985, 12, 10),
        "address_line1": "12 St James's Square",
        "address_line2": None,
        "city": "London",
        "postcode": "SW1Y 4JH",
        "state": None,
        "country": "GB",
        "email_key": "ada@example.com",  # staging's extra columns are allowed
    }
    second = {**row, "source_id": "52", "date_of_birth": dt.date(1990, 1, 1)}
    frame = pd.DataFrame([row, second])
    for column, value in overrides.items():
        frame.loc[1, column] = value
    return frame


def failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> set[tuple[str, str]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return set(zip(cases["column"].astype(str), cases["check"].astype(str), strict=True))
    return set()


def test_person_schema_accepts_a_clean_staging_frame_with_extra_columns():
    schema = build_schema("person")
    assert schema.metadata == {"schema_version": "1.0"}
    assert failures(schema, person_rows()) == set()


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        ("phone", "020 7946 0958", "str_matches"),
        ("country", "GBR", "str_matches"),
        ("country", "gb", "str_matches"),
        ("date_of_birth", dt.date(2999, 1, 1), "not_in_future"),
        ("date_of_birth", dt.date(1815, 12, 10), "greater_than_or_equal_to(1900-01-01)"),
        ("source_id", "51", "unique"),
        ("source", None, "not_nullable"),
    ],
)
def test_person_schema_flags_the_row_that_breaks_a_rule(column, value, check):
    found = failures(build_schema("person"), person_rows(**{column: value}))
    assert any(col == column and check in name for col, name in found), found


def order_rows(order_ts) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["storefront_orders"] * 2,
            "source_id": ["1", "2"],
            "schema_version": ["1.0"] * 2,
            "customer_id": ["7", "7"],
            "order_id": ["1", "2"],
            "order_ts": order_ts,
            "amount": [12.5, 0.0],
            "currency": ["USD", "EUR"],
        }
    )


def test_order_timestamps_must_be_utc_aware_in_any_resolution():
    schema = build_schema("order")
    aware = pd.to_datetime(["2026-01-01T10:00Z", "2026-02-01T10:00Z"])
    assert failures(schema, order_rows(aware.as_unit("us"))) == set()
    naive = order_rows(aware.tz_localize(None))
    assert ("order_ts", "utc_timestamp") in failures(schema, naive)


def test_order_amounts_must_be_numbers_and_not_negative():
    frame = order_rows(pd.to_datetime(["2026-01-01T10:00Z"] * 2))
    frame["amount"] = [-5.0, 3.0]
    assert ("amount", "greater_than_or_equal_to(0)") in failures(build_schema("order"), frame)


def test_every_entity_builds_a_schema_carrying_the_record_fields():
    for entity in load_unified().entities:
        columns = build_schema(entity).columns
        assert {"source", "source_id", "schema_version"} <= set(columns), entity


# --------------------------------------------------------------------------- drift
def test_clean_extract_gives_a_report_with_its_schema_version(world):
    report = detect_drift("crm_contacts", world.tables["crm_contacts"])
    assert report.schema_version == CRM
    assert report.to_metadata()["schema_version"] == CRM


def test_additive_column_is_reported_not_fatal(world):
    deals = world.tables["crm_deals"].assign(hs_forecast_probability=0.4)
    report = detect_drift("crm_deals", deals)
    assert report.added == ["hs_forecast_probability"]


def test_missing_optional_column_is_reported_not_fatal(world):
    report = detect_drift("crm_contacts", world.tables["crm_contacts"].drop(columns=["state"]))
    assert report.missing_optional == ["state"]


def drift_error(table: str, frame: pd.DataFrame) -> SchemaDriftError:
    with pytest.raises(SchemaDriftError) as caught:
        detect_drift(table, frame)
    return caught.value


def test_missing_required_column_names_source_field_types_and_version(world):
    error = drift_error("crm_contacts", world.tables["crm_contacts"].drop(columns=["email"]))
    message = str(error)
    assert error.source == "crm_contacts"
    assert error.schema_version == CRM
    assert "crm_contacts.email: required column missing" in message
    assert "expected type string, found no such column" in message
    assert CRM in message
    assert [(p.field, p.kind) for p in error.problems] == [("email", "missing")]


def test_renamed_required_column_names_its_probable_new_name(world):
    contacts = world.tables["crm_contacts"].rename(columns={"email": "email_address"})
    error = drift_error("crm_contacts", contacts)
    assert "crm_contacts.email: missing, probably renamed to 'email_address'" in str(error)
    assert error.problems[0].renamed_to == "email_address"


def test_retyped_column_names_expected_and_found_types(world):
    orders = world.tables["storefront_orders"].copy()
    orders["amount"] = "USD " + orders["amount"].astype(str)
    error = drift_error("storefront_orders", orders)
    assert str(error.problems[0]) == (
        "storefront_orders.amount: retyped (expected type float, found string; "
        "storefront mapping v1, unified schema v1.0)"
    )


def test_timestamps_turned_into_free_text_are_a_retype(world):
    tickets = world.tables["support_tickets"].assign(updated_at="last tuesday")
    error = drift_error("support_tickets", tickets)
    assert [(p.field, p.expected, p.found) for p in error.problems] == [
        ("updated_at", "datetime", "string")
    ]


def test_a_few_broken_values_are_row_problems_not_drift(world):
    deals = world.tables["crm_deals"].copy()
    deals["amount"] = deals["amount"].astype(object)
    deals.loc[deals.index[:3], "amount"] = ["12,50", "n/a", -5.0]
    detect_drift("crm_deals", deals)  # no raise: quarantine handles these rows


def test_ids_may_arrive_as_strings_or_numbers_and_timestamps_as_iso_text(world):
    users = world.tables["support_users"].copy()
    users["id"] = users["id"].astype(str)
    users["updated_at"] = users["updated_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    detect_drift("support_users", users)


def test_every_problem_is_listed_in_one_error(world):
    contacts = world.tables["crm_contacts"].drop(columns=["id"]).assign(lastmodifieddate=True)
    error = drift_error("crm_contacts", contacts)
    assert {(p.field, p.kind) for p in error.problems} == {
        ("id", "missing"),
        ("lastmodifieddate", "retyped"),
    }
    assert "expected type datetime, found boolean" in str(error)


def test_file_drop_headers_match_loosely(world):
    contacts = world.tables["file_contacts"].rename(
        columns={"E-mail": "email", "First Name": "first_name", "Post Code": "POSTCODE"}
    )
    report = detect_drift("file_contacts", contacts)
    assert report.added == []
    assert report.column_map["email"] == "E-mail"


def test_to_unified_columns_renames_mapped_columns_and_keeps_the_rest(world):
    frame, report = to_unified_columns("file_contacts", world.tables["file_contacts"])
    assert {"source_id", "first_name", "email", "postcode", "date_of_birth"} <= set(frame.columns)
    assert "updated" in frame.columns  # unmapped vendor column, staging still reads it
    assert report.schema_version == "files mapping v1, unified schema v1.0"


# --------------------------------------------------------------------------- column names
def test_match_columns_recognises_spelling_case_and_spacing_variants():
    columns = ["E-mail", "First Name", "post code", "SURNAME", "Birth Date", "Tel", "Town", "id"]
    assert match_columns(columns) == {
        "E-mail": "email",
        "First Name": "first_name",
        "post code": "postcode",
        "SURNAME": "last_name",
        "Birth Date": "date_of_birth",
        "Tel": "phone",
        "Town": "city",
    }


def test_match_columns_for_orders():
    assert match_columns(["order_ref", "Contact Ref", "Order Date", "Total", "CCY"], "order") == {
        "order_ref": "order_id",
        "Contact Ref": "customer_id",
        "Order Date": "order_ts",
        "Total": "amount",
        "CCY": "currency",
    }


def test_two_columns_naming_one_field_is_an_error():
    with pytest.raises(ValueError, match="'email' and 'E-mail' both name 'email'"):
        match_columns(["email", "E-mail"])
