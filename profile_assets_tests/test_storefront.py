"""The storefront sandbox is a real Postgres from the pip package, holding the world."""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest

from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.changes import ChangeSet, generate_changes


def _query(storefront_server: sf.StorefrontServer, sql: str, params=None) -> list[tuple]:
    with closing(psycopg2.connect(storefront_server.dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_postgres_from_the_pip_package_serves_tcp_with_logical_wal(storefront_server):
    assert storefront_server.host == "127.0.0.1"
    assert _query(storefront_server, "SHOW wal_level") == [("logical",)]
    assert _query(storefront_server, "SELECT current_user, current_database()") == [
        ("storefront", "storefront")
    ]
    version = _query(storefront_server, "SHOW server_version_num")[0][0]
    assert int(version) >= 160000


def test_a_wrong_password_is_refused(storefront_server):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            storefront_server.dsn.replace(storefront_server.password, "not-the-password")
        )


def test_starting_again_reuses_the_running_server_and_its_data(storefront_server, storefront_world):
    again = sf.start_storefront(storefront_server.data_dir)
    assert (again.port, again.password) == (storefront_server.port, storefront_server.password)
    assert _query(again, "SELECT COUNT(*) FROM customers")[0][0] > 0


def test_every_storefront_table_holds_the_worlds_rows(storefront_server, storefront_world):
    with closing(storefront_server.connect()) as conn:
        counts = sf.row_counts(conn)
    for table in sf.TABLES:
        assert counts[table.name] == len(storefront_world.tables[table.world_name]), table.name


def test_a_customer_row_round_trips_with_store_local_naive_timestamps(
    storefront_server, storefront_world
):
    customers = storefront_world.tables["storefront_customers"]
    row = customers.loc[customers["address_line2"].notna() & customers["email"].notna()].iloc[0]
    stored = _query(storefront_server, "SELECT * FROM customers WHERE id = %s", [int(row["id"])])[0]
    stored = dict(zip(sf.TABLES[0].column_names, stored, strict=True))
    local = row["updated_at"].tz_convert("America/New_York").tz_localize(None)
    assert stored["updated_at"] == local.to_pydatetime()
    assert stored["updated_at"].tzinfo is None
    for column in ("email", "first_name", "phone", "address_line2", "date_of_birth"):
        assert stored[column] == row[column], column


def test_timestamps_are_stored_as_timestamp_without_time_zone(storefront_server):
    types = _query(
        storefront_server,
        "SELECT DISTINCT data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name IN ('created_at', 'order_ts', 'added_at')",
    )
    assert types == [("timestamp without time zone",)]


def test_nulls_and_empty_strings_stay_distinct_through_copy(storefront_server, storefront_world):
    customers = storefront_world.tables["storefront_customers"]
    empty_phone = int(customers.loc[customers["phone"] == "", "id"].iloc[0])
    no_line2 = int(customers.loc[customers["address_line2"].isna(), "id"].iloc[0])
    assert _query(
        storefront_server, "SELECT phone FROM customers WHERE id = %s", [empty_phone]
    ) == [("",)]
    assert _query(
        storefront_server, "SELECT address_line2 FROM customers WHERE id = %s", [no_line2]
    ) == [(None,)]


def test_world_mutations_show_up_as_committed_transactions(storefront_server, storefront_world):
    changes = generate_changes(storefront_world, 200, seed=11)
    with closing(storefront_server.connect()) as conn:
        sf.apply_changes(conn, changes)
        counts = sf.row_counts(conn)
    for table in sf.TABLES:
        assert counts[table.name] == len(storefront_world.tables[table.world_name]), table.name
    customers = changes.upserts["storefront_customers"]
    ids = [int(i) for i in customers["id"]]
    stored = dict(
        _query(storefront_server, "SELECT id, email FROM customers WHERE id = ANY(%s)", [ids])
    )
    assert stored == dict(zip(customers["id"], customers["email"], strict=True))
    orders = changes.upserts["storefront_orders"]
    latest = orders.loc[orders["updated_at"].idxmax()]
    expected = latest["updated_at"].tz_convert(sf.STORE_TIMEZONE).tz_localize(None)
    assert _query(
        storefront_server, "SELECT updated_at FROM orders WHERE id = %s", [int(latest["id"])]
    ) == [(expected.to_pydatetime(),)]


def test_hard_deletes_remove_rows_in_one_transaction(storefront_server):
    ids = [
        row[0]
        for row in _query(storefront_server, "SELECT id FROM order_items ORDER BY id LIMIT 3")
    ]
    deletes = ChangeSet(upserts={}, deletes={"storefront_order_items": [str(i) for i in ids]})
    with closing(storefront_server.connect()) as conn:
        written = sf.apply_changes(conn, deletes)
    assert written["order_items"] == 3
    assert _query(
        storefront_server, "SELECT COUNT(*) FROM order_items WHERE id = ANY(%s)", [ids]
    ) == [(0,)]
