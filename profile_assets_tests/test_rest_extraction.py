"""REST extraction (HubSpot, Zendesk, GA4) against the sandbox APIs over real HTTP.

Every test gets its own DuckDB file. The sandbox serves a deep copy of one session world, so a
test that mutates or reshapes its world starts its own servers.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import multiprocessing
import os
import signal
import time
import uuid
from datetime import date, timedelta

import httpx
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize, serialize_value
from requests import Response
from tenacity import RetryCallState, Retrying

from profile_assets.sandbox.apis import hubspot as hubspot_api
from profile_assets.sandbox.apis.server import SandboxConfig, start_sandbox_apis
from profile_assets.sandbox.world import generate_world
from profile_assets.sources.resources import HubSpotResource, source_resources
from profile_assets.sources.rest import connect, ga4, hubspot, zendesk
from profile_assets.sources.rest.assets import REST_ASSETS, web_user_days
from profile_assets.sources.rest.client import (
    FlooredWait,
    HttpBasicAuth,
    RetrySettings,
    SourceError,
    redacted_errors,
)
from profile_assets.sources.rest.records import Field, parse_records
from profile_assets.sources.rest.sync import Stream, read_cursor, save_cursor, sync
from profile_assets.warehouse import DuckDBWarehouse

FAST = RetrySettings(max_attempts=10, backoff_factor=0.02, min_backoff=0.02, max_delay=2.0)
STREAM_TABLES = {
    "crm_contacts": "raw.crm_contacts",
    "crm_deals": "raw.crm_deals",
    "support_users": "raw.support_users",
    "support_tickets": "raw.support_tickets",
}


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def world():
    return generate_world(1500, seed=11)


def _serve(world):
    return start_sandbox_apis(copy.deepcopy(world), config=SandboxConfig(rate_limits={}))


@pytest.fixture(scope="module")
def sandbox(world, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch, _serve(world) as running:
        # no stray state of a developer's running sandbox
        patch.setenv("PROFILE_ASSETS_HOME", str(tmp_path_factory.mktemp("home")))
        yield running


@pytest.fixture(autouse=True)
def _calm(request):
    """Faults and rate limits a test sets on the shared sandbox are cleared after it."""
    yield
    if "sandbox" in request.fixturenames:
        for url in request.getfixturevalue("sandbox").urls.values():
            httpx.delete(f"{url}/_sandbox/faults")
            httpx.delete(f"{url}/_sandbox/ratelimit")


@pytest.fixture
def own_sandbox(world, sandbox):
    with _serve(world) as running:
        yield running


def resources(env: dict, db_path: str) -> dict:
    """Resources pointing at a sandbox (its `env()`), with a DuckDB warehouse at `db_path`.
    HubSpot authenticates with OAuth2 client credentials (no private-app token), so tests
    exercise token issue and refresh."""
    oauth_only = {k: v for k, v in env.items() if k != "HUBSPOT_ACCESS_TOKEN"}
    return {"warehouse": DuckDBWarehouse(path=db_path), **source_resources(oauth_only)}


def streams(res: dict, retry: RetrySettings = FAST, search_cap: int = hubspot.SEARCH_CAP):
    hub = connect.hubspot(res["hubspot"], retry)
    desk = connect.zendesk(res["zendesk"], retry)
    return [
        hubspot.CrmReader(hub, hubspot.CONTACTS, search_cap).stream(),
        hubspot.CrmReader(hub, hubspot.DEALS, search_cap).stream(),
        zendesk.users_stream(desk, per_page=100),  # small pages: faults hit mid-pagination
        zendesk.tickets_stream(desk, per_page=100),
    ]


def web_days(world) -> tuple[date, date]:
    """The world's last 14 GA4 days: enough to cover paging, cheap enough for every test."""
    last = world.tables["web_user_days"]["date"].max()
    return last - timedelta(days=13), last


def sync_everything(
    running,
    db_path: str,
    *,
    retry: RetrySettings = FAST,
    commit_records: int = 10_000,
    run_id: str | None = None,
    **kw,
):
    """One run of every REST source; returns {stream name: SyncResult}."""
    res = resources(running.env(), db_path)
    run_id = run_id or str(uuid.uuid4())
    results = {}
    with res["warehouse"].connection() as conn:
        for stream in streams(res, retry):
            results[stream.name] = sync(
                conn, stream, run_id=run_id, commit_records=commit_records, **kw
            )
        client, property_id = connect.ga4(res["ga4"], retry)
        first, last = web_days(running.store.world)
        results["ga4"] = ga4.load_days(
            conn, client, property_id, first, last, run_id=run_id, page_size=20
        )
    return results


