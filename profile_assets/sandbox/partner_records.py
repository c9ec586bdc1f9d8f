"""Partner and offline-store records: people as a loyalty partner or a till system keeps them.

Names, street address, postcode, city and date of birth; no email and no phone (a till never
asks, a partner may not share them). Typed by hand, so names and streets carry typos, birth
dates the odd slip (day and month swapped, one digit mistyped), and fields are left blank.
The identity engine must resolve these from names, address and birth date alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profile_assets.sandbox import dirt

SOURCES = ("partner", "offline_store")
FIELDS = ("first_name", "last_name", "address_line1", "postcode", "city", "date_of_birth")


def partner_records(
    people: pd.DataFrame, share: float = 0.3, seed: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records of a `share` of `people` (the world's people frame), one to three each over
    `SOURCES`. Returns (records with `source`, `record_id` and `FIELDS`; truth with `source`,
    `source_id`, `person_id`)."""
    rng = np.random.default_rng(seed)
    chosen = people[rng.random(len(people)) < share]
    rows = chosen.loc[chosen.index.repeat(rng.integers(1, 4, len(chosen)))].reset_index(drop=True)
    records = pd.DataFrame({f: dirt.objects(rows[f]) for f in FIELDS if f != "date_of_birth"})
    records["date_of_birth"] = dirt.objects(
        [_slipped(d, rng) for d in rows["date_of_birth"].dt.strftime("%Y-%m-%d")]
    )
    for column in ("first_name", "last_name", "address_line1", "city"):
        values = records[column].to_numpy()
        dirt.add_typos(rng, values, 0.08)
        dirt.blank(rng, values, 0.05)
        records[column] = values
    records.insert(0, "source", rng.choice(SOURCES, len(records)))
    records.insert(1, "record_id", [f"p{i:07d}" for i in range(len(records))])
    truth = pd.DataFrame({"source": records["source"], "source_id": records["record_id"],
                          "person_id": rows["person_id"].to_numpy()})  # fmt: skip
    return records, truth


def _slipped(dob: str, rng: np.random.Generator) -> str:
    """A birth date as typed: usually right, sometimes day/month swapped or a digit off."""
    roll = rng.random()
    if roll < 0.03 and int(dob[8:]) <= 12:
        return f"{dob[:4]}-{dob[8:]}-{dob[5:7]}"
    if roll < 0.06:
        return f"{dob[:9]}{(int(dob[9]) + 1) % 10}"
    return dob
