"""Issue 2's sandbox benchmark: world generation at 1M people, then CRM contacts paging.

    .venv/bin/python bench/sandbox.py [--people 1000000] [--paging-people 100000]

Runs the two focused benchmarks (`sandbox_world.py`, `sandbox_paging.py`) in fresh processes,
so each one's peak memory is its own; each prints its table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--paging-people", type=int, default=100_000)
    args = parser.parse_args()
    world = [sys.executable, str(HERE / "sandbox_world.py"), "--sizes", str(args.people)]
    paging = [sys.executable, str(HERE / "sandbox_paging.py"), "--people", str(args.paging_people)]
    subprocess.run(world, check=True)
    subprocess.run(paging, check=True)


if __name__ == "__main__":
    main()
