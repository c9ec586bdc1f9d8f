"""The sandbox world: deterministic, consistent, and hard enough that naive methods fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from profile_assets.sandbox.changes import MODIFIED_AT, generate_changes, latest_modification
from profile_assets.sandbox.file_drops import (
    FILE_TABLES,
    read_file_drop,
    sniff_encoding,
    write_file_drops,
)
from profile_assets.sandbox.hardness import (
    churn_baselines,
    email_pair_recall,
    identity_records,
    namesake_people,
    truth_of,
)
from profile_assets.sandbox.people import draw_population
from profile_assets.sandbox.pools import build_pools
from profile_assets.sandbox.world import (
    BREAKAGE,
    ID_COLUMNS,
    IDENTITY_TABLES,
    generate_world,
    load_world,
    save_world,
    write_ground_truth,
)


@pytest.fixture(scope="session")
def world():
    return generate_world(10_000, seed=7)


@pytest.fixture(scope="module")
def small_world():
    return generate_world(2_000, seed=11)


def _person_of(world, table: str) -> pd.Series:
    return pd.Series(truth_of(world, table), index=world.tables[table].index)


def _clean(world, table: str) -> pd.DataFrame:
    truth = world.truth_records
    broken = truth[(truth["source"] == table) & truth["broken_reason"].notna()]["source_id"]
    frame = world.tables[table]
    return frame[~frame[ID_COLUMNS.get(table, "id")].astype(str).isin(set(broken))]


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_the_same_world_and_another_seed_a_different_one(small_world):
    again = generate_world(2_000, seed=11)
    for name, frame in small_world.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], check_exact=True, obj=name)
    pd.testing.assert_frame_equal(small_world.truth_records, again.truth_records)
    pd.testing.assert_frame_equal(small_world.truth_labels, again.truth_labels)
    pd.testing.assert_frame_equal(small_world.people, again.people)
    other = generate_world(2_000, seed=12)
    assert not other.people["email"].equals(small_world.people["email"])
    assert not other.tables["storefront_orders"]["amount"].equals(
        small_world.tables["storefront_orders"]["amount"]
    )


# --- consistency ------------------------------------------------------------------------------


def test_truth_records_cover_every_source_row_exactly_once(world):
    truth = world.truth_records
    assert not truth.duplicated(["source", "source_id"]).any()
    for name, frame in world.tables.items():
        mine = truth[truth["source"] == name]
        if name == "web_user_days":
            assert mine.empty
            continue
        ids = frame[ID_COLUMNS.get(name, "id")].astype(str)
        assert len(mine) == len(frame) and set(mine["source_id"]) == set(ids), name


def test_foreign_keys_point_at_existing_rows(world):
    t = world.tables
    contact_ids = set(t["crm_contacts"]["id"])
    for ids in _clean(world, "crm_deals")["contact_ids"]:
        assert ids and set(ids) <= contact_ids
    assert _clean(world, "support_tickets")["requester_id"].isin(t["support_users"]["id"]).all()
    customers = t["storefront_customers"]["id"]
    assert _clean(world, "storefront_orders")["customer_id"].isin(customers).all()
    carts = t["storefront_carts"]
    assert carts["customer_id"].dropna().isin(customers).all()
    assert t["storefront_cart_items"]["cart_id"].isin(carts["id"]).all()
    assert t["storefront_order_items"]["order_id"].isin(t["storefront_orders"]["id"]).all()
    users = t["web_user_days"]["user_id"].dropna()
    assert users.isin(customers.astype(str)).all()
    orders = _clean(world, "file_orders")
    assert orders["contact_ref"].isin(t["file_contacts"]["contact_ref"]).all()
    # a converted cart has exactly one order, and the order belongs to the cart's customer
    with_cart = t["storefront_orders"].dropna(subset=["cart_id"])
    merged = with_cart.merge(carts, left_on="cart_id", right_on="id", suffixes=("", "_cart"))
    assert (merged["status_cart"] == "converted").all()
    assert (merged["customer_id"] == merged["customer_id_cart"]).all()


def test_timestamps_are_utc_aware_and_not_after_as_of_except_broken_dates(world):
    for name, column in MODIFIED_AT.items():
        values = world.tables[name][column]
        assert str(values.dtype) == "datetime64[ns, UTC]", (name, column)
        assert values.max() <= world.as_of
    assert world.cutoff == world.as_of - pd.Timedelta(days=90)


def test_sources_overlap_realistically(world):
    people = world.people
    assert 0.65 < people["in_storefront"].mean() < 0.75
    assert 0.55 < people["in_crm"].mean() < 0.65
    assert 0.25 < people["in_support"].mean() < 0.35
    shop = pd.Series(
        truth_of(world, "storefront_customers"),
        index=world.tables["storefront_customers"]["id"].astype(str).to_numpy(),
    )
    web_users = world.tables["web_user_days"]["user_id"]
    assert web_users.isna().mean() > 0.05  # anonymous visitors and logged-out days
    logged_in = shop.reindex(web_users.dropna().unique()).nunique()
    assert 0.5 < logged_in / people["in_storefront"].sum() < 1.0


def test_phone_formats_and_international_numbers_vary(world):
    phones = world.tables["storefront_customers"]["phone"].dropna()
    assert phones.str.match(r"^\(\d{3}\) \d{3}-\d{4}$").any()
    assert phones.str.match(r"^\+1 \d{3}-\d{3}-\d{4}$").any()
    assert phones.str.match(r"^\d{10}$").any()
    assert phones.str.startswith("+44").any() and phones.str.startswith("+49").any()


# --- hard enough ------------------------------------------------------------------------------


def test_exact_email_matching_finds_at_most_70_percent_of_duplicate_pairs(world):
    pairs = email_pair_recall(world)
    assert pairs.true_pairs > 5_000
    assert pairs.recall <= 0.70


def test_within_source_duplicates_and_shared_mailboxes_exist(world):
    for table in IDENTITY_TABLES:
        people = _person_of(world, table)
        assert people.duplicated().mean() > 0.02, table
    records = identity_records(world).dropna()
    shared = records.groupby("email")["person"].nunique()
    assert (shared > 1).sum() >= 10
    assert shared.index[shared > 1].str.match(r"^(family|info|orders|office)").any()


def test_namesakes_exist_and_grow_with_world_size(world):
    small = namesake_people(world.people["first_name"], world.people["last_name"])
    pools = build_pools()
    big = draw_population(np.random.default_rng(7), 40_000, pools)
    large = namesake_people(pd.Series(pools.first_names[big.first_idx]), pd.Series(big.last))
    assert small > 100
    assert large > 2 * small


def test_changed_names_and_moves_leave_stale_records(world):
    people = world.people
    married = people.dropna(subset=["previous_last_name"])
    assert len(married) > 100
    contacts = world.tables["crm_contacts"].assign(person=_person_of(world, "crm_contacts"))
    stale = contacts.merge(married, left_on="person", right_on="person_id")
    assert (stale["lastname"] == stale["previous_last_name"]).any()
    assert (stale["lastname"] == stale["last_name"]).any()
    assert people["moved_at"].notna().mean() > 0.08


def test_broken_records_are_about_one_percent_and_really_broken(world):
    truth = world.truth_records
    in_scope = truth[truth["source"].isin(list(BREAKAGE))]
    share = in_scope["broken_reason"].notna().mean()
    assert 0.005 < share < 0.02
    deals = world.tables["crm_deals"].assign(reason=_broken_reasons(world, "crm_deals"))
    wrong_type = deals[deals["reason"] == "amount_wrong_type"]["amount"]
    assert all(isinstance(v, str) and "," in v for v in wrong_type)
    assert (deals[deals["reason"] == "negative_amount"]["amount"].astype(float) < 0).all()
    assert (deals[deals["reason"] == "future_date"]["closedate"] > world.as_of).all()
    customers = world.tables["storefront_customers"]
    bad_email = customers[_broken_reasons(world, "storefront_customers") == "malformed_email"]
    assert len(bad_email) > 0
    assert not bad_email["email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+").any()
    orders = world.tables["file_orders"]
    assert orders[_broken_reasons(world, "file_orders") == "missing_id"]["contact_ref"].isna().all()


def _broken_reasons(world, table: str) -> np.ndarray:
    return truth_of(world, table, "broken_reason")


def test_recency_alone_is_clearly_beaten_by_a_few_behaviour_features(world):
    churn = churn_baselines(world)
    assert churn.people > 2_000 and 0.03 < churn.churn_rate < 0.3
    assert churn.recency_auc > 0.55  # recency carries signal ...
    assert churn.model_auc - churn.recency_auc >= 0.05  # ... but behaviour carries clearly more


def test_purchases_after_the_cutoff_are_labelled(world):
    labels = world.truth_labels
    assert 0.05 < labels["purchased"].mean() < 0.5
    orders = _clean(world, "storefront_orders")
    recent = orders[(orders["order_ts"] > world.cutoff) & (orders["status"] != "cancelled")]
    shop = pd.Series(
        _person_of(world, "storefront_customers").to_numpy(),
        index=world.tables["storefront_customers"]["id"].to_numpy(),
    )
    buyers = set(shop.reindex(recent["customer_id"]).astype(np.int64))
    assert labels.set_index("person_id").loc[sorted(buyers), "purchased"].all()


# --- changes, persistence, file drops ---------------------------------------------------------


def test_changes_create_update_and_delete_after_every_existing_timestamp(tmp_path):
    world = generate_world(2_000, seed=5)
    before = latest_modification(world)
    sizes = {name: len(frame) for name, frame in world.tables.items()}
    old_ids = {name: set(world.tables[name]["id"]) for name in MODIFIED_AT if name[:4] != "file"}
    changes = generate_changes(world, 400, seed=1)
    assert changes.upserts and changes.deletes
    created = updated = 0
    for name, rows in changes.upserts.items():
        assert list(rows.columns) == list(world.tables[name].columns)
        assert (rows[MODIFIED_AT[name]] > before).all() if name in MODIFIED_AT else True
        known = rows["id"].isin(old_ids.get(name, set()))
        created += int((~known).sum())
        updated += int(known.sum())
        assert rows["id"].isin(world.tables[name]["id"]).all()  # applied to the world
    assert created > 50 and updated > 10
    assert sum(len(ids) for ids in changes.deletes.values()) > 5
    assert len(world.tables["storefront_orders"]) > sizes["storefront_orders"]
    contacts = world.tables["crm_contacts"].set_index("id")
    archived = changes.deletes.get("crm_contacts", [])
    assert contacts.loc[archived, "archived"].all()
    for table in ("storefront_carts", "storefront_cart_items"):
        gone = set(map(int, changes.deletes.get(table, [])))
        assert not gone & set(world.tables[table]["id"])
    truth = world.truth_records
    for name, frame in world.tables.items():
        if name != "web_user_days":
            assert (truth["source"] == name).sum() == len(frame), name
    assert latest_modification(world) > before
    save_world(world, tmp_path)  # the changed world still persists exactly
    for name, frame in load_world(tmp_path).tables.items():
        pd.testing.assert_frame_equal(frame, world.tables[name], obj=name)


def test_save_and_load_round_trip(small_world, tmp_path):
    save_world(small_world, tmp_path / "world")
    loaded = load_world(tmp_path / "world")
    assert (loaded.seed, loaded.as_of, loaded.cutoff) == (
        small_world.seed,
        small_world.as_of,
        small_world.cutoff,
    )
    for name, frame in small_world.tables.items():
        pd.testing.assert_frame_equal(loaded.tables[name], frame, obj=name)
    pd.testing.assert_frame_equal(loaded.truth_records, small_world.truth_records)
    pd.testing.assert_frame_equal(loaded.truth_labels, small_world.truth_labels)
    pd.testing.assert_frame_equal(loaded.people, small_world.people)
    write_ground_truth(small_world, tmp_path / "truth")
    labels = pd.read_parquet(tmp_path / "truth" / "truth_labels.parquet")
    pd.testing.assert_frame_equal(labels, small_world.truth_labels)


def test_file_drops_are_written_in_three_formats_and_parse_back(small_world, tmp_path):
    paths = write_file_drops(small_world, tmp_path)
    suffixes = {p.suffix for p in paths}
    assert suffixes == {".csv", ".jsonl", ".parquet"}
    for table in ("file_contacts", "file_orders"):
        parts = [read_file_drop(p) for p in sorted(paths) if p.name.startswith(table)]
        frame = pd.concat(parts, ignore_index=True)
        expected = small_world.tables[table]
        key = ID_COLUMNS[table]
        assert sorted(frame[key]) == sorted(expected[key])
        merged = frame.set_index(key).loc[expected[key]]
        text_columns = [c for c in expected.columns if expected[c].dtype == object and c != key]
        for column in text_columns:
            want = expected[column].map(lambda v: None if v is None else str(v))
            got = merged[column].map(lambda v: None if v is None or v != v else str(v))
            assert list(got) == list(want), (table, column)
        when = FILE_TABLES[table]
        local = expected[when].dt.tz_convert("Europe/London").dt.tz_localize(None)
        assert (pd.to_datetime(merged[when].astype(str)).to_numpy() == local.to_numpy()).all()
    csv_encodings = {sniff_encoding(p.read_bytes()) for p in paths if p.suffix == ".csv"}
    assert len(csv_encodings) >= 3
