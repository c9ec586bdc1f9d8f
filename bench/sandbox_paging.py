"""Paging throughput of the simulated vendor APIs (target: CRM contacts >= 5,000 records/s).

    .venv/bin/python bench/sandbox_paging.py --people 20000

The APIs run in a child process, as `profile-assets sandbox up` runs them, so the client does
not share the server's interpreter lock. Rate limits are off: this measures the servers. Each
scenario pages through its whole collection `--passes` times on one keep-alive connection and
reports the best pass.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable, Iterator

import httpx

TARGET_RECORDS_PER_S = 5_000


def _serve(people: int, seed: int, ready: mp.Queue, stop: mp.Event) -> None:
    from profile_assets.sandbox.apis.server import SandboxConfig, start_sandbox_apis
    from profile_assets.sandbox.world import generate_world

    started = time.perf_counter()
    world = generate_world(people, seed=seed)
    generated = time.perf_counter() - started
    with start_sandbox_apis(world, config=SandboxConfig(rate_limits={})) as sandbox:
        ready.put({"env": sandbox.env(), "counts": sandbox.store.counts(), "world_s": generated})
        stop.wait()


Page = Callable[[httpx.Client, str | None], tuple[int, str | None]]
"""Fetch one page from a cursor: (records on the page, next cursor or None)."""


def hubspot_list(env: dict, object_type: str, **params) -> Page:
    url = f"{env['HUBSPOT_BASE_URL']}/crm/v3/objects/{object_type}"
    headers = {"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"}

    def page(client: httpx.Client, after: str | None) -> tuple[int, str | None]:
        query = {"limit": 100, **params} | ({"after": after} if after else {})
        body = client.get(url, params=query, headers=headers).raise_for_status().json()
        return len(body["results"]), body.get("paging", {}).get("next", {}).get("after")

    return page


def hubspot_search(env: dict) -> Page:
    url = f"{env['HUBSPOT_BASE_URL']}/crm/v3/objects/contacts/search"
    headers = {"Authorization": f"Bearer {env['HUBSPOT_ACCESS_TOKEN']}"}
    since = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}
    body = {
        "filterGroups": [{"filters": [since]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 200,
    }

    def page(client: httpx.Client, after: str | None) -> tuple[int, str | None]:
        answer = client.post(url, json=body | {"after": after or "0"}, headers=headers).json()
        following = answer.get("paging", {}).get("next", {}).get("after")
        return len(answer["results"]), following if following and int(following) < 10_000 else None

    return page


def zendesk_export(env: dict, kind: str) -> Page:
    url = f"{env['ZENDESK_BASE_URL']}/api/v2/incremental/{kind}/cursor.json"
    auth = httpx.BasicAuth(f"{env['ZENDESK_EMAIL']}/token", env["ZENDESK_API_TOKEN"])

    def page(client: httpx.Client, cursor: str | None) -> tuple[int, str | None]:
        query = {"cursor": cursor} if cursor else {"start_time": 0}
        body = client.get(url, params=query, auth=auth).raise_for_status().json()
        return len(body[kind]), None if body["end_of_stream"] else body["after_cursor"]

    return page


def _walk(client: httpx.Client, page: Page) -> Iterator[tuple[int, float]]:
    cursor = None
    while True:
        started = time.perf_counter()
        count, cursor = page(client, cursor)
        yield count, time.perf_counter() - started
        if cursor is None:
            return


def measure(page: Page, passes: int) -> dict[str, float]:
    best: dict[str, float] = {}
    with httpx.Client(timeout=30) as client:
        for _ in range(passes):
            started = time.perf_counter()
            pages = list(_walk(client, page))
            elapsed = time.perf_counter() - started
            records = sum(count for count, _ in pages)
            latencies = sorted(seconds for _, seconds in pages)
            result = {
                "records": records,
                "requests": len(pages),
                "seconds": elapsed,
                "records_per_s": records / elapsed,
                "p50_ms": 1000 * statistics.median(latencies),
                "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            }
            if result["records_per_s"] > best.get("records_per_s", 0):
                best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()

    context = mp.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(args.people, args.seed, ready, stop))
    server.start()
    try:
        info = ready.get(timeout=600)
        env = info["env"]
        scenarios = {
            "hubspot contacts list (default properties)": hubspot_list(env, "contacts"),
            "hubspot contacts list (all 14 properties)": hubspot_list(
                env,
                "contacts",
                properties="email,firstname,lastname,phone,address,city,zip,state,country,"
                "date_of_birth,storefront_customer_id,createdate,lastmodifieddate,hs_object_id",
            ),
            "hubspot deals list + associations": hubspot_list(
                env, "deals", associations="contacts"
            ),
            "hubspot contacts search (<=10k, 200/page)": hubspot_search(env),
            "zendesk users incremental (1000/page)": zendesk_export(env, "users"),
            "zendesk tickets incremental (1000/page)": zendesk_export(env, "tickets"),
        }
        print(
            f"world: {args.people:,} people generated in {info['world_s']:.1f} s; {info['counts']}"
        )
        print("| scenario | records | requests | records/s | p50 ms | p99 ms |")
        print("|---|---:|---:|---:|---:|---:|")
        results = {}
        for name, page in scenarios.items():
            r = results[name] = measure(page, args.passes)
            print(
                f"| {name} | {r['records']:,} | {r['requests']:,} | {r['records_per_s']:,.0f} "
                f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            )
        contacts = results["hubspot contacts list (default properties)"]["records_per_s"]
        verdict = "PASS" if contacts >= TARGET_RECORDS_PER_S else "FAIL"
        print(f"CRM contacts paging: {contacts:,.0f} records/s (target >= 5,000): {verdict}")
    finally:
        stop.set()
        server.join(30)


if __name__ == "__main__":
    main()
