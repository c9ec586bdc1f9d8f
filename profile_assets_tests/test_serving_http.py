"""The HTTP API: keys (none, wrong, both header forms), 404s, ETags, renders, health and
metrics, on the ASGI app and on a real uvicorn server; `serve` refuses to run without keys."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from profile_assets import cli
from profile_assets.serving.http import API_KEYS_ENV, NoApiKeys, ServingApp
from profile_assets.serving.lookup import SnapshotReader
from profile_assets.serving.record import build_snapshot_frames
from profile_assets.serving.snapshot import publish
from profile_assets_tests.serving_support import built_warehouse, inputs_of

KEY = "test-key-1"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A PROFILE_ASSETS_HOME with a published snapshot; and a served profile."""
    inputs = inputs_of(built_warehouse(tmp_path_factory))
    home = tmp_path_factory.mktemp("home")
    publish(build_snapshot_frames(inputs), home / "serving")
    return home, inputs.golden.iloc[0]


@pytest.fixture(scope="module")
def client(home):
    app = ServingApp(SnapshotReader(home[0] / "serving"), [KEY.encode(), b"other-key"])
    return TestClient(app)


def _profile_url(profile) -> str:
    return f"/v1/profiles/{profile['email']}"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}],
)
def test_requests_without_a_valid_key_get_401_json(client, home, headers):
    response = client.get(_profile_url(home[1]), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}])
def test_both_header_forms_are_accepted(client, home, headers):
    response = client.get(_profile_url(home[1]), headers=headers)
    assert response.status_code == 200
    assert response.json()["profile_id"] == home[1]["profile_id"]
    assert response.headers["cache-control"].startswith("private")


def test_etag_revalidation_answers_304(client, home):
    first = client.get(_profile_url(home[1]), headers={"X-API-Key": KEY})
    again = client.get(
        _profile_url(home[1]), headers={"X-API-Key": KEY, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


def test_unknown_people_and_paths_are_404_json(client):
    for path in (
        "/v1/profiles/nobody@example.invalid",
        "/v1/profiles/P0",
        "/v2/x",
        "/v1/profiles/",
    ):
        response = client.get(path, headers={"X-API-Key": KEY})
        assert response.status_code == 404, path
        assert response.json() == {"error": "not_found"}


def test_render_returns_the_email_in_both_formats(client, home):
    url = f"/v1/profiles/{home[1]['profile_id']}/render/welcome"
    html = client.get(url, headers={"X-API-Key": KEY})
    text = client.get(url + "?format=text", headers={"X-API-Key": KEY})
    assert html.headers["content-type"].startswith("text/html") and "<h1>" in html.text
    assert text.headers["content-type"].startswith("text/plain") and "welcome" in text.text
    assert html.headers["etag"] != text.headers["etag"]
    assert client.get(url + "?format=pdf", headers={"X-API-Key": KEY}).status_code == 400


@pytest.mark.parametrize(
    "name", ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "_layout", "nope", "%2e%2e%2fwelcome"]
)
def test_template_names_outside_the_folder_are_404(client, home, name):
    url = f"/v1/profiles/{home[1]['profile_id']}/render/{name}"
    assert client.get(url, headers={"X-API-Key": KEY}).status_code == 404


def test_dot_segments_reaching_the_app_are_404(client, home):
    """Clients normalize `..` away; a raw request can still send it."""
    for path in ("render/..", "render/../welcome", "render/%2e%2e", "render/welcome/.."):
        scope = {
            "path": f"/v1/profiles/{home[1]['profile_id']}/{path}",
            "method": "GET",
            "headers": [(b"x-api-key", KEY.encode())],
            "query_string": b"",
        }
        assert client.app.handle(scope)[1] == 404, path


def test_health_needs_no_key_and_metrics_count_requests(client):
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert client.get("/metrics").status_code == 401
    metrics = client.get("/metrics", headers={"X-API-Key": KEY}).text
    assert 'profile_assets_http_requests_total{route="profile",status="200"}' in metrics
    assert "profile_assets_http_request_seconds_bucket" in metrics
    assert "profile_assets_snapshot_age_seconds" in metrics
    assert "profile_assets_snapshot_generation 1.0" in metrics


def test_the_app_refuses_to_exist_without_keys(home):
    with pytest.raises(NoApiKeys):
        ServingApp(SnapshotReader(home[0] / "serving"), [])
    assert ServingApp(SnapshotReader(home[0] / "serving"), [], no_auth=True).no_auth


def test_serve_refuses_to_start_without_keys(monkeypatch):
    monkeypatch.delenv(API_KEYS_ENV, raising=False)
    result = CliRunner().invoke(cli.main, ["serve", "--port", "1"])
    assert result.exit_code != 0 and API_KEYS_ENV in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_real_server_answers_on_loopback(home):
    port = _free_port()
    env = {**os.environ, "PROFILE_ASSETS_HOME": str(home[0]), API_KEYS_ENV: f"{KEY},k2"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "profile_assets.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        url = f"{base}{_profile_url(home[1]).replace('@', '%40')}"
        assert httpx.get(url, timeout=5).status_code == 401
        found = httpx.get(url, headers={"Authorization": "Bearer k2"}, timeout=5)
        assert found.status_code == 200 and found.json()["email"] == home[1]["email"]
        render = httpx.get(
            f"{base}/v1/profiles/{home[1]['profile_id']}/render/winback?format=text",
            headers={"X-API-Key": KEY},
            timeout=5,
        )
        assert render.status_code == 200 and "we miss you" in render.text
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_cli_lookup_render_and_export(home, tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(home[0]))
    runner = CliRunner()
    found = runner.invoke(cli.main, ["lookup", home[1]["email"].upper()])
    assert found.exit_code == 0 and home[1]["profile_id"] in found.output
    assert runner.invoke(cli.main, ["lookup", "nobody@example.invalid"]).exit_code == 1
    rendered = runner.invoke(cli.main, ["render", "welcome", "--email", home[1]["email"]])
    assert rendered.exit_code == 0 and "welcome" in rendered.output
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"feed.{fmt}"
        assert (
            runner.invoke(cli.main, ["export", "--format", fmt, "--out", str(out)]).exit_code == 0
        )
        lines = out.read_text().splitlines()
        assert home[1]["profile_id"] in out.read_text()
        assert len(lines) >= 100
