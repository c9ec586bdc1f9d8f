"""`profile-assets resolve` on the files a new user actually has: every shape resolves (or
fails with a clear message), never with a traceback."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from profile_assets.cli import main

#: Two people, the first typed twice with typos; no email and no phone.
PEOPLE = pd.DataFrame(
    {
        "record_id": ["a1", "a2", "b1"],
        "first_name": ["Zoë", "Zoe", "Marcus"],
        "last_name": ["Müller", "Muller", "Okafor"],
        "date_of_birth": ["1984-03-07", "1984-07-03", "1990-11-30"],
        "address_line1": ["12 Lindenweg", "12 Lindenweg", "4 Harbour Road"],
        "postcode": ["10115", "10115", "2000"],
        "city": ["Berlin", "Berlin", "Sydney"],
    }
)


def _resolve(path) -> pd.DataFrame:
    out = path.parent / "out.csv"
    result = CliRunner().invoke(main, ["resolve", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    return pd.read_csv(out, dtype={"record_id": str}).set_index("record_id")


def _same_person(resolved: pd.DataFrame) -> None:
    assert sorted(resolved.index) == ["a1", "a2", "b1"]
    assert resolved.loc["a1", "profile_id"] == resolved.loc["a2", "profile_id"]
    assert resolved.loc["b1", "profile_id"] != resolved.loc["a1", "profile_id"]


def test_resolve_without_email_links_typo_duplicates(tmp_path):
    PEOPLE.to_csv(tmp_path / "people.csv", index=False)
    _same_person(_resolve(tmp_path / "people.csv"))


def test_resolve_with_an_all_blank_email_column(tmp_path):
    PEOPLE.assign(email="", phone=None).to_csv(tmp_path / "people.csv", index=False)
    _same_person(_resolve(tmp_path / "people.csv"))


def test_resolve_names_only(tmp_path):
    PEOPLE[["record_id", "first_name", "last_name"]].to_csv(tmp_path / "p.csv", index=False)
    resolved = _resolve(tmp_path / "p.csv")
    assert sorted(resolved.index) == ["a1", "a2", "b1"]
    assert resolved["profile_id"].notna().all()


def test_resolve_phone_only_writes_every_record(tmp_path):
    phones = pd.DataFrame(
        {"record_id": ["p1", "p2", "p3"], "phone": ["+44 20 7946 0958", "020 7946 0958", None]}
    )
    phones.to_csv(tmp_path / "phones.csv", index=False)
    resolved = _resolve(tmp_path / "phones.csv")
    assert sorted(resolved.index) == ["p1", "p2", "p3"]
    assert resolved["match_probability"].between(0, 1).all()


def test_resolve_an_empty_file_writes_no_records(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    assert _resolve(tmp_path / "empty.csv").empty


def test_resolve_a_header_only_file_writes_no_records(tmp_path):
    (tmp_path / "header.csv").write_text("record_id,first_name,last_name\n")
    assert _resolve(tmp_path / "header.csv").empty


@pytest.mark.parametrize("encoding", ["latin_1", "cp1252", "utf-16"])
def test_resolve_reads_legacy_encodings(tmp_path, encoding):
    people = PEOPLE.assign(last_name=["Müller", "Muller", "O’Kafor" if encoding != "latin_1"
                                      else "Okafor"])  # fmt: skip
    (tmp_path / "people.csv").write_bytes(people.to_csv(index=False).encode(encoding))
    _same_person(_resolve(tmp_path / "people.csv"))


def test_resolve_sniffs_a_semicolon_file_with_a_bom(tmp_path):
    text = PEOPLE.to_csv(index=False, sep=";")
    (tmp_path / "people.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    _same_person(_resolve(tmp_path / "people.csv"))


def test_resolve_parquet_with_nested_bytes_categorical_and_tz_columns(tmp_path):
    table = pa.table(
        {
            "record_id": PEOPLE["record_id"],
            "first_name": pa.array([n.encode() for n in PEOPLE["first_name"]], pa.binary()),
            "last_name": pd.Categorical(PEOPLE["last_name"]),
            "date_of_birth": pd.to_datetime(PEOPLE["date_of_birth"]).dt.tz_localize("UTC"),
            "address_line1": PEOPLE["address_line1"],
            "postcode": PEOPLE["postcode"],
            "city": PEOPLE["city"],
            "tags": [["vip"], [], ["new", "x"]],
            "meta": [{"k": 1}, {"k": 2}, {"k": 3}],
        }
    )
    pq.write_table(table, tmp_path / "people.parquet")
    _same_person(_resolve(tmp_path / "people.parquet"))


def test_resolve_with_all_null_columns(tmp_path):
    PEOPLE.assign(email=None, phone=None, country=None).to_parquet(tmp_path / "p.parquet")
    _same_person(_resolve(tmp_path / "p.parquet"))


def test_resolve_a_single_record(tmp_path):
    PEOPLE.head(1).to_csv(tmp_path / "one.csv", index=False)
    resolved = _resolve(tmp_path / "one.csv")
    assert resolved.index.tolist() == ["a1"]
    assert resolved.loc["a1", "match_probability"] == 1.0


def test_resolve_survives_100k_character_fields(tmp_path):
    long = PEOPLE.assign(address_line1=["12 Lindenweg " + "x" * 100_000, "12 Lindenweg", "4 Rd"],
                         first_name=["Zoë", "Zoe", "M" * 100_000])  # fmt: skip
    long.to_csv(tmp_path / "long.csv", index=False)
    resolved = _resolve(tmp_path / "long.csv")
    assert sorted(resolved.index) == ["a1", "a2", "b1"]


def test_resolve_still_rejects_duplicate_ids_clearly(tmp_path):
    PEOPLE.assign(record_id=["a1", "a1", "b1"]).to_csv(tmp_path / "dup.csv", index=False)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["resolve", str(tmp_path / "dup.csv"), "--out", str(out)])
    assert result.exit_code != 0
    assert "duplicate record_id" in result.output