# ---------------------------------------------------------------------------------------------
# What "reproduces the world" means: each vendor's rendering of the world's rows


def _text(series: pd.Series) -> pd.Series:
    def one(v):
        if v is None or (not isinstance(v, list | str | bool) and pd.isna(v)):
            return None
        if isinstance(v, bool):
            return "true" if v else "false"
        return v if isinstance(v, str) else str(v)

    return series.map(one).astype(object)


def _ts(series: pd.Series, unit: str) -> pd.Series:
    stamps = pd.to_datetime(series, utc=True, errors="coerce").dt.floor(unit)
    return stamps.map(lambda t: None if pd.isna(t) else t.isoformat()).astype(object)


def expected(world, source: str) -> pd.DataFrame:
    """The world's table as the raw layer must hold it (vendor precision and types)."""
    frame = world.tables[source].copy()
    if source in ("crm_contacts", "crm_deals"):
        frame = frame[pd.to_numeric(frame["id"], errors="coerce").notna()]
        modified = "lastmodifieddate" if source == "crm_contacts" else "hs_lastmodifieddate"
        archived_at = frame["archived_at"].where(frame["archived_at"].notna(), frame[modified])
        frame["archived_at"] = archived_at.where(frame["archived"].astype(bool))
        text = [c for c in frame.columns if c not in ("archived", "contact_ids")]
        out = {c: _text(frame[c]) for c in text}
        for c in ("createdate", modified, "archived_at", "closedate"):
            if c in frame:
                out[c] = _ts(frame[c], "ms")
        if source == "crm_deals":
            out["contact_ids"] = frame["contact_ids"].map(
                lambda ids: json.dumps([str(i) for i in (ids if ids is not None else [])])
            )
        out["archived"] = frame["archived"].astype(bool)
        result = pd.DataFrame(out)
    elif source in ("support_users", "support_tickets"):
        frame = frame[pd.to_numeric(frame["id"], errors="coerce").notna()]
        out = {c: _text(frame[c]) for c in frame.columns}
        out["id"] = frame["id"].astype("int64")
        out["created_at"], out["updated_at"] = (
            _ts(frame["created_at"], "s"),
            _ts(frame["updated_at"], "s"),
        )
        if source == "support_users":
            out["role"] = _text(frame["role"]).fillna("end-user")
            out["active"] = frame["active"].astype(bool)
        else:
            out["requester_id"] = _text(pd.to_numeric(frame["requester_id"], errors="coerce"))
            score = _text(frame["satisfaction_score"]).fillna("unoffered")
            out["satisfaction_score"] = score
            comment = _text(frame["satisfaction_comment"])
            out["satisfaction_comment"] = comment.where(score.isin(["good", "bad"]), None)
        result = pd.DataFrame(out)
    else:
        raise ValueError(source)
    return result.sort_values("id", key=lambda s: s.astype(str)).reset_index(drop=True)


def loaded(conn, source: str, columns) -> pd.DataFrame:
    """The raw table's source columns, in the same text form as `expected`."""
    frame = conn.query_df(f"SELECT * FROM {STREAM_TABLES[source]}")
    out = {}
    for column in columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.map(lambda t: None if pd.isna(t) else t.isoformat()).astype(object)
        elif column in ("archived", "active"):
            out[column] = values.astype(bool)
        elif column == "id" and source.startswith("support"):
            out[column] = values.astype("int64")
        elif column == "requester_id":
            out[column] = _text(values.astype("Int64").astype(object))
        else:
            out[column] = _text(values)
    result = pd.DataFrame(out)
    return result.sort_values("id", key=lambda s: s.astype(str)).reset_index(drop=True)


