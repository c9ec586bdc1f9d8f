"""`profile-assets sandbox up|status|mutate|down` manage one real background process."""

import json
import os
import subprocess
import sys

import httpx
import psycopg2
import pytest

CLI = [sys.executable, "-m", "profile_assets.cli"]


def _cli(home, *args, check=True):
    env = {**os.environ, "PROFILE_ASSETS_HOME": str(home)}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def sandbox_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    _cli(home, "sandbox", "up", "--people", "300", "--seed", "3")
    yield home
    _cli(home, "sandbox", "down")


def _settings(home):
    return json.loads(_cli(home, "sandbox", "status", "--json").stdout)


def test_status_prints_connector_settings_under_env_var_names(sandbox_home):
    settings = _settings(sandbox_home)
    for name in ("HUBSPOT_BASE_URL", "HUBSPOT_ACCESS_TOKEN", "ZENDESK_BASE_URL", "STOREFRONT_DSN"):
        assert settings[name], name


def test_sandbox_serves_the_world_over_http_and_postgres(sandbox_home):
    settings = _settings(sandbox_home)
    response = httpx.get(
        f"{settings['HUBSPOT_BASE_URL']}/crm/v3/objects/contacts",
        params={"limit": 5},
        headers={"Authorization": f"Bearer {settings['HUBSPOT_ACCESS_TOKEN']}"},
    )
    assert response.status_code == 200 and len(response.json()["results"]) == 5
    with psycopg2.connect(settings["STOREFRONT_DSN"]) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers")
        assert cur.fetchone()[0] > 100


def test_mutate_changes_postgres_through_the_control_endpoint(sandbox_home):
    dsn = _settings(sandbox_home)["STOREFRONT_DSN"]

    def newest_update():
        with psycopg2.connect(dsn) as con, con.cursor() as cur:
            cur.execute("SELECT max(updated_at) FROM customers")
            return cur.fetchone()[0]

    before = newest_update()
    _cli(sandbox_home, "sandbox", "mutate", "--people", "20")
    assert newest_update() > before


def test_down_stops_exactly_what_up_started(tmp_path):
    _cli(tmp_path, "sandbox", "up", "--people", "100")
    state = json.loads((tmp_path / "sandbox" / "state.json").read_text())
    pid, dsn = state["pid"], state["env"]["STOREFRONT_DSN"]
    _cli(tmp_path, "sandbox", "down")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(dsn, connect_timeout=2)
    assert _cli(tmp_path, "sandbox", "status", check=False).returncode == 1


def test_a_home_holds_one_world(sandbox_home, tmp_path):
    """Another size or seed in the same home is refused with what to do, never mixed in."""
    other = _cli(sandbox_home, "sandbox", "up", "--people", "5000", check=False)
    assert other.returncode != 0
    assert "300 people (seed 3) is running" in other.stderr
    # a stopped world's data is protected the same way, and --reset starts clean
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "world.json").write_text('{"people": 300, "seed": 3}')
    (tmp_path / "warehouse.duckdb").write_bytes(b"old world")
    refused = _cli(tmp_path, "sandbox", "up", "--people", "100", check=False)
    assert refused.returncode != 0 and "300-person world (seed 3)" in refused.stderr
    assert "--reset" in refused.stderr
    assert (tmp_path / "warehouse.duckdb").read_bytes() == b"old world"
    _cli(tmp_path, "sandbox", "up", "--people", "100", "--reset")
    try:
        assert not (tmp_path / "warehouse.duckdb").exists()
        world = json.loads((tmp_path / "sandbox" / "world.json").read_text())
        assert world == {"people": 100, "seed": 7}
    finally:
        _cli(tmp_path, "sandbox", "down")
