"""Identity resolution per data shape: quality against truth, blocking recall, time and memory,
with Splink 5 timed on the same data in the same run.

    .venv/bin/python bench/identity.py                       # FEBRL 1-4, own shapes, Splink
    .venv/bin/python bench/identity.py --shapes email --people 560000 --no-splink   # ~1M

Shapes (`identity_data`): `febrl1`..`febrl4` (public; name/address/dob, soc_sec_id left out),
`typo` (own FEBRL-style generator: no email, no phone), `email` (own email-rich multi-source
generator), `email_removed` (the same records without their email and phone columns) and
`sandbox` (the sandbox world, as before, plus an incremental run after `INCREMENTAL_EDITS`
edits). Every engine and Splink run is a fresh child process reading the records from
Parquet, so its peak RSS is its own. Precision/recall/F1 are pairwise against truth, which
neither tool sees; blocking recall is the share of true pairs among the engine's candidates,
measured after (and apart from) the timed resolution. Splink is reported at its best
threshold among `SPLINK_THRESHOLDS` (its F1 at 0.9 in brackets), which flatters it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RECORDS_PER_PERSON = 1.8  # measured on the sandbox: identity records per generated person
INCREMENTAL_EDITS = 1_000
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)
SHAPES = ("febrl1", "febrl2", "febrl3", "febrl4", "typo", "email", "email_removed", "sandbox")


def shape_records(shape: str, people: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    import identity_data

    if shape.startswith("febrl"):
        return identity_data.febrl(int(shape[-1]))
    if shape == "typo":
        return identity_data.typo_records(people, seed)
    if shape in ("email", "email_removed"):
        records, truth = identity_data.email_rich_records(people, seed)
        return (records.drop(columns=["email", "phone"]) if shape == "email_removed"
                else records), truth  # fmt: skip
    from profile_assets.sandbox.world import generate_world
    from profile_assets_tests.identity_fixtures import person_truth, world_person_records

    world = generate_world(max(int(people / RECORDS_PER_PERSON), 100), seed=seed)
    return world_person_records(world.tables), person_truth(world.truth_records)


def _peak_gib() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: a child starts with its parent's
    high-water mark from before exec, which would report the generator's memory."""
    status = Path("/proc/self/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(kib) / 2**20


def _engine_child(records_path: str, out_path: str, incremental: bool) -> dict:
    from profile_assets.identity import resolve_incremental, resolve_records
    from profile_assets.identity.engine import candidate_record_pairs

    records = pd.read_parquet(records_path)
    start, cpu = time.perf_counter(), time.process_time()
    result = resolve_records(records)
    measured = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "peak_gib": _peak_gib(), "stages": result.stats["seconds"],
                "candidate_pairs": result.stats["candidate_pairs"]}  # fmt: skip
    result.identity_map[["source", "source_record_id", "profile_id"]].to_parquet(out_path)
    candidate_record_pairs(records).to_parquet(out_path + ".candidates")
    if incremental:
        measured["incremental"] = _incremental(records, result, resolve_incremental)
    return measured


def _incremental(records: pd.DataFrame, result, resolve_incremental) -> dict:
    """Time `resolve_incremental` after `INCREMENTAL_EDITS` records lost their phone."""
    edited = records.sample(min(INCREMENTAL_EDITS, len(records)), random_state=1).index
    changed = records.copy()
    changed.loc[edited, "phone"] = None
    start = time.perf_counter()
    again = resolve_incremental(
        changed, changed.loc[edited, ["source", "record_id"]], result.identity_map, result.state
    )
    return {"seconds": round(time.perf_counter() - start, 1),
            "re_resolved_records": again.stats["re_resolved_records"],
            "scored_pairs": again.stats["scored_pairs"]}  # fmt: skip