def assert_reproduces(world, db_path: str) -> None:
    with DuckDBWarehouse(path=db_path).connection() as conn:
        for source in STREAM_TABLES:
            want = expected(world, source)
            got = loaded(conn, source, list(want.columns))
            pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=source)
            ids = conn.query_df(
                f"SELECT COUNT(*) AS n, COUNT(DISTINCT _source_id) AS d FROM "
                f"{STREAM_TABLES[source]}"
            )
            assert ids.n[0] == ids.d[0], f"{source} holds duplicates"
        assert_web_days(world, conn)


def assert_web_days(world, conn) -> None:
    first, last = web_days(world)
    web = world.tables["web_user_days"]
    web = web[(web["date"] >= first) & (web["date"] <= last)].copy()
    web["user_id"] = web["user_id"].astype(object).where(web["user_id"].notna(), None)
    keys = ["date", "user_id", "client_id"]
    metrics = ["sessions", "page_views", "add_to_carts", "purchases", "revenue"]
    want = web.groupby(keys, dropna=False)[metrics].sum().reset_index()
    got = conn.query_df(f"SELECT {', '.join(keys + metrics)} FROM raw.web_user_days")
    for frame in (want, got):
        frame["date"] = pd.to_datetime(frame["date"]).dt.date.astype(str)
        frame["user_id"] = frame["user_id"].map(lambda v: None if pd.isna(v) else str(v))
        frame["client_id"] = frame["client_id"].astype(str)
        frame["revenue"] = frame["revenue"].astype(float).round(2)
        for m in metrics[:-1]:
            frame[m] = frame[m].astype("int64")
        frame.sort_values(["date", "client_id", "user_id"], inplace=True, na_position="first")
        frame.reset_index(drop=True, inplace=True)
    pd.testing.assert_frame_equal(got[keys + metrics], want[keys + metrics], check_dtype=False)


# ---------------------------------------------------------------------------------------------
# Tests


def test_full_then_incremental_syncs_reproduce_the_world(world, sandbox, tmp_path):
    db = str(tmp_path / "wh.duckdb")
    first = sync_everything(sandbox, db)
    assert_reproduces(world, db)
    again = sync_everything(sandbox, db)
    assert_reproduces(world, db)
    for name, result in first.items():
        tally = result[0] if name == "ga4" else result.tally
        assert tally.balanced and tally.read > 0
    for name in ("zendesk.users", "zendesk.tickets"):
        assert again[name].tally.read == 0, "a durable cursor re-reads nothing"
    for name in ("hubspot.contacts", "hubspot.deals"):
        # only the records sharing the newest millisecond are re-read (>= cursor)
        assert again[name].tally.read <= 5


def _changed_ids(before, after) -> dict[str, set[str]]:
    """Per source table, the ids whose vendor rendering differs between two worlds."""
    out = {}
    for source in STREAM_TABLES:
        old, new = expected(before, source), expected(after, source)
        old_rows = {str(r[0]): r[1:] for r in old.itertuples(index=False)}
        out[source] = {
            str(r[0]) for r in new.itertuples(index=False) if old_rows.get(str(r[0])) != r[1:]
        }
    return out


def test_mutations_are_picked_up_exactly_including_deletes(world, own_sandbox, tmp_path):
    db = str(tmp_path / "wh.duckdb")
    sync_everything(own_sandbox, db)
    before = copy.deepcopy(own_sandbox.store.world)
    httpx.post(
        own_sandbox.urls["hubspot"] + "/_sandbox/mutate", json={"people": 60, "seed": 3}
    ).raise_for_status()
    sync_everything(own_sandbox, db, run_id="after-mutation")
    assert_reproduces(own_sandbox.store.world, db)
    changed = _changed_ids(before, own_sandbox.store.world)
    with DuckDBWarehouse(path=db).connection() as conn:
        for source, table in STREAM_TABLES.items():
            written = set(
                conn.query_df(f"SELECT _source_id FROM {table} WHERE _run_id = 'after-mutation'")[
                    "_source_id"
                ]
            )
            assert changed[source] <= written, f"{source}: a change was missed"
            extra = written - changed[source]  # re-read ties at the cursor, nothing else
            assert len(extra) <= 5, f"{source}: re-read {len(extra)} unchanged records"
        deleted = conn.scalar("SELECT COUNT(*) FROM raw.support_tickets WHERE _op = 'delete'")
        archived = conn.scalar("SELECT COUNT(*) FROM raw.crm_contacts WHERE _op = 'delete'")
    assert sum(len(ids) for ids in changed.values()) > 0
    world_after = own_sandbox.store.world.tables
    assert deleted == (world_after["support_tickets"]["status"] == "deleted").sum()
    assert archived == world_after["crm_contacts"]["archived"].astype(bool).sum()


