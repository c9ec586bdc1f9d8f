"""Fixtures shared across test modules."""

import pytest

from profile_assets_tests.storefront_support import small_world, start_loaded_storefront


@pytest.fixture(scope="module")
def storefront_world():
    """A 2,000-person world per module (tests mutate it)."""
    return small_world()


@pytest.fixture(scope="module")
def storefront_server(tmp_path_factory, storefront_world):
    """A real Postgres from the pip package, loaded with the module's world."""
    server = start_loaded_storefront(tmp_path_factory.mktemp("storefront"), storefront_world)
    yield server
    server.stop()
