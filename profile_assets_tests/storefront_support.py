"""Shared by the storefront and CDC tests: a small world, changes, a loaded storefront."""

from __future__ import annotations

import copy
from contextlib import closing
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.world import World, generate_world


@dataclass
class StorefrontChangeSet:
    """The storefront part of a world ChangeSet (same fields)."""

    upserts: dict[str, pd.DataFrame] = field(default_factory=dict)
    deletes: dict[str, list[str]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _generated_world() -> World:
    return generate_world(2000, seed=7)


def small_world() -> World:
    """A 2,000-person world, generated once per session; each caller gets its own copy
    because tests mutate it. One customer gets an empty phone, so that loads prove an
    empty string and NULL stay apart."""
    world = copy.deepcopy(_generated_world())
    customers = world.tables["storefront_customers"]
    customers.loc[customers.index[0], "phone"] = ""
    return world


def storefront_changes(world: World, seed: int, n: int = 20) -> StorefrontChangeSet:
    """Update n customers, add n carts with an item each, delete n cart items; the world is
    updated in place, as the world contract's generate_changes does."""
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
    changes = StorefrontChangeSet(
        upserts={
            "storefront_customers": customers,
            "storefront_carts": new_carts,
            "storefront_cart_items": new_items,
        },
        deletes={"storefront_cart_items": deleted},
    )
    _apply_to_world(world, changes)
    return changes


def _apply_to_world(world: World, changes: StorefrontChangeSet) -> None:
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
