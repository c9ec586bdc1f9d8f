"""Identity resolution at scale: wall time, peak memory and pairwise quality against truth.

    .venv/bin/python bench/identity.py --records 100000 1000000

Per size: a sandbox world big enough for about `--records` person records (CRM contacts,
support users, storefront customers, file contacts) is generated and its records written to
Parquet; a fresh child process then reads them and runs `resolve_records` at default
settings, so the peak RSS it reports is the engine's (plus the input frame), not the world
generator's. Precision/recall/F1 are pairwise against the world's ground truth, which the
engine never sees. Target at 1M records on 2 cores: <= 60 s and <= 4 GiB. CPU seconds are
printed too: on a shared machine wall time includes waiting for the other jobs' cores.

After the full run, the child edits `INCREMENTAL_EDITS` records (their phone removed) and
times `resolve_incremental` on the result: what a small daily change costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RECORDS_PER_PERSON = 1.8  # measured on the sandbox: identity records per generated person
INCREMENTAL_EDITS = 1_000


def _prepare(records_wanted: int, seed: int, directory: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT))
    from profile_assets.sandbox.world import generate_world
    from profile_assets_tests.identity_fixtures import person_truth, world_person_records

    world = generate_world(max(int(records_wanted / RECORDS_PER_PERSON), 100), seed=seed)
    records_path, truth_path = directory / "records.parquet", directory / "truth.parquet"
    world_person_records(world.tables).to_parquet(records_path)
    truth = person_truth(world.truth_records)
    truth.astype({"source": str, "source_id": str}).to_parquet(truth_path)
    return records_path, truth_path


def _child(records_path: str, out_path: str) -> None:
    """Runs in a fresh process: resolve, then report time and peak memory."""
    from profile_assets.identity import resolve_incremental, resolve_records

    records = pd.read_parquet(records_path)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = resolve_records(records)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    result.identity_map[["source", "source_record_id", "profile_id"]].to_parquet(out_path)
    stats = {k: v for k, v in result.stats.items() if k != "model"}
    peak_gib = after.ru_maxrss / 2**20
    edited = records.sample(min(INCREMENTAL_EDITS, len(records)), random_state=1).index
    changed = records.copy()
    changed.loc[edited, "phone"] = None
    start = time.perf_counter()
    again = resolve_incremental(
        changed, changed.loc[edited, ["source", "record_id"]], result.identity_map, result.state
    )
    incremental = {
        "seconds": time.perf_counter() - start,
        "re_resolved_records": again.stats["re_resolved_records"],
        "scored_pairs": again.stats["scored_pairs"],
    }
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_gib": peak_gib,
                      "stats": stats, "incremental": incremental}))  # fmt: skip


def run(records_wanted: int, seed: int) -> dict:
    from profile_assets.identity import pairwise_metrics

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        records_path, truth_path = _prepare(records_wanted, seed, directory)
        out_path = directory / "map.parquet"
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(records_path), str(out_path)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        metrics = pairwise_metrics(pd.read_parquet(out_path), pd.read_parquet(truth_path))
    return {"records": metrics["records"], **measured, **metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores: above 2 means contention)")
    print("| records | profiles | candidate pairs | wall s | CPU s | peak GiB | P | R | F1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.records:
        r = run(size, args.seed)
        s = r["stats"]
        print(
            f"| {r['records']:,} | {s['profiles']:,} | {s['candidate_pairs']:,} "
            f"| {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['peak_gib']:.2f} "
            f"| {r['precision']:.4f} "
            f"| {r['recall']:.4f} | {r['f1']:.4f} |",
            flush=True,
        )
        print(f"  stage seconds: {s['seconds']}", flush=True)
        print(f"  incremental after {INCREMENTAL_EDITS:,} edits: {r['incremental']}", flush=True)


if __name__ == "__main__":
    main()