FAULTS = ["5xx", "drop", "truncate", "expire_token"]


def inject(running, kind: str, *, every_n: int = 3, count: int = 3) -> None:
    for name, url in running.urls.items():
        if kind == "expire_token" and name == "zendesk":
            continue  # API-token auth: nothing expires
        fault = {"kind": kind, "every_n": every_n, "count": count}
        httpx.post(f"{url}/_sandbox/faults", json=fault).raise_for_status()


@pytest.mark.parametrize("kind", FAULTS)
def test_faults_still_end_in_a_complete_duplicate_free_load(world, sandbox, tmp_path, kind):
    """5xx, dropped connections, truncated JSON and tokens expiring mid-pagination."""
    inject(sandbox, kind)
    db = str(tmp_path / "wh.duckdb")
    sync_everything(sandbox, db)
    assert_reproduces(world, db)
    for name in ("hubspot", "zendesk", "ga4"):
        active = httpx.get(f"{sandbox.urls[name]}/_sandbox/faults").json()["faults"]
        assert active == [], f"{name}: injected faults did not all fire"


RATE_LIMITS = {  # a storm of `Retry-After: 0`, and the HTTP-date form (dlt parses both)
    "retry_after_zero_storm": {"requests": 4, "per_seconds": 0.2, "retry_after": "zero"},
    "retry_after_http_date": {"requests": 40, "per_seconds": 1.0, "retry_after": "http-date"},
}


@pytest.mark.parametrize("policy", RATE_LIMITS.values(), ids=RATE_LIMITS.keys())
def test_rate_limited_sync_completes_with_any_retry_after_form(world, sandbox, tmp_path, policy):
    for url in sandbox.urls.values():
        httpx.post(f"{url}/_sandbox/ratelimit", json=policy).raise_for_status()
    db = str(tmp_path / "wh.duckdb")
    patient = RetrySettings(max_attempts=40, backoff_factor=0.05, min_backoff=0.05, max_delay=2)
    sync_everything(sandbox, db, retry=patient)
    assert_reproduces(world, db)


def _rate_limited(header: str) -> RetryCallState:
    response = Response()
    response.status_code = 429
    response.headers["Retry-After"] = header
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.set_result(response)
    return state


def test_retry_after_zero_never_retries_faster_than_the_floor():
    wait = FlooredWait(0.25, multiplier=0.001, max=30)
    assert wait(_rate_limited("0")) >= 0.25
    assert wait(_rate_limited("Tue, 10 Jun 2025 00:00:00 GMT")) >= 0.25  # a date in the past
    assert wait(_rate_limited("3")) == 3


def test_search_cap_slicing_loses_nothing(world, sandbox, tmp_path, monkeypatch):
    cap = 150
    monkeypatch.setattr(hubspot_api, "SEARCH_RESULT_CAP", cap)
    res = resources(sandbox.env(), str(tmp_path / "wh.duckdb"))
    reader = hubspot.CrmReader(connect.hubspot(res["hubspot"], FAST), hubspot.CONTACTS, cap)
    records = [r for page in reader._window_pages(0, None) for r in page]
    contacts = expected(world, "crm_contacts")
    active = contacts[~contacts["archived"]]
    assert len(active) > 4 * cap, "the window must exceed the cap for slicing to matter"
    ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(active["id"]), "every active contact exactly once"
    modified = [r["properties"]["lastmodifieddate"] for r in records]
    assert modified == sorted(modified), "windows come oldest first, so the cursor can advance"


def _tied_world(world, tied: int = 450):
    """A copy whose newest `tied` active contacts share one millisecond."""
    tied_world = copy.deepcopy(world)
    contacts = tied_world.tables["crm_contacts"]
    active = contacts.index[~contacts["archived"].astype(bool)]
    newest = contacts.loc[active, "lastmodifieddate"].sort_values().index[-tied:]
    contacts.loc[newest, "lastmodifieddate"] = contacts.loc[newest, "lastmodifieddate"].max()
    return tied_world


