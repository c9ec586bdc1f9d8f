"""Scoring quality against BG/NBD and Pareto/NBD, and `score` CLI time and memory.

    .venv/bin/python bench/ml.py                 # quality tables + CLI at 1M orders
    .venv/bin/python bench/ml.py --skip-cli      # quality only
    .venv/bin/python bench/ml.py --cli-orders 200000

(a) Quality. Each dataset is cut at an as-of date; `score_orders` and both BTYD baselines
(our own `profile_assets.ml.btyd`, fitted on the same history in the same run) score every
customer seen by then, and the window after as-of is the truth:
- AUC: ROC AUC of the score against "ordered in the horizon" (BTYD: conditional expected
  order days, the usual ranking score);
- purchasers: sum of P(any order day) over realized purchasers (BG/NBD has a closed form;
  Pareto/NBD's is not computed, shown as "-");
- order days: sum of expected order days over realized order days.
Datasets: CDNOW (the classic BTYD benchmark; the `lifetimes` package ships the full 23,570-
customer master file) and two simulators that are not our sandbox (`bench/ml_worlds.py`).
Each has a split whose horizon is longer than the labelled history before as-of.

(b) CLI. A 1M-order CSV from the seasonal simulator; `profile-assets score` runs in a child
process, timed, with its peak RSS (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ml_worlds import DATASETS, load_dataset  # noqa: E402
from profile_assets.ml.btyd import Summary, fit_bgnbd, fit_pareto_nbd  # noqa: E402
from profile_assets.ml.features import OrderDays, base_features, to_day  # noqa: E402
from profile_assets.ml.labels import order_day_counts  # noqa: E402
from profile_assets.ml.orders import clean_orders  # noqa: E402
from profile_assets.ml.score import score_orders  # noqa: E402


def evaluate(orders: pd.DataFrame, as_of: str, horizon: int, seed: int = 0) -> list[dict]:
    """One row per method: AUC and predicted/realized sums on the window after as-of."""
    start = time.perf_counter()
    result = score_orders(orders, as_of, horizon, seed=seed)
    seconds = time.perf_counter() - start
    days = OrderDays.from_orders(orders)
    cutoff = to_day(as_of)
    history = base_features(days, cutoff, horizon)
    truth = order_day_counts(days, cutoff, horizon, history.index)
    bought = (truth > 0).to_numpy()
    summary = Summary.from_frame(history)
    bg, pareto = fit_bgnbd(summary, seed), fit_pareto_nbd(summary, seed)
    scores = result.scores.set_index("customer_id").loc[history.index]
    methods = {
        "model": (
            scores["purchase_propensity"],
            scores["purchase_propensity"],
            scores["expected_orders"],
        ),
        "BG/NBD": (
            bg.expected(summary, horizon),
            bg.p_any(summary, horizon),
            bg.expected(summary, horizon),
        ),
        "Pareto/NBD": (pareto.expected(summary, horizon), None, pareto.expected(summary, horizon)),
    }
    rows = []
    for name, (rank, p_any, expected) in methods.items():
        rows.append(
            {
                "method": name,
                "auc": roc_auc_score(bought, rank),
                "purchasers pred/real": (
                    "-" if p_any is None else f"{np.sum(p_any) / bought.sum():.3f}"
                ),
                "order days pred/real": f"{np.sum(expected) / truth.sum():.3f}",
            }
        )
    rows[0]["notes"] = (
        f"{len(history):,} customers, {int(bought.sum()):,} purchasers, "
        f"{int(truth.sum()):,} order days; train horizon {result.plan.train_horizon}, "
        f"{len(result.plan.cutoffs)} cutoffs; {seconds:.1f} s"
    )
    return rows


def quality(seed: int) -> None:
    print("## (a) quality vs BTYD\n")
    for name, splits in DATASETS.items():
        orders = clean_orders(load_dataset(name, seed)).orders
        for as_of, horizon in splits:
            table = pd.DataFrame(evaluate(orders, as_of, horizon, seed)).fillna("")
            print(f"### {name}: as-of {as_of}, horizon {horizon} days\n")
            print(table.to_markdown(index=False, floatfmt=".3f"))
            print(flush=True)


def cli_timing(n_orders: int, seed: int) -> None:
    from bench.ml_worlds import seasonal_cohorts

    print(f"## (b) `profile-assets score` on {n_orders:,} orders\n")
    with tempfile.TemporaryDirectory() as directory:
        # The generator hits its order count only on average: ask for a little more, then cut.
        orders = seasonal_cohorts(n_orders=int(n_orders * 1.1), seed=seed)
        orders = orders.iloc[
            np.sort(np.random.default_rng(seed).permutation(len(orders))[:n_orders])
        ]
        path, out = Path(directory) / "orders.csv", Path(directory) / "scores.parquet"
        orders.to_csv(path, index=False)
        as_of = (orders["order_date"].max() - pd.Timedelta(days=90)).date().isoformat()
        command = [
            sys.executable,
            "-m",
            "profile_assets.cli",
            "score",
            "--orders",
            str(path),
            "--as-of",
            as_of,
            "--horizon-days",
            "90",
            "--out",
            str(out),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        customers = len(pd.read_parquet(out))
        print("| orders | customers scored | wall s | CPU s | peak RSS GiB | load avg |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(
            f"| {len(orders):,} | {customers:,} | {wall:.1f} | {cpu:.1f} | "
            f"{after.ru_maxrss / 2**20:.2f} | {Path('/proc/loadavg').read_text().split()[0]} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli-orders", type=int, default=1_000_000)
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    if not args.skip_quality:
        quality(args.seed)
    if not args.skip_cli:
        cli_timing(args.cli_orders, args.seed)


if __name__ == "__main__":
    main()
