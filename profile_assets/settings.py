"""Where the platform keeps its files and which environment it runs in.

Read lazily (functions, not module constants) so tests and the CLI can point
PROFILE_ASSETS_HOME somewhere else without re-importing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

WAREHOUSE_SCHEMAS = (
    "raw", "staging", "enrichment", "identity", "profiles", "ml", "serving", "ops"
)  # fmt: skip
ENVIRONMENTS = ("local", "sandbox", "snowflake")


def home() -> Path:
    """The platform's working directory: warehouse file, sandbox state, drops, Dagster home."""
    return Path(os.environ.get("PROFILE_ASSETS_HOME", ".profile_assets")).resolve()


def environment() -> str:
    """`local` (embedded DuckDB, the default), `sandbox` (DuckDB against the simulator) or
    `snowflake`; see `profile_assets/resources.py`."""
    env = os.environ.get("PROFILE_ASSETS_ENV", "local").strip().lower()
    if env not in ENVIRONMENTS:
        raise ValueError(f"PROFILE_ASSETS_ENV={env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return env


def warehouse_path() -> Path:
    return home() / "warehouse.duckdb"


def sandbox_dir() -> Path:
    return home() / "sandbox"


def sandbox_state_path() -> Path:
    """JSON written by `profile-assets sandbox up`: addresses and credentials of the sandbox."""
    return sandbox_dir() / "state.json"


def drop_dir() -> Path:
    return home() / "drop"


def sandbox_truth_records_path() -> Path:
    """The sandbox world's ground truth (source, source_id, person_id), for scoring only."""
    return sandbox_dir() / "ground_truth" / "truth_records.parquet"
