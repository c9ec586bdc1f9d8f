"""Optional ground truth to score identity resolution against (the sandbox's, in `sandbox`).

Ground truth is never an input to matching: only the asset's quality metadata reads it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource


class GroundTruth(ConfigurableResource):
    """Where true (source, source_id, person_id) triples are, if anywhere."""

    records_path: str | None = None

    def records(self) -> pd.DataFrame | None:
        path = Path(self.records_path) if self.records_path else None
        if path is None or not path.exists():
            return None
        return pd.read_parquet(path, columns=["source", "source_id", "person_id"])
