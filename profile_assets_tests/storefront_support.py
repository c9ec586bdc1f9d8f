"""Shared by the storefront and CDC tests: a small world and a loaded storefront."""

from __future__ import annotations

import copy
from contextlib import closing
from functools import lru_cache

from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.world import World, generate_world


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


def start_loaded_storefront(data_dir, world) -> sf.StorefrontServer:
    server = sf.start_storefront(data_dir)
    with closing(server.connect()) as conn:
        sf.create_schema(conn)
        sf.load_world(conn, world)
    return server
