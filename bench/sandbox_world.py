"""Time and peak memory to generate sandbox worlds (target at 1M people: <= 2 min, <= 4 GiB),
and how hard each world is for naive methods.

    .venv/bin/python bench/sandbox_world.py --sizes 100000 1000000

Each size runs in a fresh process, so peak RSS is that world's alone. Generation is timed on the
wall clock and in CPU seconds; generation is single-threaded, so on a shared machine (see the
load average, 2 cores) the wall clock also counts waiting for a core. Peak RSS is read right
after generation, before the hardness measures run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

TARGET_SECONDS = 120
TARGET_GIB = 4.0


def measure(n_people: int, seed: int) -> dict:
    """Generate one world in this process and measure it."""
    from profile_assets.sandbox.hardness import churn_baselines, email_pair_recall, namesake_people
    from profile_assets.sandbox.pools import build_pools
    from profile_assets.sandbox.world import generate_world

    build_pools()  # a one-off per process (about 0.5 s), not part of a world's cost
    load = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    world = generate_world(n_people, seed=seed)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    pairs = email_pair_recall(world)
    churn = churn_baselines(world)
    return {
        "people": n_people,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_gib": round(peak_gib, 2),
        "load_avg": round((load + os.getloadavg()[0]) / 2, 1),
        "source_rows": sum(len(f) for f in world.tables.values()),
        "truth_rows": len(world.truth_records),
        "email_pair_recall": round(pairs.recall, 3),
        "true_pairs": pairs.true_pairs,
        "namesake_people": namesake_people(world.people["first_name"], world.people["last_name"]),
        "recency_auc": round(churn.recency_auc, 3),
        "model_auc": round(churn.model_auc, 3),
    }


def _table(results: list[dict]) -> str:
    lines = [
        "| people | wall s | CPU s | load avg | peak GiB | source rows | truth rows "
        "| email pair recall "
        "| namesake people | churn AUC recency / model |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['people']:,} | {r['wall_s']} | {r['cpu_s']} | {r['load_avg']} | {r['peak_gib']} "
            f"| {r['source_rows']:,} | {r['truth_rows']:,} | {r['email_pair_recall']} "
            f"| {r['namesake_people']:,} | {r['recency_auc']} / {r['model_auc']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.seed)))
        return
    results = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--child", str(size), "--seed", str(args.seed)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(f"{size:,} people done: {results[-1]}", file=sys.stderr)
    print(_table(results))
    largest = results[-1]
    within = largest["wall_s"] <= TARGET_SECONDS and largest["peak_gib"] <= TARGET_GIB
    print(f"\ntargets at {largest['people']:,}: <= {TARGET_SECONDS} s, <= {TARGET_GIB} GiB: "
          f"{'met' if within else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
