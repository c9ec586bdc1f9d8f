"""The sandbox as one long-running process: `python -m profile_assets.sandbox.service`.

Generates the seeded world, writes its ground truth (for tests and benchmarks only), starts
the storefront Postgres and loads the world into it, serves the vendor APIs on 127.0.0.1, and
records everything a connector needs in the state file. World mutations posted to the control
endpoint are applied to the APIs and, as real transactions, to Postgres. SIGTERM stops all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import threading

from profile_assets import settings
from profile_assets.sandbox.apis.server import start_sandbox_apis
from profile_assets.sandbox.file_drops import write_file_drops
from profile_assets.sandbox.storefront import (
    apply_changes,
    create_schema,
    load_world,
    start_storefront,
)
from profile_assets.sandbox.world import generate_world, write_ground_truth


def ground_truth_path():
    return settings.sandbox_dir() / "ground_truth"


def _write_state(state: dict) -> None:
    path = settings.sandbox_state_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)  # readers never see half a file
    path.chmod(0o600)  # it holds sandbox credentials


def deliver_partner_files(world) -> int:
    """The partner's deliveries land in drop/contacts and drop/orders. Written elsewhere and
    renamed in, so the loader never sees half a file; re-deliveries are skipped by its
    content hash."""
    outbox = settings.sandbox_dir() / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    files = write_file_drops(world, outbox)
    for path in files:
        kind = "contacts" if path.name.startswith("file_contacts") else "orders"
        target = settings.drop_dir() / kind
        target.mkdir(parents=True, exist_ok=True)
        path.replace(target / path.name)
    return len(files)


def serve(people: int, seed: int) -> None:
    settings.sandbox_dir().mkdir(parents=True, exist_ok=True)
    world = generate_world(people, seed=seed)
    write_ground_truth(world, ground_truth_path())
    deliver_partner_files(world)

    storefront = start_storefront(settings.sandbox_dir() / "storefront")
    loader = storefront.connect()
    create_schema(loader)
    load_world(loader, world)
    lock = threading.Lock()

    def on_changes(changeset) -> None:
        with lock:
            apply_changes(loader, changeset)

    apis = start_sandbox_apis(world, on_changes=on_changes)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _write_state(
        {
            "pid": os.getpid(),
            "ready": True,
            "people": people,
            "seed": seed,
            "as_of": world.as_of.isoformat(),
            "control_url": apis.urls["hubspot"],
            "urls": apis.urls,
            "ground_truth": str(ground_truth_path()),
            "env": {**apis.env(), "STOREFRONT_DSN": storefront.dsn},
        }
    )
    try:
        stop.wait()
    finally:
        apis.stop()
        loader.close()
        storefront.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    serve(args.people, args.seed)


if __name__ == "__main__":
    main()