def _splink_child(records_path: str, out_path: str) -> dict:
    """Splink 5 on DuckDB with the comparisons its documentation uses for people, for the
    columns this shape has; trained without labels (deterministic prior, random u, EM)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    records = pd.read_parquet(records_path)
    frame = pd.DataFrame({"unique_id": records["source"] + "|" + records["record_id"]})
    for column in ("first_name", "last_name", "date_of_birth", "address_line1", "postcode",
                   "city", "email", "phone"):  # fmt: skip
        if column in records.columns:
            frame[column] = records[column].astype("string").str.lower().str.strip()
    if "phone" in frame:
        frame["phone"] = frame["phone"].str.replace(r"\D", "", regex=True).str[-9:]
    have = set(frame.columns)
    comparisons = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison(
            "date_of_birth", input_is_string=True, datetime_format="%Y-%m-%d"
        ),  # fmt: skip
        cl.JaroWinklerAtThresholds("address_line1", [0.95, 0.88]),
        cl.LevenshteinAtThresholds("postcode", [1, 2]),
        cl.ExactMatch("city").configure(term_frequency_adjustments=True),
    ]
    rules = [block_on("first_name", "last_name"), block_on("date_of_birth"),
             block_on("postcode", "substr(last_name, 1, 2)"),
             block_on("substr(first_name, 1, 3)", "substr(last_name, 1, 3)")]  # fmt: skip
    if "email" in have:
        comparisons.append(cl.EmailComparison("email"))
        rules.append(block_on("email"))
    if "phone" in have:
        comparisons.append(cl.ExactMatch("phone"))
        rules.append(block_on("phone"))
    start, cpu = time.perf_counter(), time.process_time()
    db = DuckDBAPI()
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comparisons,
                               blocking_rules_to_generate_predictions=rules)  # fmt: skip
    linker = Linker(db.register(frame), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name")
    )
    predictions = linker.inference.predict(threshold_match_probability=min(SPLINK_THRESHOLDS))
    maps = {}
    for threshold in SPLINK_THRESHOLDS:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold
        ).as_pandas_dataframe()
        maps[threshold] = clusters[["unique_id", "cluster_id"]]
    measured = {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                "peak_gib": _peak_gib()}  # fmt: skip
    pd.concat([m.assign(threshold=t) for t, m in maps.items()]).to_parquet(out_path)
    return measured


def _child(kind: str, records: Path, out: Path, *extra: str) -> dict:
    run = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(records), str(out), *extra],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(run.stdout.strip().splitlines()[-1])


def _splink_quality(out: Path, truth: pd.DataFrame) -> dict:
    from profile_assets.identity import pairwise_metrics

    maps = pd.read_parquet(out)
    split = maps["unique_id"].str.split("|", n=1, expand=True)
    maps = maps.assign(source=split[0], source_record_id=split[1], profile_id=maps["cluster_id"])
    per = {t: pairwise_metrics(m, truth) for t, m in maps.groupby("threshold")}
    best = max(per, key=lambda t: per[t]["f1"])
    return {**per[best], "threshold": best, "f1_at_0.9": per[0.9]["f1"]}


def run(shape: str, people: int, seed: int, splink: bool) -> dict:
    from profile_assets.identity import blocking_recall, pairwise_metrics

    records, truth = shape_records(shape, people, seed)
    with tempfile.TemporaryDirectory() as tmp:
        records_path, out = Path(tmp) / "records.parquet", Path(tmp) / "map.parquet"
        records.to_parquet(records_path)
        measured = _child("engine", records_path, out, str(shape == "sandbox"))
        quality = pairwise_metrics(pd.read_parquet(out), truth)
        blocked = blocking_recall(pd.read_parquet(str(out) + ".candidates"), truth)
        row = {"shape": shape, **measured, **quality, "blocking_recall": blocked["blocking_recall"]}
        if splink:
            splink_out = Path(tmp) / "splink.parquet"
            row["splink"] = {**_child("splink", records_path, splink_out),
                             **_splink_quality(splink_out, truth)}  # fmt: skip
    return row


def _print(row: dict) -> None:
    s = row.get("splink")
    splink = (f"{s['precision']:.4f} / {s['recall']:.4f} / {s['f1']:.4f} at {s['threshold']} "
              f"({s['f1_at_0.9']:.4f} at 0.9); {s['seconds']:.1f} s, {s['peak_gib']:.2f} GiB"
              if s else "–")  # fmt: skip
    print(f"| {row['shape']} | {row['records']:,} | {row['candidate_pairs']:,} "
          f"| {row['blocking_recall']:.4f} | {row['precision']:.4f} | {row['recall']:.4f} "
          f"| {row['f1']:.4f} | {row['seconds']:.1f} | {row['cpu_seconds']:.1f} "
          f"| {row['peak_gib']:.2f} | {splink} |", flush=True)  # fmt: skip
    print(f"  stage seconds: {row['stages']}", file=sys.stderr, flush=True)
    if "incremental" in row:
        print(f"  incremental after {INCREMENTAL_EDITS:,} edits: {row['incremental']}",
              file=sys.stderr, flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES[:-1]), choices=SHAPES)
    parser.add_argument("--people", type=int, default=20_000,
                        help="people for the generated shapes (sandbox: records)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, records, out, *extra = args.child
        measured = (_engine_child(records, out, extra == ["True"]) if kind == "engine"
                    else _splink_child(records, out))  # fmt: skip
        print(json.dumps(measured))
        return
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores: above 2 means contention)")
    print(
        "| shape | records | candidate pairs | blocking recall | P | R | F1 | wall s | CPU s "
        "| peak GiB | Splink P / R / F1 (best threshold); time, memory |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for shape in args.shapes:
        _print(run(shape, args.people, args.seed, not args.no_splink))


if __name__ == "__main__":
    main()
