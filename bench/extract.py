"""REST extraction: records/s of a full sync per source, and what an incremental sync costs.

    .venv/bin/python bench/extract.py --people 100000

The sandbox APIs run in a child process (so the client does not share their interpreter
lock), rate limits off: this measures our extraction and the servers, not vendor quotas. The
warehouse is a fresh DuckDB file. Steps:

1. full sync of HubSpot contacts and deals, Zendesk users and tickets (one run each), and GA4
   over every day of the world in 31-day runs (the asset's backfill policy);
2. `POST /_sandbox/mutate` changing 1% of the people;
3. incremental sync of every stream, and GA4's latest day (its daily partition).

Target: the incremental run costs <= 5% of the full run's time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx

TARGET_INCREMENTAL_SHARE = 0.05


def _serve(people: int, seed: int, ready: mp.Queue, stop: mp.Event) -> None:
    from profile_assets.sandbox.apis.server import SandboxConfig, start_sandbox_apis
    from profile_assets.sandbox.world import generate_world

    world = generate_world(people, seed=seed)
    days = world.tables["web_user_days"]["date"]
    with start_sandbox_apis(world, config=SandboxConfig(rate_limits={})) as sandbox:
        ready.put({"env": sandbox.env(), "days": (days.min(), days.max())})
        stop.wait()


def _clients(env: dict):
    from profile_assets.sources.resources import source_resources
    from profile_assets.sources.rest import connect, hubspot, zendesk

    # OAuth2 client credentials for HubSpot, as the platform uses them without a private token
    res = source_resources({k: v for k, v in env.items() if k != "HUBSPOT_ACCESS_TOKEN"})
    hub = connect.hubspot(res["hubspot"], _retry())
    desk = connect.zendesk(res["zendesk"], _retry())
    ga4 = connect.ga4(res["ga4"], _retry())
    streams = [
        hubspot.CrmReader(hub, hubspot.CONTACTS).stream(),
        hubspot.CrmReader(hub, hubspot.DEALS).stream(),
        zendesk.users_stream(desk),
        zendesk.tickets_stream(desk),
    ]
    return streams, ga4


def _retry():
    from profile_assets.sources.rest.client import RetrySettings

    return RetrySettings()


def _chunks(first: date, last: date, days: int = 31):
    start = first
    while start <= last:
        end = min(start + timedelta(days=days - 1), last)
        yield start, end
        start = end + timedelta(days=1)


def _run(conn, streams, ga4_client, ga4_days) -> dict[str, tuple[int, float]]:
    """{source: (records read, seconds)} for one run of every stream and GA4 over the days."""
    from profile_assets.sources.rest import ga4
    from profile_assets.sources.rest.sync import sync

    run_id = str(uuid.uuid4())
    out = {}
    for stream in streams:
        started = time.perf_counter()
        result = sync(conn, stream, run_id=run_id)
        out[stream.name] = (result.tally.read, time.perf_counter() - started)
    client, property_id = ga4_client
    started, read = time.perf_counter(), 0
    for first, last in ga4_days:
        tally, _ = ga4.load_days(conn, client, property_id, first, last, run_id=run_id)
        read += tally.read
    out["ga4.web_user_days"] = (read, time.perf_counter() - started)
    return out


def _table(full: dict, incremental: dict, changed: int) -> str:
    lines = [
        "| source | full: records | full: s | full: records/s | incr: records | incr: s "
        "| incr/full time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (n, secs) in full.items():
        m, isecs = incremental[name]
        lines.append(
            f"| {name} | {n:,} | {secs:.2f} | {n / secs:,.0f} | {m:,} | {isecs:.2f} "
            f"| {isecs / secs:.1%} |"
        )
    streams = [name for name in full if not name.startswith("ga4")]
    verdicts = []
    for label, names in (("cursor streams", streams), ("all sources", list(full))):
        total_n, total_s = (sum(full[n][i] for n in names) for i in (0, 1))
        inc_n, inc_s = (sum(incremental[n][i] for n in names) for i in (0, 1))
        share = inc_s / total_s
        lines.append(
            f"| **{label}** | {total_n:,} | {total_s:.2f} | {total_n / total_s:,.0f} "
            f"| {inc_n:,} | {inc_s:.2f} | **{share:.1%}** |"
        )
        verdict = "meets" if share <= TARGET_INCREMENTAL_SHARE else "MISSES"
        verdicts.append(f"{label} {share:.1%} ({verdict} <= {TARGET_INCREMENTAL_SHARE:.0%})")
    lines.append(
        f"\nIncremental after {changed:,} people changed, as a share of the full sync's time: "
        + "; ".join(verdicts)
        + "."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--changed-share", type=float, default=0.01)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.people, args.seed, ready, stop), daemon=True)
    started = time.perf_counter()
    server.start()
    info = ready.get(timeout=1800)
    print(f"sandbox with {args.people:,} people up in {time.perf_counter() - started:.0f}s")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["PROFILE_ASSETS_HOME"] = tmp  # no stray sandbox state
            from profile_assets.warehouse import DuckDBWarehouse

            env = info["env"]
            streams, ga4_client = _clients(env)
            first, last = info["days"]
            with DuckDBWarehouse(path=str(Path(tmp) / "bench.duckdb")).connection() as conn:
                full = _run(conn, streams, ga4_client, list(_chunks(first, last)))
                for name, (n, secs) in full.items():
                    print(f"full {name}: {n:,} records in {secs:.2f}s ({n / secs:,.0f}/s)")
                changed = int(args.people * args.changed_share)
                httpx.post(
                    f"{env['HUBSPOT_BASE_URL']}/_sandbox/mutate",
                    json={"people": changed, "seed": args.seed + 1},
                    timeout=600,
                ).raise_for_status()
                incremental = _run(conn, streams, ga4_client, [(last, last)])
                again = _run(conn, [], ga4_client, [(last, last)])["ga4.web_user_days"]
        print(_table(full, incremental, changed))
        print(
            f"GA4's latest day again, with the sandbox's report cache warm: {again[1]:.2f}s "
            "(the first read after a mutation pays the sandbox's re-aggregation)."
        )
    finally:
        stop.set()
        server.join(30)


if __name__ == "__main__":
    main()
