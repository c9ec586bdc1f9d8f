"""The simulated vendor APIs over real HTTP: auth, paging, incremental sync, rate limits,
faults, token expiry and world mutations."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from profile_assets.sandbox.apis import enrichment, hubspot
from profile_assets.sandbox.apis.server import SandboxConfig, start_sandbox_apis
from profile_assets.sandbox.apis.store import IndexedCollection, Rendered
from profile_assets.sandbox.world import generate_world


@pytest.fixture(scope="session")
def changesets() -> list:
    return []


@pytest.fixture(scope="session")
def sandbox(changesets):
    config = SandboxConfig(rate_limits={}, enrichment_queued_share=0.3)
    with start_sandbox_apis(
        generate_world(2000),
        config=config,
        on_changes=changesets.append,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


@pytest.fixture
def faults_cleared(sandbox, client):
    yield
    for url in sandbox.urls.values():
        client.delete(f"{url}/_sandbox/faults")
        client.delete(f"{url}/_sandbox/ratelimit")


def hubspot_auth(sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.credentials.hubspot_private_app_token}"}


def zendesk_auth(sandbox) -> httpx.BasicAuth:
    c = sandbox.credentials
    return httpx.BasicAuth(f"{c.zendesk_email}/token", c.zendesk_api_token)


def oauth_token(client, sandbox, api: str, **form) -> dict:
    c = sandbox.credentials
    ids = {
        "hubspot": (c.hubspot_client_id, c.hubspot_client_secret, hubspot.TOKEN_PATH),
        "ga4": (c.ga4_client_id, c.ga4_client_secret, "/token"),
    }[api]
    data = {"grant_type": "client_credentials", "client_id": ids[0], "client_secret": ids[1]}
    response = client.post(sandbox.urls[api] + ids[2], data=data | form)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def list_all(client, url, headers, **params) -> list[dict]:
    records, after = [], None
    while True:
        query = params | ({"after": after} if after else {})
        body = client.get(url, params=query, headers=headers).raise_for_status().json()
        records += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if after is None:
            return records


def search_all(client, url, headers, body) -> list[dict]:
    records, after = [], "0"
    while after is not None:
        page = client.post(url, json=body | {"after": after}, headers=headers)
        page = page.raise_for_status().json()
        records += page["results"]
        after = page.get("paging", {}).get("next", {}).get("after")
    return records


def export_all(client, sandbox, kind: str, **params) -> tuple[list[dict], str]:
    url = f"{sandbox.urls['zendesk']}/api/v2/incremental/{kind}/cursor.json"
    records = []
    while True:
        response = client.get(url, params=params, auth=zendesk_auth(sandbox))
        body = response.raise_for_status().json()
        records += body[kind]
        params = {"cursor": body["after_cursor"], "per_page": params.get("per_page", 1000)}
        if body["end_of_stream"]:
            return records, body["after_cursor"]


def modified(operator: str, ts: pd.Timestamp) -> dict:
    """A HubSpot filter on the modification time, with the epoch-ms value HubSpot expects."""
    return {
        "propertyName": "lastmodifieddate",
        "operator": operator,
        "value": str(ts.value // 10**6),
    }


def incremental_search(*filters: dict, **extra) -> dict:
    return {
        "filterGroups": [{"filters": list(filters)}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 100,
    } | extra


def served_ids(frame: pd.DataFrame) -> set[int]:
    return set(pd.to_numeric(frame["id"], errors="coerce").dropna().astype(int))


# --- credentials -----------------------------------------------------------------------------


def _good_request(client, sandbox, api: str) -> tuple[str, str, dict]:
    """(method, url, request kwargs with good credentials) for one data endpoint per API."""
    urls, c = sandbox.urls, sandbox.credentials
    if api == "hubspot":
        return "GET", f"{urls[api]}/crm/v3/objects/contacts", {"headers": hubspot_auth(sandbox)}
    if api == "zendesk":
        url = f"{urls[api]}/api/v2/incremental/users/cursor.json?start_time=0&per_page=5"
        return "GET", url, {"auth": zendesk_auth(sandbox)}
    if api == "ga4":
        token = oauth_token(client, sandbox, "ga4")["access_token"]
        body = {
            "dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}],
            "metrics": [{"name": "sessions"}],
        }
        url = f"{urls[api]}/v1beta/properties/{sandbox.config.ga4_property_id}:runReport"
        return "POST", url, {"headers": bearer(token), "json": body}
    url = f"{urls[api]}/v2/people/find?email=nobody@nowhere.example"
    return "GET", url, {"headers": bearer(c.enrichment_api_key)}


@pytest.mark.parametrize("api", ["hubspot", "zendesk", "ga4", "enrichment"])
def test_each_api_rejects_missing_and_bad_credentials_and_accepts_good_ones(sandbox, client, api):
    method, url, kwargs = _good_request(client, sandbox, api)
    good = client.request(method, url, **kwargs)
    assert good.status_code == (404 if api == "enrichment" else 200), good.text
    bare = {k: v for k, v in kwargs.items() if k not in ("headers", "auth")}
    assert client.request(method, url, **bare).status_code == 401
    wrong = bearer("not-a-real-token")
    if api == "zendesk":
        wrong = {"Authorization": "Basic " + "c2FuZGJveDp3cm9uZw=="}  # sandbox:wrong
    assert client.request(method, url, headers=wrong, **bare).status_code == 401


def test_oauth_rejects_unknown_clients_and_refresh_tokens(sandbox, client):
    token_url = sandbox.urls["hubspot"] + hubspot.TOKEN_PATH
    bad_client = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    assert client.post(token_url, data=bad_client).status_code == 401
    c = sandbox.credentials
    bad_refresh = {
        "grant_type": "refresh_token",
        "client_id": c.hubspot_client_id,
        "client_secret": c.hubspot_client_secret,
        "refresh_token": "nope",
    }
    response = client.post(token_url, data=bad_refresh)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


# --- HubSpot -----------------------------------------------------------------------------------


def test_hubspot_paging_returns_every_contact_exactly_once(sandbox, client):
    url = f"{sandbox.urls['hubspot']}/crm/v3/objects/contacts"
    records = list_all(client, url, hubspot_auth(sandbox), limit=100, properties="email,city")
    ids = [int(r["id"]) for r in records]
    contacts = sandbox.store.world.tables["crm_contacts"]
    assert len(ids) == len(set(ids))
    assert set(ids) == served_ids(contacts[~contacts["archived"].astype(bool)])
    assert ids == sorted(ids)
    assert set(records[0]["properties"]) == {"email", "city"}
    first = records[0]
    assert first["createdAt"].endswith("Z") and len(first["createdAt"]) == 24  # ms precision


def test_hubspot_list_rejects_limits_above_100(sandbox, client):
    url = f"{sandbox.urls['hubspot']}/crm/v3/objects/contacts"
    response = client.get(url, params={"limit": 101}, headers=hubspot_auth(sandbox))
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_hubspot_deals_page_once_each_with_their_contact_associations(sandbox, client):
    base = sandbox.urls["hubspot"]
    deals = list_all(
        client, f"{base}/crm/v3/objects/deals", hubspot_auth(sandbox), limit=100,
        associations="contacts",
    )  # fmt: skip
    frame = sandbox.store.world.tables["crm_deals"]
    ids = [int(d["id"]) for d in deals]
    assert len(ids) == len(set(ids)) and set(ids) == served_ids(frame[~frame["archived"]])
    world = frame.set_index("id")
    for deal in deals:
        served = [
            a["id"] for a in deal.get("associations", {}).get("contacts", {}).get("results", [])
        ]
        assert served == [str(c) for c in world.loc[deal["id"], "contact_ids"]]
    deal = next(d for d in deals if d.get("associations"))
    url = f"{base}/crm/v3/objects/deals/{deal['id']}/associations/contacts"
    response = client.get(url, headers=hubspot_auth(sandbox)).json()
    assert response["results"] == deal["associations"]["contacts"]["results"]


def test_hubspot_search_returns_exactly_the_contacts_modified_in_a_window(sandbox, client):
    contacts = sandbox.store.world.tables["crm_contacts"]
    live = contacts[~contacts["archived"].astype(bool) & contacts["id"].notna()]
    since, until = live["lastmodifieddate"].quantile([0.4, 0.8])
    body = incremental_search(
        modified("GTE", since), modified("LT", until), properties=["email", "lastmodifieddate"]
    )
    url = f"{sandbox.urls['hubspot']}/crm/v3/objects/contacts/search"
    found = search_all(client, url, hubspot_auth(sandbox), body)
    expected = live[(live["lastmodifieddate"] >= since) & (live["lastmodifieddate"] < until)]
    assert sorted(int(r["id"]) for r in found) == sorted(served_ids(expected))
    stamps = [r["properties"]["lastmodifieddate"] for r in found]
    assert stamps == sorted(stamps)


def test_hubspot_search_combines_filter_groups_with_or(sandbox, client):
    contacts = sandbox.store.world.tables["crm_contacts"]
    live = contacts[~contacts["archived"].astype(bool) & contacts["id"].notna()]
    a, b = live["email"].dropna().unique()[:2]
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": a.upper()}]},
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": b}]},
        ],
        "limit": 200,
    }
    url = f"{sandbox.urls['hubspot']}/crm/v3/objects/contacts/search"
    found = search_all(client, url, hubspot_auth(sandbox), body)
    expected = live[live["email"].str.lower().isin([a.lower(), b.lower()])]
    assert sorted(int(r["id"]) for r in found) == sorted(served_ids(expected))


def test_hubspot_search_refuses_to_page_past_10000_results(sandbox, client):
    url = f"{sandbox.urls['hubspot']}/crm/v3/objects/contacts/search"
    response = client.post(url, json={"after": "10000"}, headers=hubspot_auth(sandbox))
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_hubspot_search_reports_all_matches_but_serves_only_the_first_10000():
    collection = IndexedCollection(
        Rendered(i, {"id": str(i), "properties": {}}, mod=1_000 + i, partition=False)
        for i in range(10_050)
    )
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
    }
    total, page = hubspot.search(collection, body, after=9_950, limit=100)
    assert total == 10_050
    assert [r.id for r in page] == list(range(9_950, 10_000))


# --- OAuth expiry --------------------------------------------------------------------------------


def test_hubspot_access_token_expires_and_refresh_gives_a_working_one(sandbox, client):
    base = sandbox.urls["hubspot"]
    client.post(f"{base}/_sandbox/oauth", json={"expires_in": 1}).raise_for_status()
    try:
        issued = oauth_token(client, sandbox, "hubspot")
        assert issued["expires_in"] == 1 and issued["token_type"] == "bearer"
        url = f"{base}/crm/v3/objects/contacts"
        assert client.get(url, headers=bearer(issued["access_token"])).status_code == 200
        time.sleep(1.1)
        expired = client.get(url, headers=bearer(issued["access_token"]))
        assert expired.status_code == 401
        assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
        fresh = oauth_token(
            client, sandbox, "hubspot", grant_type="refresh_token",
            refresh_token=issued["refresh_token"],
        )  # fmt: skip
        assert client.get(url, headers=bearer(fresh["access_token"])).status_code == 200
    finally:
        client.post(f"{base}/_sandbox/oauth", json={"expires_in": 1800})


def test_token_expiry_mid_pagination_is_recovered_by_refreshing(sandbox, client, faults_cleared):
    base = sandbox.urls["hubspot"]
    url = f"{base}/crm/v3/objects/contacts"
    issued = oauth_token(client, sandbox, "hubspot")
    first = client.get(url, params={"limit": 100}, headers=bearer(issued["access_token"])).json()
    client.post(f"{base}/_sandbox/faults", json={"kind": "expire_token", "count": 1})
    # a static private-app token cannot expire: the fault waits for an OAuth request
    assert client.get(url, headers=hubspot_auth(sandbox)).status_code == 200
    after = first["paging"]["next"]["after"]
    params = {"limit": 100, "after": after}
    broken = client.get(url, params=params, headers=bearer(issued["access_token"]))
    assert broken.status_code == 401
    assert client.get(url, headers=bearer(issued["access_token"])).status_code == 401
    fresh = oauth_token(
        client,
        sandbox,
        "hubspot",
        grant_type="refresh_token",
        refresh_token=issued["refresh_token"],
    )
    rest = list_all(client, url, bearer(fresh["access_token"]), limit=100, after=after)
    ids = [int(r["id"]) for r in first["results"] + rest]
    contacts = sandbox.store.world.tables["crm_contacts"]
    assert len(ids) == len(set(ids))
    assert set(ids) == served_ids(contacts[~contacts["archived"].astype(bool)])


# --- Zendesk -------------------------------------------------------------------------------------


def test_zendesk_ticket_export_returns_every_ticket_once_deleted_included(sandbox, client):
    tickets, _ = export_all(client, sandbox, "tickets", start_time=0, per_page=100)
    ids = [t["id"] for t in tickets]
    world = sandbox.store.world.tables["support_tickets"]
    assert len(ids) == len(set(ids))
    assert set(ids) >= served_ids(world)
    deleted = {t["id"] for t in tickets if t["status"] == "deleted"}
    assert deleted >= served_ids(world[world["status"] == "deleted"])
    keys = [(t["updated_at"], t["id"]) for t in tickets]
    assert keys == sorted(keys)
    rated = next(t for t in tickets if t["satisfaction_rating"]["score"] in ("good", "bad"))
    assert {"id", "score", "comment"} <= set(rated["satisfaction_rating"])


def test_zendesk_export_from_start_time_returns_exactly_later_changes(sandbox, client):
    users = sandbox.store.world.tables["support_users"]
    start = users["updated_at"].quantile(0.5).ceil("s")
    exported, _ = export_all(client, sandbox, "users", start_time=start.value // 10**9, per_page=50)
    assert sorted(u["id"] for u in exported) == sorted(
        served_ids(users[users["updated_at"] >= start])
    )
    inactive = {u["id"] for u in exported if not u["active"]}
    assert inactive >= served_ids(users[(users["updated_at"] >= start) & ~users["active"]])


def test_zendesk_export_requires_a_start(sandbox, client):
    url = f"{sandbox.urls['zendesk']}/api/v2/incremental/tickets/cursor.json"
    response = client.get(url, auth=zendesk_auth(sandbox))
    assert response.status_code == 400 and response.json()["error"] == "InvalidValue"


# --- GA4 -----------------------------------------------------------------------------------------


def _report(client, sandbox, token, **body):
    url = f"{sandbox.urls['ga4']}/v1beta/properties/{sandbox.config.ga4_property_id}:runReport"
    return client.post(url, json=body, headers=bearer(token))


def test_ga4_report_pages_per_user_day_rows_that_add_up_to_the_world(sandbox, client):
    token = oauth_token(client, sandbox, "ga4")["access_token"]
    request = {
        "dateRanges": [{"startDate": "2020-01-01", "endDate": "today"}],
        "dimensions": [{"name": "date"}, {"name": "customUser:user_id"}],
        "metrics": [{"name": "sessions"}, {"name": "purchaseRevenue"}],
        "limit": 100,
    }
    rows, offset = [], 0
    while True:
        body = _report(client, sandbox, token, **request, offset=offset).raise_for_status().json()
        rows += body["rows"]
        offset += 100
        if offset >= body["rowCount"]:
            break
    assert [h["name"] for h in body["dimensionHeaders"]] == ["date", "customUser:user_id"]
    assert body["metricHeaders"][1] == {"name": "purchaseRevenue", "type": "TYPE_CURRENCY"}
    keys = [tuple(v["value"] for v in r["dimensionValues"]) for r in rows]
    assert len(keys) == len(set(keys)) == body["rowCount"]
    web = sandbox.store.world.tables["web_user_days"]
    assert sum(int(r["metricValues"][0]["value"]) for r in rows) == web["sessions"].sum()
    revenue = sum(float(r["metricValues"][1]["value"]) for r in rows)
    assert revenue == pytest.approx(web["revenue"].sum(), abs=0.01 * len(rows))
    assert all(len(k[0]) == 8 and k[0].isdigit() for k in keys)


def test_ga4_empty_report_has_no_rows_and_unknown_fields_are_rejected(sandbox, client):
    token = oauth_token(client, sandbox, "ga4")["access_token"]
    empty = _report(
        client, sandbox, token,
        dateRanges=[{"startDate": "2001-01-01", "endDate": "2001-01-02"}],
        metrics=[{"name": "sessions"}],
    ).json()  # fmt: skip
    assert "rows" not in empty and "rowCount" not in empty
    bad = _report(
        client, sandbox, token,
        dateRanges=[{"startDate": "7daysAgo", "endDate": "today"}],
        metrics=[{"name": "bounceRateOfMars"}],
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


# --- Enrichment ------------------------------------------------------------------------------


def _find(client, sandbox, email):
    url = f"{sandbox.urls['enrichment']}/v2/people/find"
    return client.get(
        url, params={"email": email}, headers=bearer(sandbox.credentials.enrichment_api_key)
    )


def test_enrichment_answers_known_queued_and_unknown_people(sandbox, client):
    index = enrichment.email_index(sandbox.store.world)
    share = sandbox.config.enrichment_queued_share
    by_person: dict[int, list[str]] = {}
    for address, person in index.items():
        by_person.setdefault(person, []).append(address)
    direct = next(p for p in by_person if not enrichment.is_queued(p, share))
    queued = next(p for p in by_person if enrichment.is_queued(p, share))
    first = _find(client, sandbox, by_person[direct][0])
    assert first.status_code == 200
    again = _find(client, sandbox, by_person[direct][-1].upper())
    assert again.json()["demographics"] == first.json()["demographics"]
    assert set(first.json()["demographics"]) == {"ageRange", "incomeBand", "householdSize"}
    assert first.json()["employment"]["title"]
    assert _find(client, sandbox, by_person[queued][0]).status_code == 202
    assert _find(client, sandbox, by_person[queued][0]).status_code == 200
    assert _find(client, sandbox, "nobody@nowhere.example").status_code == 404
    assert _find(client, sandbox, "bob@@x").status_code == 422


# --- rate limits and faults ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["seconds", "http-date", "zero"])
def test_over_the_rate_limit_answers_429_with_retry_after(sandbox, client, form, faults_cleared):
    base = sandbox.urls["hubspot"]
    policy = {"requests": 2, "per_seconds": 30, "retry_after": form}
    client.post(f"{base}/_sandbox/ratelimit", json=policy).raise_for_status()
    url = f"{base}/crm/v3/objects/contacts"
    statuses = [client.get(url, headers=hubspot_auth(sandbox)).status_code for _ in range(2)]
    limited = client.get(url, headers=hubspot_auth(sandbox))
    assert statuses == [200, 200] and limited.status_code == 429
    value = limited.headers["Retry-After"]
    if form == "seconds":
        assert 1 <= int(value) <= 30
    elif form == "zero":
        assert value == "0"
    else:
        wait = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        assert 0 < wait <= 31
    other = oauth_token(client, sandbox, "hubspot")["access_token"]
    assert client.get(url, headers=bearer(other)).status_code == 200  # limits are per credential
    client.delete(f"{base}/_sandbox/ratelimit")
    assert client.get(url, headers=hubspot_auth(sandbox)).status_code == 200


def test_enrichment_per_minute_quota_answers_429(sandbox, client, faults_cleared):
    base = sandbox.urls["enrichment"]
    client.post(f"{base}/_sandbox/ratelimit", json={"requests": 1, "per_seconds": 60})
    assert _find(client, sandbox, "nobody@nowhere.example").status_code == 404
    limited = _find(client, sandbox, "nobody@nowhere.example")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60


def _contacts(client, sandbox) -> httpx.Response:
    url = f"{sandbox.urls['hubspot']}/crm/v3/objects/contacts"
    return client.get(url, params={"limit": 20}, headers=hubspot_auth(sandbox))


def _add_fault(client, sandbox, api="hubspot", **fault):
    response = client.post(f"{sandbox.urls[api]}/_sandbox/faults", json=fault)
    assert response.status_code == 201, response.text


def test_5xx_fault_fails_the_next_request_then_clears_itself(sandbox, client, faults_cleared):
    _add_fault(client, sandbox, kind="5xx", status=502, count=1)
    assert _contacts(client, sandbox).status_code == 502
    assert _contacts(client, sandbox).status_code == 200


@pytest.mark.parametrize("api", ["zendesk", "ga4", "enrichment"])
def test_5xx_fault_works_on_every_api(sandbox, client, api, faults_cleared):
    method, url, kwargs = _good_request(client, sandbox, api)
    _add_fault(client, sandbox, api, kind="5xx", count=1)
    assert client.request(method, url, **kwargs).status_code == 503
    assert client.request(method, url, **kwargs).status_code in (200, 404)


def test_every_nth_fault_is_deterministic_until_deleted(sandbox, client, faults_cleared):
    _add_fault(client, sandbox, kind="5xx", every_n=3)
    statuses = [_contacts(client, sandbox).status_code for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]
    client.delete(f"{sandbox.urls['hubspot']}/_sandbox/faults")
    assert {_contacts(client, sandbox).status_code for _ in range(3)} == {200}


def test_random_rate_faults_repeat_with_the_same_seed(sandbox, client, faults_cleared):
    patterns = []
    for _ in range(2):
        _add_fault(client, sandbox, kind="5xx", rate=0.5, seed=11)
        patterns.append([_contacts(client, sandbox).status_code for _ in range(12)])
        client.delete(f"{sandbox.urls['hubspot']}/_sandbox/faults")
    assert patterns[0] == patterns[1] and {200, 503} == set(patterns[0])


def test_slow_fault_delays_the_response(sandbox, client, faults_cleared):
    _add_fault(client, sandbox, kind="slow", delay_s=0.4, count=1)
    started = time.monotonic()
    assert _contacts(client, sandbox).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    _contacts(client, sandbox)
    assert time.monotonic() - started < 0.4


def test_drop_fault_closes_the_connection_without_a_response(sandbox, client, faults_cleared):
    _add_fault(client, sandbox, kind="drop", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        _contacts(client, sandbox)
    assert _contacts(client, sandbox).status_code == 200


def test_truncate_fault_cuts_the_json_body(sandbox, client, faults_cleared):
    whole = _contacts(client, sandbox).content
    _add_fault(client, sandbox, kind="truncate", count=1)
    cut = _contacts(client, sandbox)
    assert (
        cut.status_code == 200 and whole.startswith(cut.content) and len(cut.content) < len(whole)
    )
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    assert _contacts(client, sandbox).json()["results"]


def test_rate_limit_fault_answers_429_with_retry_after(sandbox, client, faults_cleared):
    _add_fault(client, sandbox, kind="rate_limit", count=1)
    limited = _contacts(client, sandbox)
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert _contacts(client, sandbox).status_code == 200


def test_health_reports_active_faults(sandbox, client, faults_cleared):
    _add_fault(client, sandbox, kind="slow", every_n=5)
    health = client.get(f"{sandbox.urls['hubspot']}/_sandbox/health").json()
    assert health["status"] == "ok" and health["faults"][0]["kind"] == "slow"
    assert (
        client.post(f"{sandbox.urls['hubspot']}/_sandbox/faults", json={"kind": "x"}).status_code
        == 400
    )


# --- mutations -----------------------------------------------------------------------------------


def _changed_ids(changes: list, table: str) -> set[int]:
    """Ids a run of ChangeSets upserted or deleted in one table."""
    ids = set()
    for change in changes:
        if table in change.upserts:
            ids |= served_ids(change.upserts[table])
        ids |= {int(i) for i in change.deletes.get(table, [])}
    return ids


def test_mutations_show_up_in_search_archive_and_incremental_exports(sandbox, client, changesets):
    tables = sandbox.store.world.tables
    newest_contact = tables["crm_contacts"]["lastmodifieddate"].max()
    _, ticket_cursor = export_all(client, sandbox, "tickets", start_time=0)
    _, user_cursor = export_all(client, sandbox, "users", start_time=0)
    base = sandbox.urls["hubspot"]
    seen = len(changesets)
    for seed in range(8, 16):  # until some ticket has been deleted too
        response = client.post(f"{base}/_sandbox/mutate", json={"people": 300, "seed": seed})
        assert response.status_code == 200, response.text
        if _changed_ids(changesets[seen:], "support_tickets") & served_ids(
            tables["support_tickets"][tables["support_tickets"]["status"] == "deleted"]
        ):
            break
    changes = changesets[seen:]
    assert changes and all(_changed_ids(changes, t) for t in ("crm_contacts", "support_users"))

    url = f"{base}/crm/v3/objects/contacts/search"
    found = search_all(
        client, url, hubspot_auth(sandbox), incremental_search(modified("GT", newest_contact))
    )
    contacts = tables["crm_contacts"]
    live = contacts[~contacts["archived"].astype(bool)]
    assert {int(r["id"]) for r in found} == _changed_ids(changes, "crm_contacts") & served_ids(live)
    archived = list_all(
        client, f"{base}/crm/v3/objects/contacts", hubspot_auth(sandbox), limit=100, archived="true"
    )
    gone = {int(i) for change in changes for i in change.deletes.get("crm_contacts", [])}
    assert gone and gone <= {int(r["id"]) for r in archived}
    assert all(r["archived"] and r["archivedAt"] for r in archived)

    for kind, cursor, table in (
        ("tickets", ticket_cursor, "support_tickets"),
        ("users", user_cursor, "support_users"),
    ):
        since, _ = export_all(client, sandbox, kind, cursor=cursor)
        assert sorted(r["id"] for r in since) == sorted(_changed_ids(changes, table))
        deleted = {int(i) for change in changes for i in change.deletes.get(table, [])}
        flagged = {
            r["id"] for r in since if r.get("status") == "deleted" or r.get("active") is False
        }
        assert deleted and deleted <= flagged
