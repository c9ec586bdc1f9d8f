"""Serving: snapshot build, in-process lookups and renders, HTTP throughput vs a baseline.

    .venv/bin/python bench/serving.py --people 1000000

1. Synthetic inputs for N profiles (one to three records each, an order for half, an open
   cart with lines for a tenth), email keys from identity's own key function; not timed.
2. Full build: records + keys (record.py) and the SQLite publish (snapshot.py), timed.
3. In-process: `SnapshotReader.get` on random ids and stored addresses across all N profiles
   (mostly cache misses: the cache holds 200k of them), then `lookup` + `render("winback")`.
4. HTTP with wrk (-t2 -c16, a Lua script rotating 10,000 random addresses): our server
   (`profile-assets serve`, raw ASGI on uvicorn + uvloop/httptools, 2 workers) and a plain
   Starlette + uvicorn (1 worker, defaults) + SQLite endpoint on the same snapshot file.
   Client and servers share the machine's two cores.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WRK_SECONDS = 10
KEY = "bench-key"

BASELINE = textwrap.dedent(
    """
    import sqlite3, sys, threading
    import orjson, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    local = threading.local()

    def connection():
        if not hasattr(local, "con"):
            local.con = sqlite3.connect(sys.argv[2], check_same_thread=False)
        return local.con

    async def profile(request):
        key = request.path_params["key"].strip().lower()
        row = connection().execute(
            "SELECT p.record FROM keys k JOIN profiles p ON p.pid = k.pid WHERE k.lookup_key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(orjson.loads(row[0]))

    app = Starlette(routes=[Route("/v1/profiles/{key}", profile)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def synthetic_inputs(people: int, seed: int = 7):
    from profile_assets.features.derived import DERIVED_COLUMNS
    from profile_assets.privacy.suppression import canonical_email_keys
    from profile_assets.serving.record import ServingInputs

    rng = np.random.default_rng(seed)
    ids = pd.Series([f"P{i:015x}" for i in range(people)], dtype=object)
    first = rng.choice(["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana"], people)
    last = rng.choice(["Lima", "Ek", "Wang", "Khan", "Ross", "Adeyemi", "Berg", "Sato"], people)
    domain = rng.choice(["gmail.com", "yahoo.com", "example.org", "outlook.com"], people)
    email = pd.Series(
        [
            f"{a.lower()}.{b.lower()}{i}@{d}"
            for i, (a, b, d) in enumerate(zip(first, last, domain, strict=True))
        ],
        dtype=object,
    )
    key = canonical_email_keys(email)
    now = pd.Timestamp("2026-12-01", tz="UTC")
    golden = pd.DataFrame(
        {
            "profile_id": ids, "first_name": first, "last_name": last,
            "full_name": pd.Series(first, dtype=object) + " " + last, "email": email,
            "email_key": key, "phone": None, "date_of_birth": pd.NaT, "city": "Lisbon",
            "state": None, "postcode": "1000-001", "country": "PT",
            "first_seen_at": now - pd.to_timedelta(rng.integers(1, 900, people), unit="D"),
            "sources": "crm_contacts,storefront_customers", "as_of": now,
        }
    )  # fmt: skip
    for column in DERIVED_COLUMNS:
        golden[column] = rng.integers(0, 10, people) if column not in golden else golden[column]
    golden["rfm_segment"] = rng.choice(["champions", "at_risk", "lost", "no_purchases"], people)
    records = np.arange(people)
    identity_map = pd.DataFrame(
        {
            "source": "storefront_customers",
            "source_record_id": records.astype(str),
            "profile_id": ids,
        }
    )
    contacts = identity_map[["source", "source_record_id"]].assign(email=email, email_key=key)
    buyers = records[rng.random(people) < 0.5]
    orders = pd.DataFrame(
        {
            "source": "storefront_orders", "order_id": buyers.astype(str),
            "customer_source": "storefront_customers", "customer_record_id": buyers.astype(str),
            "order_ts": now - pd.to_timedelta(rng.integers(1, 400, len(buyers)), unit="D"),
            "amount": rng.gamma(2, 40, len(buyers)).round(2), "currency": "EUR",
            "status": "completed", "is_deleted": False, "schema_version": "1",
        }
    )  # fmt: skip
    carted = records[rng.random(people) < 0.1]
    carts = pd.DataFrame(
        {
            "cart_id": carted.astype(str), "customer_record_id": carted.astype(str),
            "status": "open", "created_at": now - pd.Timedelta(days=3),
            "updated_at": now - pd.Timedelta(days=2), "items": 2, "cart_value": 57.5,
            "converted_order_id": None, "schema_version": "1",
        }
    )  # fmt: skip
    lines = pd.DataFrame(
        {
            "cart_id": np.repeat(carted.astype(str), 2),
            "sku": rng.choice([f"SKU-{i:05d}" for i in range(500)], 2 * len(carted)),
            "quantity": 1, "unit_price": 28.75,
        }
    )  # fmt: skip
    web = pd.DataFrame(
        {"customer_record_id": carted.astype(str), "activity_date": "2026-11-28", "sessions": 2}
    )
    return ServingInputs(
        golden=golden, identity_map=identity_map, contacts=contacts, orders=orders, carts=carts,
        web_activity=web, cart_lines=lines, scores=None,
    )  # fmt: skip


def sample_emails(keys: list[str], n: int) -> list[str]:
    return [k for k in random.choices(keys, k=n * 3) if "@" in k][:n]


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    values = np.array(samples_ns) / 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def in_process(directory: Path, keys: list[str], n: int = 100_000) -> dict[str, tuple]:
    from profile_assets.serving.lookup import SnapshotReader
    from profile_assets.serving.templates import render

    reader = SnapshotReader(directory)
    gc.collect()
    gc.freeze()  # the 2M-key sample lists are not garbage: keep full collections off them
    out = {}
    clock = time.perf_counter_ns
    for label, sample in (
        ("lookup by id", [k for k in random.choices(keys, k=n * 3) if "@" not in k][:n]),
        ("lookup by email as stored", [k for k in random.choices(keys, k=n * 3) if "@" in k][:n]),
        ("lookup by email, upper-cased", [k.upper() for k in sample_emails(keys, n)]),
    ):  # fmt: skip
        times = []
        for key in sample:
            started = clock()
            found = reader.get(key)
            times.append(clock() - started)
            assert found is not None, key
        out[label] = percentiles(times)
    out["lookup (cache hit)"] = percentiles(_timed(reader.get, sample[:1000] * 20))
    emails = [k for k in random.choices(keys, k=n) if "@" in k][: n // 5]
    out["lookup + render winback html"] = percentiles(
        _timed(lambda k: render("winback", reader.lookup(k), "html"), emails)
    )
    return out


def _timed(fn, arguments) -> list[int]:
    clock, times = time.perf_counter_ns, []
    for argument in arguments:
        started = clock()
        fn(argument)
        times.append(clock() - started)
    return times


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def wrk(port: int, paths: list[str], script_dir: Path) -> dict[str, float]:
    script = script_dir / "paths.lua"
    quoted = ",".join(f'"{p}"' for p in paths)
    script.write_text(
        f"local paths = {{{quoted}}}\nlocal i = math.random(#paths)\n"
        f'local headers = {{["X-API-Key"] = "{KEY}"}}\n'
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i], headers)\nend\n'
    )
    run = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{WRK_SECONDS}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    text = run.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", text).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", text).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def http(home: Path, snapshot: Path, keys: list[str], workers: int) -> dict[str, dict]:
    emails = [k for k in random.choices(keys, k=40_000) if "@" in k][:10_000]
    paths = [f"/v1/profiles/{e}" for e in emails]
    env = {**os.environ, "PROFILE_ASSETS_HOME": str(home), "PROFILE_ASSETS_API_KEYS": KEY}
    ours_port, base_port = _free_port(), _free_port()
    servers = {
        f"ours (raw ASGI, uvicorn+uvloop, {workers} workers)": (
            [sys.executable, "-m", "profile_assets.cli", "serve", "--port", str(ours_port),
             "--workers", str(workers)], ours_port),  # fmt: skip
        "baseline (Starlette + uvicorn, 1 worker)": (
            [sys.executable, "-c", BASELINE, str(base_port), str(snapshot)], base_port),
    }  # fmt: skip
    results = {}
    for label, (command, port) in servers.items():
        process = subprocess.Popen(command, env=env, cwd=ROOT)
        try:
            _wait(port, process)
            wrk(port, paths[:500], home)  # warm-up
            results[label] = wrk(port, paths, home)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from profile_assets.serving.record import build_snapshot_frames
    from profile_assets.serving.snapshot import publish

    random.seed(1)
    started = time.perf_counter()
    inputs = synthetic_inputs(args.people)
    print(f"synthetic inputs for {args.people:,} profiles: {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        home = Path(tmp)
        started, cpu = time.perf_counter(), time.process_time()
        frames = build_snapshot_frames(inputs)
        built = time.perf_counter() - started
        report = publish(frames, home / "serving")
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        keys = frames.keys["lookup_key"].tolist()
        del frames, inputs
        print("\n| step | value |\n|---|---:|")
        print(f"| records + keys built (s) | {built:.1f} |")
        print(f"| full snapshot build incl. SQLite write (s) | {total:.1f} |")
        print(f"| same, CPU seconds of the process | {cpu:.1f} |")
        print(f"| load average at the end of the build | {os.getloadavg()[0]:.1f} |")
        print(f"| snapshot size (MiB) | {report.size_bytes / 2**20:.0f} |")
        print(f"| profiles / lookup keys | {report.profiles:,} / {len(keys):,} |")
        print("\n| in-process | p50 us | p99 us |\n|---|---:|---:|")
        for label, (p50, p99) in in_process(home / "serving", keys).items():
            print(f"| {label} | {p50:.1f} | {p99:.1f} |")
        print(f"\n| HTTP, wrk -t2 -c16 {WRK_SECONDS}s | req/s | p50 ms | p99 ms | non-2xx |")
        print("|---|---:|---:|---:|---:|")
        results = http(home, report.path, keys, args.workers)
        for label, r in results.items():
            cells = f"{r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']}"
            print(f"| {label} | {cells} |")
        ours, base = (r["rps"] for r in results.values())
        print(f"\nratio ours / baseline: {ours / base:.2f}x")


if __name__ == "__main__":
    main()
