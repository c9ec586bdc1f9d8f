"""`resolve_file`: any CSV/Parquet of person records in, one row per record out."""

from __future__ import annotations

import pandas as pd
import pytest

from profile_assets.identity.resolve_file import InputError, resolve_file
from profile_assets_tests.identity_fixtures import synthetic_records


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    records, _ = synthetic_records(400, seed=21)
    return records


def _vendor_columns(records: pd.DataFrame) -> pd.DataFrame:
    """The same records under the headers a spreadsheet export would use."""
    return records.rename(
        columns={
            "record_id": "Record ID",
            "first_name": "First Name",
            "last_name": "Surname",
            "email": "E-mail",
            "date_of_birth": "Birth Date",
            "postcode": "ZIP",
        }
    )


def test_csv_round_trip_keeps_every_record_id_unchanged(people, tmp_path):
    records = _vendor_columns(people.drop(columns=["source"]))
    records["Record ID"] = "00" + records["Record ID"]  # leading zeros must survive
    source = tmp_path / "people.csv"
    records.to_csv(source, index=False)
    stages = []
    resolve_file(source, tmp_path / "out.csv", progress=lambda stage, done: stages.append(done))
    out = pd.read_csv(tmp_path / "out.csv", dtype={"record_id": str})
    assert out["record_id"].tolist() == records["Record ID"].tolist()
    assert list(out.columns) == ["record_id", "profile_id", "match_probability", "match_rule"]
    assert out["profile_id"].notna().all()
    assert out["match_probability"].between(0, 1).all()
    assert stages == sorted(stages) and stages[-1] == 1.0


def test_parquet_round_trip_links_duplicates_and_keeps_id_dtype(people, tmp_path):
    records = people.copy()
    records["record_id"] = range(len(records))
    source = tmp_path / "people.parquet"
    records.to_parquet(source)
    resolve_file(source, tmp_path / "out.parquet")
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["record_id"].tolist() == list(range(len(records)))
    assert out["source"].tolist() == records["source"].tolist()
    by_email = records.assign(profile=out["profile_id"]).dropna(subset=["email"])
    spread = by_email.groupby("email")["profile"].nunique()
    assert (spread == 1).mean() > 0.95  # the same mailbox is almost always one profile
    assert out["profile_id"].nunique() < len(records)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"email": ["a@x.com"], "name": ["A B"]}), "no `record_id` column"),
        (pd.DataFrame({"record_id": ["1", "1"], "email": ["a@x.com", "b@x.com"]}), "duplicate"),
        (pd.DataFrame({"record_id": ["1"], "colour": ["red"]}), "no person fields recognized"),
        (pd.DataFrame({"record_id": ["1", None], "email": ["a@x.com", "b@x.com"]}), "empty"),
    ],
)
def test_bad_input_gets_a_clear_error(frame, message, tmp_path):
    source = tmp_path / "bad.csv"
    frame.to_csv(source, index=False)
    with pytest.raises(InputError, match=message):
        resolve_file(source, tmp_path / "out.csv")


def test_unknown_file_type_is_refused(tmp_path):
    source = tmp_path / "people.xlsx"
    source.write_text("x")
    with pytest.raises(InputError, match=".csv or .parquet"):
        resolve_file(source, tmp_path / "out.csv")
