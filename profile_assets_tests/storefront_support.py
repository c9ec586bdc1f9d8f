"""Shared by the storefront and CDC tests: a small world and a running, loaded storefront."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profile_assets.sandbox import storefront as sf


@dataclass
class TinyWorld:
    """Just the storefront tables of the world contract (until world.py is importable)."""

    tables: dict[str, pd.DataFrame]


@dataclass
class TinyChangeSet:
    upserts: dict[str, pd.DataFrame] = field(default_factory=dict)
    deletes: dict[str, list[str]] = field(default_factory=dict)


def _times(rng: np.random.Generator, n: int) -> pd.Series:
    start = pd.Timestamp("2025-01-01", tz="UTC")
    return pd.Series(start + pd.to_timedelta(rng.integers(0, 600 * 86_400_000_000, n), "us"))


def tiny_world(n: int = 300, seed: int = 3) -> TinyWorld:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    customers = pd.DataFrame(
        {
            "id": ids,
            "email": [f"person{i}@example.com" if i % 17 else None for i in ids],
            "first_name": [f"First{i}" for i in ids],
            "last_name": [f"Last{i}" for i in ids],
            "phone": [f"+1 212 555 {i:04d}" if i % 3 else "" for i in ids],
            "address_line1": [f"{i} Main St" for i in ids],
            "address_line2": [None if i % 2 else "Apt 1" for i in ids],
            "city": "New York",
            "postcode": "10001",
            "state": "NY",
            "country": "US",
            "date_of_birth": [None if i % 5 == 0 else pd.Timestamp("1970-01-01").date() for i in ids],
            "created_at": _times(rng, n),
            "updated_at": _times(rng, n),
        }
    )
    carts = pd.DataFrame(
        {
            "id": ids,
            "customer_id": pd.array([None if i % 7 == 0 else int(i) for i in ids], "Int64"),
            "status": rng.choice(["open", "converted", "abandoned"], n),
            "created_at": _times(rng, n),
            "updated_at": _times(rng, n),
        }
    )
    items = pd.DataFrame(
        {
            "id": np.arange(1, 2 * n + 1),
            "cart_id": np.repeat(ids, 2),
            "sku": [f"SKU-{i % 40}" for i in range(2 * n)],
            "quantity": rng.integers(1, 4, 2 * n),
            "unit_price": rng.integers(100, 9_999, 2 * n) / 100,
            "added_at": _times(rng, 2 * n),
        }
    )
    orders = pd.DataFrame(
        {
            "id": ids,
            "customer_id": ids,
            "cart_id": pd.array([None if i % 4 == 0 else int(i) for i in ids], "Int64"),
            "order_ts": _times(rng, n),
            "amount": [-5.0 if i == 9 else round(i * 1.25, 2) for i in ids],
            "currency": "USD",
            "status": "paid",
            "updated_at": _times(rng, n),
        }
    )
    order_items = pd.DataFrame(
        {
            "id": ids,
            "order_id": ids,
            "sku": "SKU-1",
            "quantity": 1,
            "unit_price": [round(i * 1.25, 2) for i in ids],
        }
    )
    return TinyWorld(
        tables={
            "storefront_customers": customers,
            "storefront_carts": carts,
            "storefront_cart_items": items,
            "storefront_orders": orders,
            "storefront_order_items": order_items,
        }
    )


def tiny_changes(world: TinyWorld, seed: int, n: int = 20) -> TinyChangeSet:
    """Update n customers and carts, add n carts with items, delete n cart items; the world
    is updated in place, as the world contract's generate_changes does."""
    rng = np.random.default_rng(seed)
    now = pd.Timestamp("2026-09-30", tz="UTC") + pd.Timedelta(seconds=int(seed))
    tables = world.tables
    customers = tables["storefront_customers"].sample(n, random_state=seed).copy()
    customers["email"] = [f"changed{seed}-{i}@example.com" for i in customers["id"]]
    customers["updated_at"] = now
    carts = tables["storefront_carts"]
    new_ids = np.arange(carts["id"].max() + 1, carts["id"].max() + 1 + n)
    new_carts = pd.DataFrame(
        {
            "id": new_ids,
            "customer_id": pd.array(rng.integers(1, 50, n), "Int64"),
            "status": "open",
            "created_at": now,
            "updated_at": now,
        }
    )
    items = tables["storefront_cart_items"]
    new_items = pd.DataFrame(
        {
            "id": np.arange(items["id"].max() + 1, items["id"].max() + 1 + n),
            "cart_id": new_ids,
            "sku": "SKU-NEW",
            "quantity": 1,
            "unit_price": 9.99,
            "added_at": now,
        }
    )
    deleted = [str(i) for i in items["id"].sample(n, random_state=seed)]
    changes = TinyChangeSet(
        upserts={
            "storefront_customers": customers,
            "storefront_carts": new_carts,
            "storefront_cart_items": new_items,
        },
        deletes={"storefront_cart_items": deleted},
    )
    _apply_to_world(world, changes)
    return changes


def _apply_to_world(world: TinyWorld, changes: TinyChangeSet) -> None:
    for name, rows in changes.upserts.items():
        kept = world.tables[name][~world.tables[name]["id"].isin(rows["id"])]
        world.tables[name] = pd.concat([kept, rows], ignore_index=True)
    for name, ids in changes.deletes.items():
        table = world.tables[name]
        world.tables[name] = table[~table["id"].astype(str).isin(ids)].reset_index(drop=True)


def start_loaded_storefront(data_dir, world) -> sf.StorefrontServer:
    server = sf.start_storefront(data_dir)
    with closing(server.connect()) as conn:
        sf.create_schema(conn)
        sf.load_world(conn, world)
    return server