def test_cursor_ties_at_a_page_boundary_lose_nothing(world, sandbox, tmp_path):
    """A run dies after committing a page that ends inside a group of 450 records sharing one
    millisecond (the cursor is that ms); the rerun resumes with >= and must load every tied
    record still missing, once, without starting over."""
    tied = _tied_world(world, tied=450)
    with start_sandbox_apis(tied, config=SandboxConfig(rate_limits={})) as running:
        db = str(tmp_path / "wh.duckdb")
        res = resources(running.env(), db)
        reader = hubspot.CrmReader(connect.hubspot(res["hubspot"], FAST), hubspot.CONTACTS)
        stream = reader.stream()
        with res["warehouse"].connection() as conn:
            # an incremental run from the beginning of time: the search path, page by page
            with conn.unit_of_work() as unit:
                save_cursor(unit, stream.name, hubspot.Cursor(modified=0).dump(), run_id="r0")
            active = (~tied.tables["crm_contacts"]["archived"].astype(bool)).sum()
            crash_after = active // hubspot.SEARCH_PAGE - 1
            dying = _dies_after(stream, pages=crash_after)
            with pytest.raises(RuntimeError, match="killed"):
                sync(conn, dying, run_id="r1", commit_records=1)
            cursor = json.loads(read_cursor(conn, stream.name))
            tied_ms = int(tied.tables["crm_contacts"]["lastmodifieddate"].max().value // 10**6)
            assert cursor["modified"] == tied_ms, "the crash must land inside the tie group"
            resumed = sync(conn, stream, run_id="r2")
            archived = int(tied.tables["crm_contacts"]["archived"].astype(bool).sum())
            assert resumed.tally.read <= 450 + archived, "resumed at the tie, not from scratch"
        sync_everything(running, db)
        assert_reproduces(tied, db)


def _dies_after(stream: Stream, pages: int) -> Stream:
    def pages_then_die(cursor):
        for n, page in enumerate(stream.pages(cursor)):
            if n == pages:
                raise RuntimeError("killed")
            yield page

    return dataclasses.replace(stream, pages=pages_then_die)


def _sync_child(env: dict, db: str) -> None:
    """The SIGKILL test's child: every REST stream, committing every 100 records."""
    res = resources(env, db)
    with res["warehouse"].connection() as conn:
        for stream in streams(res):
            sync(conn, stream, run_id=str(uuid.uuid4()), commit_records=100)


def test_sigkill_mid_extraction_loses_and_duplicates_nothing(world, sandbox, tmp_path):
    db = str(tmp_path / "wh.duckdb")
    for url in sandbox.urls.values():  # slow enough to be killed mid-way
        httpx.post(f"{url}/_sandbox/faults", json={"kind": "slow", "delay_s": 0.05})
    # fork: a real process to kill, without paying a fresh interpreter's imports
    child = multiprocessing.get_context("fork").Process(
        target=_sync_child, args=(sandbox.env(), db)
    )
    child.start()
    faults_url = f"{sandbox.urls['hubspot']}/_sandbox/faults"
    deadline = time.monotonic() + 60
    while httpx.get(faults_url).json()["faults"][0]["seen"] < 12:  # a few pages committed
        assert child.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert child.exitcode == -signal.SIGKILL
    for url in sandbox.urls.values():
        httpx.delete(f"{url}/_sandbox/faults")
    with DuckDBWarehouse(path=db).connection() as conn:
        partial = sum(conn.row_count(t) for t in STREAM_TABLES.values())
    total = sum(len(expected(world, s)) for s in STREAM_TABLES)
    assert 0 < partial < total, "the kill must land mid-extraction"
    sync_everything(sandbox, db)
    assert_reproduces(world, db)


def test_malformed_records_land_in_quarantine_with_reasons(world, tmp_path):
    broken = copy.deepcopy(world)
    tickets = broken.tables["support_tickets"]
    tickets.loc[tickets.index[:3], "updated_at"] = pd.NaT  # served without updated_at
    with start_sandbox_apis(broken, config=SandboxConfig(rate_limits={})) as running:
        db = str(tmp_path / "wh.duckdb")
        result = sync_everything(running, db)
    tally = result["zendesk.tickets"].tally
    assert len(tally.rejected) == 3 and tally.balanced
    with DuckDBWarehouse(path=db).connection() as conn:
        rejected = conn.query_df(
            "SELECT source, reason, payload FROM ops.rejected_records "
            "WHERE source = 'support_tickets'"
        )
    assert list(rejected["reason"]) == ["missing updated_at"] * 3
    assert {json.loads(p)["id"] for p in rejected["payload"]} == set(tickets["id"][:3])


def test_records_of_the_wrong_shape_are_rejected_with_reasons():
    fields = (
        Field.at("id", kind="int"),
        Field.at("updated_at", kind="ts"),
        Field.at("email"),
    )
    records = [
        {"id": 1, "updated_at": "2026-01-01T00:00:00Z", "email": "a@x"},
        "not an object",
        {"updated_at": "2026-01-01T00:00:00Z"},
        {"id": "seven", "updated_at": "2026-01-01T00:00:00Z"},
        {"id": 2, "updated_at": "yesterday-ish"},
        {"id": 3, "updated_at": "2026-01-01T00:00:00Z", "email": {"nested": True}},
    ]
    parsed = parse_records(records, fields, key="id", source="t", required=["updated_at"])
    assert parsed.rows["id"].tolist() == [1]
    assert [r.reason for r in parsed.rejections] == [
        "record is not a JSON object",
        "missing primary key",
        "id: not a valid int",
        "updated_at: not a valid ts",
        "email: not a valid str",
    ]


def test_errors_are_redacted_before_they_are_raised():
    auth = HttpBasicAuth(username="me/token", password="s3cr3t-value")
    with pytest.raises(SourceError) as raised, redacted_errors(auth):
        raise ValueError("login me/token:s3cr3t-value refused")
    assert "s3cr3t-value" not in str(raised.value) and raised.value.__cause__ is None


def _secret_values(running) -> list[str]:
    creds = running.credentials
    issued = [
        token
        for runtime in running.runtimes.values()
        if runtime.issuer is not None
        for token in runtime.issuer._access
    ]
    return [
        creds.hubspot_private_app_token,
        creds.hubspot_client_secret,
        creds.zendesk_api_token,
        creds.ga4_client_secret,
        *issued,
    ]


def test_secrets_never_reach_logs_or_the_event_log(world, sandbox, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    for url in (sandbox.urls["hubspot"], sandbox.urls["ga4"]):  # force token refreshes too
        httpx.post(
            f"{url}/_sandbox/faults", json={"kind": "expire_token", "every_n": 3, "count": 2}
        )
    res = resources(sandbox.env(), str(tmp_path / "wh.duckdb"))
    instance = DagsterInstance.ephemeral()
    fast = {"backoff_factor": 0.02, "min_backoff": 0.02}
    streams_run = materialize(
        [a for a in REST_ASSETS if a is not web_user_days],
        resources=res,
        instance=instance,
        run_config={"ops": {f"raw__{name}": {"config": fast} for name in STREAM_TABLES}},
    )
    first, _ = web_days(world)
    web_run = materialize(
        [web_user_days],
        resources=res,
        instance=instance,
        partition_key=first.isoformat(),
        run_config={"ops": {"raw__web_user_days": {"config": fast}}},
    )
    assert streams_run.success and web_run.success
    events = [
        serialize_value(record)
        for run in (streams_run, web_run)
        for record in instance.all_logs(run.run_id)
    ]
    out, err = capfd.readouterr()
    haystack = "\n".join([*events, caplog.text, out, err])
    secrets = _secret_values(sandbox)
    assert len(secrets) >= 6  # issued tokens included
    leaked = [s for s in secrets if s in haystack]
    assert leaked == []
    metadata = streams_run.asset_materializations_for_node("raw__crm_contacts")[0].metadata
    assert metadata["balanced"].value is True and metadata["records_read"].value > 0
    web = web_run.asset_materializations_for_node("raw__web_user_days")[0].metadata
    day = world.tables["web_user_days"]
    assert web["records_loaded"].value == (day["date"] == first).sum()  # one row per key


def test_hubspot_private_app_token_reads_the_same_contacts(world, sandbox, tmp_path):
    env = sandbox.env()
    resource = HubSpotResource(
        base_url=env["HUBSPOT_BASE_URL"], access_token=env["HUBSPOT_ACCESS_TOKEN"]
    )
    reader = hubspot.CrmReader(connect.hubspot(resource, FAST), hubspot.CONTACTS)
    with DuckDBWarehouse(path=str(tmp_path / "wh.duckdb")).connection() as conn:
        result = sync(conn, reader.stream(), run_id="pat")
        want = expected(world, "crm_contacts")
        pd.testing.assert_frame_equal(
            loaded(conn, "crm_contacts", list(want.columns)), want, check_dtype=False
        )
    assert result.tally.read == len(want)


def test_full_reconciliation_tombstones_ids_the_source_no_longer_returns(world, sandbox, tmp_path):
    """HubSpot can purge a contact outright (GDPR): no archive, no feed, it just vanishes."""
    db = str(tmp_path / "wh.duckdb")
    sync_everything(sandbox, db)
    purged_world = copy.deepcopy(world)
    contacts = purged_world.tables["crm_contacts"]
    active = contacts[~contacts["archived"].astype(bool)]
    purged = sorted(active["id"].head(5))
    purged_world.tables["crm_contacts"] = contacts[~contacts["id"].isin(purged)]
    with start_sandbox_apis(purged_world, config=SandboxConfig(rate_limits={})) as running:
        res = resources(running.env(), db)
        stream = hubspot.CrmReader(connect.hubspot(res["hubspot"], FAST), hubspot.CONTACTS)
        with res["warehouse"].connection() as conn:
            incremental = sync(conn, stream.stream(), run_id="incremental")
            assert incremental.tombstoned == 0
            full = sync(conn, stream.stream(), run_id="reconcile", full_refresh=True)
            deleted = conn.query_df(
                "SELECT _source_id FROM raw.crm_contacts "
                "WHERE _op = 'delete' AND _run_id = 'reconcile' ORDER BY 1"
            )
    assert full.tombstoned == 5
    assert list(deleted["_source_id"]) == purged


def test_syncs_run_unchanged_on_snowflake_via_fakesnow(world, sandbox):
    import fakesnow
    from dagster_snowflake import SnowflakeResource

    from profile_assets.warehouse import SnowflakeWarehouse

    res = resources(sandbox.env(), "unused.duckdb")
    with fakesnow.patch():
        warehouse = SnowflakeWarehouse(
            snowflake=SnowflakeResource(account="t", user="t", password="p", database="PA")
        )
        with warehouse.connection() as conn:
            for stream in streams(res):
                first = sync(conn, stream, run_id="first")
                reconcile = sync(conn, stream, run_id="again", full_refresh=True)
                table = conn.query_df(
                    f"SELECT COUNT(*) AS n, COUNT(DISTINCT _source_id) AS d FROM {stream.table}"
                )
                want = len(expected(world, stream.source))
                assert first.tally.balanced and first.tally.read == want
                assert reconcile.tombstoned == 0
                assert table.n[0] == table.d[0] == want, stream.name


def test_assets_fall_back_to_the_running_sandbox_state(world, sandbox, tmp_path, monkeypatch):
    """In the `sandbox` environment, with no connector variables set, the assets reach the
    sandbox recorded in its state file, as `profile-assets sandbox up` leaves it."""
    from profile_assets.sources.rest.assets import crm_deals, support_tickets

    home = tmp_path / "home"
    (home / "sandbox").mkdir(parents=True)
    (home / "sandbox" / "state.json").write_text(json.dumps({"env": sandbox.env()}))
    monkeypatch.setenv("PROFILE_ASSETS_HOME", str(home))
    for name in sandbox.env():
        monkeypatch.delenv(name, raising=False)
    fast = {"config": {"backoff_factor": 0.02, "min_backoff": 0.02}}
    result = materialize(
        [crm_deals, support_tickets],
        resources={
            "warehouse": DuckDBWarehouse(path=str(tmp_path / "wh.duckdb")),
            **source_resources(defaults_file=str(home / "sandbox" / "state.json")),
        },
        run_config={"ops": {"raw__crm_deals": fast, "raw__support_tickets": fast}},
    )
    assert result.success
    for node, source in (
        ("raw__crm_deals", "crm_deals"),
        ("raw__support_tickets", "support_tickets"),
    ):
        metadata = result.asset_materializations_for_node(node)[0].metadata
        assert metadata["dagster/row_count"].value == len(expected(world, source))
